/**
 * The openat2 shortcut of the synchronous root walks (beneath.ts, pod-root.ts): it may only ever say `absent` where
 * the component walk says null, and must leave every other path to the walk. On a plain tree (probeBeneath itself,
 * and the walk's lexical guards), then on real roots (busybox `sleep`s chrooted into trees with /etc and /usr as
 * relative and absolute symlinks, in mount namespaces of their own), where the synchronous flavour (the shortcut)
 * must give exactly what the thread-pool flavour (the walk alone) gives, also after files and mounts change between
 * two collections.
 */
import { closeSync, constants, existsSync, openSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libcLibrary } from '../../agent/netns/netlink/libc.js';
import { beneathCounts, probeBeneath } from '../../agent/proc/beneath.js';
import { readInRoot, statInRoot, type RootAccess } from '../../agent/proc/pod-root.js';
import { readRootFacts, type RootFacts, type RootJob } from '../../agent/proc/root-facts.js';
import { O_PATH } from '../../agent/proc/root-ops.js';
import { inNamespaces, killAndWait } from '../helpers/chaos-stand-ins.js';
import { describeIntegration } from '../helpers/env.js';
import { chrootSleeper, refusal } from '../helpers/pod-roots.js';

// As the root reader's threads do when they start (the probe never loads koffi itself: beneath.ts).
beforeAll(() => void libcLibrary());

describe('probeBeneath on a plain tree', () => {
  let dir: string;
  let fd: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-beneath-'));
    await mkdir(join(dir, 'real', 'etc'), { recursive: true });
    await writeFile(join(dir, 'real', 'etc', 'resolv.conf'), 'nameserver 10.96.0.10\n');
    await writeFile(join(dir, 'file'), 'x');
    await symlink('real/etc', join(dir, 'etc'));
    await symlink('/etc', join(dir, 'abs'));
    await symlink('nope', join(dir, 'dangling'));
    fd = openSync(dir, O_PATH | constants.O_DIRECTORY);
  });
  afterAll(async () => {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * probeBeneath after one ordinary lookup of the same names (RESOLVE_CACHED: a name never looked up is not in the
   * dentry cache, and the probe then leaves it to the walk, whose lookups cache it).
   */
  const probe = (rel: string): string => {
    void existsSync(join(dir, rel));
    return probeBeneath(fd, rel);
  };

  it('says absent only for what does not exist with no symlink on the way; everything else is walked', () => {
    const fds = readdirSync('/proc/self/fd').length;
    expect(probe('nope')).toBe('absent');
    expect(probe('real/nope/x')).toBe('absent');
    // Present (the walk opens it), a symlink on the way or at the end (the walk follows or refuses it), even when
    // what lies behind the symlink does not exist: a probe that followed or ignored symlinks would say absent here.
    expect(probe('real/etc/resolv.conf')).toBe('walk');
    expect(probe('real')).toBe('walk');
    expect(probe('etc/nope')).toBe('walk');
    expect(probe('abs/nope')).toBe('walk');
    expect(probe('dangling')).toBe('walk');
    expect(probe('dangling/x')).toBe('walk');
    expect(probe('../nope')).toBe('walk'); // never passed by the walk; still not an answer
    expect(readdirSync('/proc/self/fd').length).toBe(fds); // the fds of paths found are closed
  });

  it('the synchronous walk takes it only where no lexical guard applies', async () => {
    const access = (extra: Partial<RootAccess> = {}): RootAccess => ({ procRoot: '/proc', pid: process.pid, deadline: Date.now() + 5000, sync: true, ...extra });
    expect(await readInRoot(access(), `${dir}/real/etc/nope`, 4096)).toBeNull(); // walked once: now in the cache
    const before = { ...beneathCounts };
    expect(await readInRoot(access(), `${dir}/real/etc/nope`, 4096)).toBeNull();
    expect(beneathCounts.absent).toBe(before.absent + 1);
    // A mount that may block on the way, existing or not: refused before any look, as the walk always did.
    expect(await refusal(readInRoot(access({ blocking: [`${dir}/real`] }), `${dir}/real/etc/nope`, 4096))).toBe('unsafe-mount');
    expect(await refusal(readInRoot(access({ blocking: [`${dir}/gone`] }), `${dir}/gone/x`, 4096))).toBe('unsafe-mount');
    expect(await refusal(statInRoot(access({ blocking: ['/'] }), `${dir}/nope`))).toBe('unsafe-mount');
    // `..` is the walk's (lexical over its fds); a deadline already past is reported as before.
    expect(await refusal(readInRoot(access(), `/../nope`, 4096))).toBe('escape');
    expect(await refusal(readInRoot(access({ deadline: Date.now() - 1 }), `${dir}/real/etc/resolv.conf`, 4096))).toBe('timeout');
    expect(beneathCounts.absent).toBe(before.absent + 1);
    // Through symlinks: the walk's answers, not the probe's.
    expect((await readInRoot(access(), `${dir}/etc/resolv.conf`, 4096))?.podPath).toBe(`${dir}/real/etc/resolv.conf`);
    expect(await refusal(readInRoot(access(), `${dir}/abs/nope`, 4096))).toBe('absolute-symlink');
    expect(await readInRoot(access(), `${dir}/dangling`, 4096)).toBeNull();
    // A file used as a directory: null either way (ENOTDIR; or EAGAIN from the cache-only lookup, then walked).
    expect(await readInRoot(access(), `${dir}/file/x`, 4096)).toBeNull();
  });
});

describeIntegration('the shortcut on real roots, against the walk alone', { root: true, commands: ['busybox', 'unshare', 'nsenter', 'chroot', 'mount', 'umount'] }, () => {
  let base: string;
  const procs: ResultPromise[] = [];
  const pids = new Map<string, number>();

  const job = (name: string): RootJob => ({
    procRoot: '/proc', pid: pids.get(name)!, container: { name, id: `id-${name}` }, timeoutMs: 2000, maxFileBytes: 65536, maxMountinfoBytes: 1 << 20, jvmPorts: [9277],
  });
  const NAMES = ['plain', 'rel-etc', 'abs-etc', 'rel-usr', 'abs-usr'] as const;
  const root = (name: string): string => join(base, name);

  /** Every root read with the shortcut (synchronous) and without (thread pool): the same facts. */
  async function both(): Promise<Record<string, RootFacts>> {
    const out: Record<string, RootFacts> = {};
    for (const name of NAMES) {
      const sync = await readRootFacts(job(name), true);
      expect(sync).toEqual(await readRootFacts(job(name)));
      out[name] = sync;
    }
    return out;
  }

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'cna-beneath-roots-'));
    for (const name of NAMES) await mkdir(join(root(name), 'real', 'etc'), { recursive: true });
    await mkdir(join(root('plain'), 'etc'));
    await symlink('real/etc', join(root('rel-etc'), 'etc'));
    await symlink('/real/etc', join(root('abs-etc'), 'etc'));
    for (const name of ['rel-usr', 'abs-usr']) {
      await mkdir(join(root(name), 'etc'));
      await mkdir(join(root(name), 'opt', 'local', 'byteman', 'lib'), { recursive: true });
      await writeFile(join(root(name), 'opt', 'local', 'byteman', 'lib', 'byteman.jar'), 'jar');
    }
    await symlink('opt', join(root('rel-usr'), 'usr'));
    await symlink('/opt', join(root('abs-usr'), 'usr'));
    for (const name of NAMES) pids.set(name, await chrootSleeper(procs, root(name), true));
  });

  afterAll(async () => {
    for (const p of procs) if (p.pid !== undefined) await killAndWait(p.pid, 'SIGKILL').catch((err: unknown) => void err);
    await rm(base, { recursive: true, force: true });
  });

  it('symlinked /etc and /usr, relative and absolute: the same facts as the walk, before and after a backup appears', async () => {
    const first = await both();
    expect(first['plain']!.dns?.state).toBe('none');
    expect(first['rel-etc']!.dns?.state).toBe('none');
    expect(first['abs-etc']!.dns).toMatchObject({ state: 'unknown', error: { reason: 'absolute-symlink' } });
    expect(first['rel-usr']!.jvm).toMatchObject({ state: 'scaffolding', jars: ['byteman.jar'] });
    expect(first['abs-usr']!.jvm).toMatchObject({ state: 'unknown', error: { reason: 'absolute-symlink' } });
    // DNSChaos's backup made between two collections (through the symlink where there is one): seen at the next.
    for (const name of NAMES) {
      const etc = name === 'plain' || name.endsWith('usr') ? join(root(name), 'etc') : join(root(name), 'real', 'etc');
      await writeFile(join(etc, 'resolv.conf'), 'nameserver 10.0.0.99\n');
      await writeFile(join(etc, 'resolv.conf.chaos.bak'), 'nameserver 10.96.0.10\n');
    }
    const second = await both();
    for (const name of ['plain', 'rel-etc', 'rel-usr', 'abs-usr']) {
      expect(second[name]!.dns).toMatchObject({ state: 'active', nameservers: ['10.0.0.99'], backupNameservers: ['10.96.0.10'] });
    }
    expect(second['abs-etc']!.dns).toMatchObject({ state: 'unknown', error: { reason: 'absolute-symlink' } });
    await unlink(join(root('plain'), 'etc', 'resolv.conf.chaos.bak'));
    expect((await both())['plain']!.dns?.state).toBe('none');
  });

  it('takes the shortcut where the walk would find nothing', async () => {
    const before = { ...beneathCounts };
    const f = await readRootFacts(job('plain'), true);
    expect([f.dns?.state, f.jvm?.state]).toEqual(['none', 'none']);
    expect(beneathCounts.absent - before.absent).toBe(2); // the backup and the Byteman directory, one call each
  });

  it('a mount made between two collections is seen at the next: on the path (walked, refused) or anywhere (read)', async () => {
    const pid = pids.get('plain')!;
    const etc = join(root('plain'), 'etc');
    const fuse = openSync('/dev/fuse', 'r+');
    try {
      // Nobody serves the device: a step into it would block; the mount table says so and nothing is looked up.
      await inNamespaces(pid, ['m'], ['mount', '-i', '-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'silent', etc], { extraFd: fuse });
      const refused = await readRootFacts(job('plain'), true);
      expect(refused.dns).toMatchObject({ state: 'unknown', error: { reason: 'unsafe-mount' } });
      expect(refused.jvm?.state).toBe('none');
      expect(await readRootFacts(job('plain'))).toEqual(refused);
      await inNamespaces(pid, ['m'], ['umount', '-l', etc]);
    } finally {
      closeSync(fuse);
    }
    await inNamespaces(pid, ['m'], ['mount', '-t', 'tmpfs', 'vol', join(etc)]);
    await inNamespaces(pid, ['m'], ['mkdir', join(etc, '__chaosfs__data__')]);
    await inNamespaces(pid, ['m'], ['mount', '-t', 'tmpfs', 'vol', join(etc, '__chaosfs__data__')]);
    const moved = await readRootFacts(job('plain'), true);
    expect(moved.mounts).toEqual([{ container: 'plain', containerId: 'id-plain', volume: '/etc/data', fuse: null, movedTo: '/etc/__chaosfs__data__' }]);
    expect(moved.dns?.state).toBe('none'); // the tmpfs over /etc hides the files: the walk's answer too
    expect(await readRootFacts(job('plain'))).toEqual(moved);
    await inNamespaces(pid, ['m'], ['umount', join(etc, '__chaosfs__data__')]);
    await inNamespaces(pid, ['m'], ['umount', etc]);
  });
});
