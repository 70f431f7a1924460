/**
 * The root reader's worker thread on real processes: chrooted busybox processes (their /proc/<pid>/root is a temp
 * tree holding a DNSChaos backup and Byteman jars), one in a mount namespace of its own whose /etc is a FUSE mount
 * with a server that never answers. Proves: the worker's synchronous reads give exactly what the main thread's
 * thread-pool reads give; a change between two reads is seen (the reads run every time; only an unchanged answer is elided); a container whose read
 * blocks in the kernel is reported unread (`timeout`, never clean) at its budget while every other container is
 * read, and the next read works on a fresh thread; facts equal to the last posted come back as the same objects and
 * a changed file gives new ones. All of it twice: on the reader's own thread, and on a netlink pool
 * thread lent for each read (as the exporter runs it: one isolate for both readers).
 */
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readRootFacts, type RootJob } from '../../agent/proc/root-facts.js';
import { NetlinkPool } from '../../agent/netns/netlink/pool.js';
import { RootReader } from '../../agent/proc/root-reader.js';
import { inNamespaces, killAndWait } from '../helpers/chaos-stand-ins.js';
import { describeIntegration } from '../helpers/env.js';
import { chrootSleeper } from '../helpers/pod-roots.js';
import { ownFds } from '../helpers/procs.js';

for (const lent of [false, true]) describeIntegration(`the root reader's worker thread (${lent ? 'lent by the netlink pool' : 'its own'})`, { root: true, commands: ['busybox', 'unshare', 'nsenter', 'chroot', 'mount'] }, () => {
  let base: string;
  const procs: ResultPromise[] = [];
  let fuse: number | null = null;
  let dnsPid: number;
  let plainPid: number;
  let stuckPid: number;
  const pool = new NetlinkPool({ size: 1, idleMs: 5000 });
  const reader = new RootReader({ pollMs: 20, graceMs: 200, ...(lent ? { lease: () => pool.lease() } : {}) });

  const sleeper = (root: string, ownMounts = false): Promise<number> => chrootSleeper(procs, root, ownMounts);

  /** This process's fds open on `dir` or below. */
  const fdsInto = (dir: string): string[] =>
    ownFds().filter((f) => f.target === dir || f.target.startsWith(`${dir}/`)).map((f) => `${f.fd} -> ${f.target}`);

  const job = (pid: number, name: string, extra: Partial<RootJob> = {}): RootJob => ({
    procRoot: '/proc', pid, container: { name, id: `id-${name}` }, timeoutMs: 1000, maxFileBytes: 65536, maxMountinfoBytes: 1 << 20, jvmPorts: [9277], ...extra,
  });

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'cna-rootreader-'));
    const dns = join(base, 'dns');
    await mkdir(join(dns, 'etc'), { recursive: true });
    await writeFile(join(dns, 'etc', 'resolv.conf'), 'nameserver 10.0.0.99\n');
    await writeFile(join(dns, 'etc', 'resolv.conf.chaos.bak'), 'nameserver 10.96.0.10\n');
    await mkdir(join(dns, 'usr', 'local', 'byteman', 'lib'), { recursive: true });
    for (const jar of ['byteman.jar', 'byteman-helper.jar', 'chaos-agent.jar']) await writeFile(join(dns, 'usr', 'local', 'byteman', 'lib', jar), 'jar');
    dnsPid = await sleeper(dns);
    plainPid = await sleeper(join(base, 'plain'));
    const stuck = join(base, 'stuck');
    await mkdir(join(stuck, 'etc'), { recursive: true });
    stuckPid = await sleeper(stuck, true);
    // A FUSE mount on the stuck tree's /etc, in that process's mount namespace only, whose server (this test, holding
    // /dev/fuse) never answers: any lookup under it blocks until the device is closed. -i: no /sbin/mount.fuse helper.
    fuse = openSync('/dev/fuse', 'r+');
    await inNamespaces(stuckPid, ['m'], ['mount', '-i', '-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'silent', join(stuck, 'etc')], { extraFd: fuse });
  });

  afterAll(async () => {
    if (fuse !== null) closeSync(fuse); // aborts the connection: the blocked lookup returns and its thread ends
    await reader.close();
    await pool.close();
    for (const p of procs) if (p.pid !== undefined) await killAndWait(p.pid, 'SIGKILL').catch((err: unknown) => void err);
    await rm(base, { recursive: true, force: true });
  });

  it('reads what the main thread reads, and sees a change made between two reads', async () => {
    const jobs = [job(dnsPid, 'dns'), job(plainPid, 'plain')];
    const inWorker = await reader.read(jobs);
    const inThread = await Promise.all(jobs.map((j) => readRootFacts(j)));
    expect(inWorker).toEqual(inThread);
    expect(inWorker[0]!.dns).toMatchObject({ state: 'active', nameservers: ['10.0.0.99'], backupNameservers: ['10.96.0.10'] });
    expect(inWorker[0]!.jvm).toMatchObject({ state: 'scaffolding', jars: ['byteman.jar', 'byteman-helper.jar', 'chaos-agent.jar'] });
    expect(inWorker[1]!).toMatchObject({ dns: { state: 'none' }, jvm: { state: 'none' }, incomplete: [] });
    // DNSChaos recovered the chaos-daemon way would keep the backup; removing it is the change a cache would miss.
    await unlink(join(base, 'dns', 'etc', 'resolv.conf.chaos.bak'));
    await unlink(join(base, 'dns', 'usr', 'local', 'byteman', 'lib', 'chaos-agent.jar'));
    const again = await reader.read(jobs);
    expect(again[0]!.dns).toMatchObject({ state: 'none', backupNameservers: null });
    expect(again[0]!.jvm).toMatchObject({ state: 'scaffolding', jars: ['byteman.jar', 'byteman-helper.jar'] });
    // Nothing changed since: every container is read again, and its facts, equal to the last ones posted, come back
    // as the very objects handed out last time (root-memo.ts)...
    const posted = reader.memo.posted;
    const same = await reader.read(jobs);
    expect(same[0]).toBe(again[0]);
    expect(same[1]).toBe(again[1]);
    expect(reader.memo.posted).toBe(posted);
    // ...until one byte of one file changes: that container's facts are new, the other's still reused.
    await writeFile(join(base, 'dns', 'etc', 'resolv.conf.chaos.bak'), 'nameserver 10.96.0.11\n');
    const changed = await reader.read(jobs);
    expect(changed[0]!.dns).toMatchObject({ state: 'active', backupNameservers: ['10.96.0.11'] });
    expect(changed[0]).not.toBe(same[0]);
    expect(changed[1]).toBe(same[1]);
    expect(reader.memo.posted).toBe(posted + 1);
    expect(changed).toEqual(await Promise.all(jobs.map((j) => readRootFacts(j))));
    await unlink(join(base, 'dns', 'etc', 'resolv.conf.chaos.bak')); // the next test expects it gone
    // One thread for every read: its own, or the pool's only thread lent each time.
    expect([reader.started, reader.lent, pool.started]).toEqual(lent ? [0, 4, 1] : [1, 0, 0]);
  });

  it('a container whose read blocks in the kernel is unread at its budget; the others are read; the next read works', async () => {
    // The mount guard keeps the FUSE mount (listed in that process's mount table) out of every walk...
    const guarded = await reader.read([job(stuckPid, 'stuck')]);
    expect(guarded[0]!.dns).toMatchObject({ state: 'unknown', error: { reason: 'unsafe-mount' } });
    // ...so the hang needs the guard off (as hostile.containerd.test.ts does for one walk): the lookup then blocks.
    const before = reader.abandoned;
    const t0 = performance.now();
    const r = await reader.read([job(plainPid, 'first'), job(stuckPid, 'stuck', { timeoutMs: 300, mountGuard: false }), job(dnsPid, 'last')]);
    const ms = performance.now() - t0;
    expect(r[1]!).toEqual({
      mounts: [], dns: null, jvm: null,
      incomplete: ['mounts', 'dns', 'jvm'].map((source) => ({ source, error: { reason: 'timeout', container: 'stuck', message: expect.stringMatching(/^stuck: no answer from the root reader within \d+ ms$/) } })),
    });
    expect(r[0]!.dns).toMatchObject({ state: 'none' });
    expect(r[2]!.dns).toMatchObject({ state: 'none' });
    expect(r[2]!.jvm).toMatchObject({ state: 'scaffolding' });
    expect(reader.abandoned).toBe(before + 1);
    expect(reader.blockedThreads).toBe(1);
    if (lent) expect(pool.replaced).toBe(1); // the lent thread, stuck, was the pool's
    expect(ms).toBeGreaterThanOrEqual(300);
    expect(ms).toBeLessThan(10_000);
    expect((await reader.read([job(plainPid, 'plain')]))[0]!).toMatchObject({ dns: { state: 'none' }, incomplete: [] });
    // While its abandoned thread is still blocked, the same container is reported unread at once, not read again:
    // no second thread stuck on it. Its budget is 5 s this time: an answer well inside it (a loaded machine may take
    // a second or two to start the fresh thread 'other' is read on) is one that did not wait on the stuck container.
    const abandoned = reader.abandoned;
    const t1 = performance.now();
    const again = await reader.read([job(stuckPid, 'stuck', { timeoutMs: 5000, mountGuard: false }), job(dnsPid, 'other')]);
    expect(performance.now() - t1).toBeLessThan(5000);
    expect(again[0]!.incomplete.map((i) => [i.source, i.error.reason])).toEqual([['mounts', 'timeout'], ['dns', 'timeout'], ['jvm', 'timeout']]);
    expect(again[0]!.incomplete[0]!.error.message).toMatch(/^stuck: its last read has been blocked in the kernel for \d+ s, not read again until it returns$/);
    expect(again[1]!.dns).toMatchObject({ state: 'none' });
    expect(reader.abandoned).toBe(abandoned);
    // The abandoned read holds the stuck root open (its O_PATH fd, the directory the lookup blocks in)...
    expect(fdsInto(join(base, 'stuck')).length).toBeGreaterThan(0);
    // The FUSE server goes away: the blocked call returns, its thread ends, and the container is read again.
    closeSync(fuse!);
    fuse = null;
    let last = again[0]!;
    for (const end = Date.now() + 20_000; Date.now() < end && /blocked in the kernel/.test(last.incomplete[0]?.error.message ?? ''); await new Promise((res) => setTimeout(res, 50))) {
      last = (await reader.read([job(stuckPid, 'stuck', { timeoutMs: 300, mountGuard: false })]))[0]!;
    }
    expect(last.incomplete[0]?.error.message ?? '').not.toMatch(/blocked in the kernel|no answer/);
    expect(reader.abandoned).toBe(abandoned);
    expect(reader.blockedThreads).toBe(0);
    // ...and those fds are closed when its thread ends, though termination skipped its `finally`: Node closes the fds
    // a worker opened with fs.open and did not close (the Worker option trackUnmanagedFds, true by default).
    expect(fdsInto(join(base, 'stuck'))).toEqual([]);
  });
});
