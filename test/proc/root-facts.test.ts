/**
 * readRootFacts reads a container's mountstats first and its mountinfo only when mountstats shows a FUSE or network
 * filesystem or a __chaosfs__ mount point. On a real mount namespace of its own (a `sleep` under `unshare --mount`,
 * holding a copy of the host's table), proves: the kernel lists the same mounts in both files, with the same mount
 * points (escapes included) and fstypes (a FUSE subtype included); a moved volume (__chaosfs__) and a FUSE mount are
 * seen through mountstats and reported from mountinfo; both files are read again on every call (a mount made or
 * removed between two reads changes the result).
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mountstatsMayMatter, parseMountinfo, unescapeMountPath } from '../../agent/proc/mountinfo.js';
import { readRootFacts, type RootJob } from '../../agent/proc/root-facts.js';
import { inNamespaces, killAndWait } from '../helpers/chaos-stand-ins.js';
import { inOwnMountNamespace } from '../helpers/mounts.js';
import { describeIntegration } from '../helpers/env.js';

/** [mount point, fstype] of each `device X mounted on Y with fstype Z` line (stats lines, indented, skipped). */
function mountstatsPairs(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    const m = /^(?:device \S+|no device) mounted on (\S+) with fstype (\S+)/.exec(line);
    if (m) out.push([unescapeMountPath(m[1]!), m[2]!]);
  }
  return out;
}

describeIntegration('a container\'s mount table, mountstats first', { root: true, commands: ['unshare', 'nsenter', 'mount', 'umount', 'sleep'] }, () => {
  let base: string;
  let proc: ResultPromise | null = null;
  let pid: number;
  let fuse: number | null = null;
  const job = (): RootJob => ({ procRoot: '/proc', pid, container: { name: 'app', id: 'id-app' }, timeoutMs: 1000, maxFileBytes: 65536, maxMountinfoBytes: 1 << 20, jvmPorts: [9277] });
  const files = (): { info: string; stats: string } => ({ info: readFileSync(`/proc/${pid}/mountinfo`, 'utf8'), stats: readFileSync(`/proc/${pid}/mountstats`, 'utf8') });

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'cna-rootfacts-'));
    await mkdir(join(base, 'a b'));
    await mkdir(join(base, 'vol', '__chaosfs__data__'), { recursive: true });
    await mkdir(join(base, 'fuse'));
    ({ proc, pid } = await inOwnMountNamespace(['sleep', '600'], 'sleep'));
    await inNamespaces(pid, ['m'], ['mount', '-t', 'tmpfs', 'cna-space', join(base, 'a b')]);
  });

  afterAll(async () => {
    if (fuse !== null) closeSync(fuse);
    if (proc?.pid !== undefined) await killAndWait(proc.pid, 'SIGKILL').catch((err: unknown) => void err);
    await rm(base, { recursive: true, force: true });
  });

  it('the kernel lists the same mounts in both files, with the same mount points and fstypes', () => {
    const { info, stats } = files();
    const fromInfo = parseMountinfo(info).mounts.map((m) => [m.mountPoint, m.fstype]);
    expect(fromInfo.length).toBeGreaterThan(3);
    expect(mountstatsPairs(stats)).toEqual(fromInfo);
    expect(fromInfo).toContainEqual([join(base, 'a b'), 'tmpfs']); // `\040` in both files
  });

  it('a moved volume is seen, reported, and gone once unmounted (both files read on every call)', async () => {
    expect((await readRootFacts(job(), true)).mounts).toEqual([]);
    expect(mountstatsMayMatter(files().stats)).toBe(false);
    await inNamespaces(pid, ['m'], ['mount', '-t', 'tmpfs', 'vol', join(base, 'vol', '__chaosfs__data__')]);
    expect(mountstatsMayMatter(files().stats)).toBe(true);
    const moved = await readRootFacts(job(), true);
    expect(moved.mounts).toEqual([{ container: 'app', containerId: 'id-app', volume: join(base, 'vol', 'data'), fuse: null, movedTo: join(base, 'vol', '__chaosfs__data__') }]);
    expect(await readRootFacts(job())).toEqual(moved); // the thread-pool flavour reads the same
    await inNamespaces(pid, ['m'], ['umount', join(base, 'vol', '__chaosfs__data__')]);
    expect((await readRootFacts(job(), true)).mounts).toEqual([]);
  });

  it('a toda FUSE mount with a subtype is seen in mountstats and reported from mountinfo', async () => {
    fuse = openSync('/dev/fuse', 'r+');
    // -i: no /sbin/mount.fuse helper; nobody serves the device (nothing here looks inside the mount).
    await inNamespaces(pid, ['m'], ['mount', '-i', '-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0,subtype=cna', 'toda', join(base, 'fuse')], { extraFd: fuse });
    const { info, stats } = files();
    expect(mountstatsPairs(stats)).toContainEqual([join(base, 'fuse'), 'fuse.cna']);
    expect(mountstatsPairs(stats)).toEqual(parseMountinfo(info).mounts.map((m) => [m.mountPoint, m.fstype]));
    expect(mountstatsMayMatter(stats)).toBe(true);
    expect((await readRootFacts(job(), true)).mounts).toEqual([
      { container: 'app', containerId: 'id-app', volume: join(base, 'fuse'), fuse: { mountId: expect.any(Number), fstype: 'fuse.cna', source: 'toda' }, movedTo: null },
    ]);
  });
});
