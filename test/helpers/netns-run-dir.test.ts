import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { describeIntegration } from './env.js';
import { ensureNetnsRunDirMount, isMountPoint } from './netns-run-dir.js';

const MOUNTINFO = [
  '26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '517 26 0:4 net:[4026532789] /run/netns/cni-01aab237 rw - nsfs nsfs rw',
  '6482 26 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw',
].join('\n');

describe('isMountPoint', () => {
  it('matches the mount point field only', () => {
    expect(isMountPoint(MOUNTINFO, '/run/netns')).toBe(true);
    // A namespace file under it, and a bind of it elsewhere (its root field), do not make it one.
    expect(isMountPoint(`${MOUNTINFO.split('\n').slice(0, 2).join('\n')}\n700 26 254:0 /run/netns /mnt/x rw - ext4 /dev/vda rw`, '/run/netns')).toBe(false);
    expect(isMountPoint(MOUNTINFO, '/run')).toBe(false);
  });
});

describeIntegration('ensureNetnsRunDirMount', { root: true, commands: ['ip'] }, () => {
  it('leaves /run/netns a mount point, and concurrent calls do not stack bind mounts', async () => {
    const count = async (): Promise<number> =>
      (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === '/run/netns').length;
    await ensureNetnsRunDirMount();
    const before = await count();
    expect(before).toBeGreaterThanOrEqual(1);
    await Promise.all([ensureNetnsRunDirMount(), ensureNetnsRunDirMount(), ensureNetnsRunDirMount()]);
    expect(await count()).toBe(before);
  });
});
