/**
 * MountEvents (agent/proc/mount-events.ts) and QuietMounts (mount-quiet.ts) through the RootReader that uses them,
 * on real mount namespaces (`sleep` under `unshare --mount`) with a real fanotify group (Linux 6.15+): a mount table
 * that showed nothing is not read again while no mount event happened in it, and is read again (and the change
 * reported) after a mount, an unmount, a move to another process or namespace. The drain's rules (any byte is a
 * change, EAGAIN is quiet, a failing group gives no tickets) are checked on scripted calls.
 */
import { mkdir, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MountEvents, type FanotifyCalls } from '../../agent/proc/mount-events.js';
import type { RootJob } from '../../agent/proc/root-facts.js';
import { RootReader } from '../../agent/proc/root-reader.js';
import { inNamespaces, killAndWait } from '../helpers/chaos-stand-ins.js';
import { inOwnMountNamespace, untilInMountNamespace } from '../helpers/mounts.js';
import { describeIntegration } from '../helpers/env.js';

/** Whether this machine gives mount events (probed once: root, koffi, Linux 6.15+). */
function probe(): string | null {
  if (process.getuid?.() !== 0) return null; // describeIntegration says "needs root"
  const e = MountEvents.open();
  if (!(e instanceof MountEvents)) return e.unavailable;
  e.close();
  return null;
}

/** Scripted libc calls: each read answers the next entry (bytes, or an errno). */
function scripted(reads: (number | { errno: number })[], initFd = 7): { calls: FanotifyCalls; closed: number[]; marks: number[] } {
  let errno = 0;
  const closed: number[] = [];
  const marks: number[] = [];
  const calls: FanotifyCalls = {
    init: () => initFd,
    mark: (_fd, _flags, _mask, dirfd) => {
      marks.push(dirfd);
      return 0;
    },
    read: () => {
      const r = reads.shift() ?? { errno: 11 };
      if (typeof r === 'number') return r;
      errno = r.errno;
      return -1;
    },
    close: (fd) => {
      closed.push(fd);
      return 0;
    },
    errno: () => errno,
  };
  return { calls, closed, marks };
}

const selfJob = (): RootJob => ({ procRoot: '/proc', pid: process.pid, container: { name: 'self', id: 'id-self' }, timeoutMs: 1000, maxFileBytes: 65536, maxMountinfoBytes: 1 << 20, jvmPorts: [] });

describe('MountEvents drain (scripted calls)', () => {
  it('EAGAIN keeps the epoch, any byte moves it, EINTR is retried', () => {
    const { calls, marks } = scripted([{ errno: 11 }, 40, 80, { errno: 11 }, { errno: 4 }, { errno: 11 }]);
    const e = MountEvents.open(calls) as MountEvents;
    const first = e.tickets([selfJob()])[0];
    expect(first).toEqual({ epoch: 1, ino: expect.any(Number) });
    expect(marks).toHaveLength(1); // marked once...
    expect(e.tickets([selfJob()])[0]).toEqual({ epoch: 2, ino: first!.ino }); // two reads with bytes: changed
    expect(e.tickets([selfJob()])[0]).toEqual({ epoch: 2, ino: first!.ino }); // EINTR then EAGAIN: quiet
    expect(marks).toHaveLength(1); // ...and not again while its PID is asked for
  });

  it('a PID no request names is forgotten and marked again when it comes back', () => {
    const { calls, marks } = scripted([]);
    const e = MountEvents.open(calls) as MountEvents;
    e.tickets([selfJob()]);
    e.tickets([]);
    e.tickets([selfJob()]);
    expect(marks).toHaveLength(2);
  });

  it('a failing group is closed and gives no ticket from then on', () => {
    const { calls, closed } = scripted([{ errno: 9 }]);
    const e = MountEvents.open(calls) as MountEvents;
    expect(e.tickets([selfJob()])).toEqual([null]);
    expect(e.broken).toBe('fanotify read: EBADF');
    expect(closed).toEqual([7]);
    expect(e.tickets([selfJob()])).toEqual([null]);
  });

  it('a refused fanotify_init says why', () => {
    const { calls } = scripted([], -1);
    const e = MountEvents.open({ ...calls, errno: () => 22 });
    expect(e).toEqual({ unavailable: expect.stringContaining('EINVAL') });
  });

  it('a PID whose namespace cannot be opened gets no ticket', () => {
    const { calls, marks } = scripted([]);
    const e = MountEvents.open(calls) as MountEvents;
    expect(e.tickets([{ ...selfJob(), pid: 0x7ffffff0 }])).toEqual([null]);
    expect(marks).toHaveLength(0);
  });
});

describeIntegration('mount tables read again only after a mount event', { root: true, commands: ['unshare', 'nsenter', 'mount', 'umount', 'sleep'], unmet: probe() }, () => {
  let base: string;
  const procs: ResultPromise[] = [];
  let reader: RootReader;
  const job = (pid: number): RootJob => ({ procRoot: '/proc', pid, container: { name: 'app', id: 'id-app' }, timeoutMs: 1000, maxFileBytes: 65536, maxMountinfoBytes: 1 << 20, jvmPorts: [] });
  const moved = (): unknown => ({ container: 'app', containerId: 'id-app', volume: join(base, 'vol', 'data'), fuse: null, movedTo: join(base, 'vol', '__chaosfs__data__') });
  /** One collection's read of `pid`: its mounts, and whether its mount table was skipped. */
  const readOnce = async (pid: number): Promise<{ mounts: unknown[]; skipped: boolean }> => {
    const before = reader.quietMountTables;
    const [facts] = await reader.read([job(pid)]);
    return { mounts: facts!.mounts, skipped: reader.quietMountTables === before + 1 };
  };

  /**
   * Reads until a collection skips `pid`'s table, each read giving no mount; at most 3. The sleepers' namespaces are
   * copies of this host's, taken while other suites run: when one of them removes a directory it had mounted on at
   * that moment, the kernel detaches the copy in the sleeper's namespace too, an event this test did not make (seen
   * in CI). The reads that must NOT be skipped are asserted strictly.
   */
  const expectSkipped = async (pid: number): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      const r = await readOnce(pid);
      expect(r.mounts).toEqual([]);
      if (r.skipped) return;
    }
    throw new Error(`the mount table of ${pid} was read in 3 collections in a row, never skipped`);
  };

  /** A `sleep` in a private mount namespace of its own. */
  async function sleeper(): Promise<number> {
    const { proc, pid } = await inOwnMountNamespace(['sleep', '600'], 'sleep');
    procs.push(proc);
    return pid;
  }

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'cna-mntevents-'));
    await mkdir(join(base, 'vol', '__chaosfs__data__'), { recursive: true });
    await mkdir(join(base, 'host'));
  });

  // A reader (and fanotify group) per test: only that test's namespaces are marked.
  beforeEach(() => {
    reader = new RootReader({ mountEvents: MountEvents.open() as MountEvents });
  });

  afterEach(async () => {
    await reader.close();
  });

  afterAll(async () => {
    for (const p of procs) if (p.pid !== undefined) await killAndWait(p.pid, 'SIGKILL').catch((err: unknown) => void err);
    await rm(base, { recursive: true, force: true });
  });

  it('skips an unchanged table, and sees a mount and an unmount the next collection', async () => {
    const pid = await sleeper();
    expect(await readOnce(pid)).toEqual({ mounts: [], skipped: false }); // marked, read
    await expectSkipped(pid);
    await expectSkipped(pid);
    await inNamespaces(pid, ['m'], ['mount', '-t', 'tmpfs', 'vol', join(base, 'vol', '__chaosfs__data__')]);
    expect(await readOnce(pid)).toEqual({ mounts: [moved()], skipped: false });
    expect(await readOnce(pid)).toEqual({ mounts: [moved()], skipped: false }); // something shows: read every time
    await inNamespaces(pid, ['m'], ['umount', join(base, 'vol', '__chaosfs__data__')]);
    expect(await readOnce(pid)).toEqual({ mounts: [], skipped: false });
    await expectSkipped(pid);
  });

  it('mounts in a namespace not marked (the host\'s, not propagated) change nothing', async () => {
    const pid = await sleeper();
    await readOnce(pid);
    await expectSkipped(pid);
    let reread = 0;
    for (let i = 0; i < 10; i++) {
      await execa('mount', ['-t', 'tmpfs', 'cna-host', join(base, 'host')]);
      await execa('umount', [join(base, 'host')]);
      const r = await readOnce(pid);
      expect(r.mounts).toEqual([]);
      if (!r.skipped) reread++;
    }
    // Host mounts reaching the marked namespace would make all 10 reads re-reads; up to half are allowed for the
    // other suites' detached copies (expectSkipped: CI once saw 3 of 5 while the whole suite ran).
    expect(reread).toBeLessThanOrEqual(5);
  });

  it('the same container on another process or namespace is read again, and a dead namespace is an event', async () => {
    const a = await sleeper();
    const b = await sleeper();
    await readOnce(a);
    await expectSkipped(a);
    // The container's PID now names another process in another namespace, which already shows the moved volume.
    await inNamespaces(b, ['m'], ['mount', '-t', 'tmpfs', 'vol', join(base, 'vol', '__chaosfs__data__')]);
    expect(await readOnce(b)).toEqual({ mounts: [moved()], skipped: false });
    await inNamespaces(b, ['m'], ['umount', join(base, 'vol', '__chaosfs__data__')]);
    expect(await readOnce(b)).toEqual({ mounts: [], skipped: false });
    await expectSkipped(b);
    // `a` dies: its namespace is torn down (the mark did not pin it) and its mounts' detach events reach the group.
    await killAndWait(a, 'SIGKILL');
    expect(await readOnce(b)).toEqual({ mounts: [], skipped: false });
    await expectSkipped(b);
  });

  it('the same PID moved to another mount namespace (its old one kept alive, so no event) is read again', async () => {
    // sh holds the namespace `unshare` made, with a `sleep` beside it; on a line on stdin it execs into a namespace
    // of its own: same PID, same container, another mount table, and no mount event anywhere.
    const { proc, pid } = await inOwnMountNamespace(['sh', '-c', 'sleep 600 & read x; exec unshare --mount --propagation private sleep 600'], 'sh', { stdin: 'pipe' });
    procs.push(proc);
    const before = await readlink(`/proc/${pid}/ns/mnt`);
    await readOnce(pid);
    await expectSkipped(pid);
    proc.stdin!.write('\n');
    await untilInMountNamespace(pid, 'sleep', before);
    await inNamespaces(pid, ['m'], ['mount', '-t', 'tmpfs', 'vol', join(base, 'vol', '__chaosfs__data__')]);
    expect(await readOnce(pid)).toEqual({ mounts: [moved()], skipped: false });
  });

  it('without mount events every table is read', async () => {
    const pid = await sleeper();
    const plain = new RootReader();
    try {
      for (let i = 0; i < 3; i++) await plain.read([job(pid)]);
      expect(plain.quietMountTables).toBe(0);
    } finally {
      await plain.close();
    }
  });
});
