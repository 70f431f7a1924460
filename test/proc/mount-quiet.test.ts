/**
 * QuietMounts (agent/proc/mount-quiet.ts), the thread's records, on a --proc-root of our own: `<root>/<pid>/ns/mnt`
 * is a plain symlink reading `mnt:[N]` (what the kernel's magic link reads), and the container's root is an O_PATH
 * fd of a real directory. A record is made only from a read that showed nothing in the marked namespace, and trusted
 * only under the same epoch, namespace, PID, proc root and root directory.
 */
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuietMounts } from '../../agent/proc/mount-quiet.js';
import type { RootJob } from '../../agent/proc/root-facts.js';

const O_PATH = 0o10000000;

describe('QuietMounts', () => {
  let procRoot: string;
  let rootA: number;
  let rootB: number;
  const job = (pid = 10, id = 'c1'): RootJob => ({ procRoot, pid, container: { name: 'app', id }, timeoutMs: 1000, maxFileBytes: 1, maxMountinfoBytes: 1, jvmPorts: [] });
  const setNs = (pid: number, ino: number): void => {
    const link = join(procRoot, String(pid), 'ns', 'mnt');
    rmSync(link, { force: true });
    symlinkSync(`mnt:[${ino}]`, link);
  };
  /** One collection's decision for `j` under `ticket`: skipped, or read (with `nothing` as its mountstats said). */
  const collect = (q: QuietMounts, j: RootJob, ticket: { epoch: number; ino: number } | null, rootFd: number | undefined, nothing = true): 'skipped' | 'read' => {
    q.begin(ticket);
    if (q.unchanged(j, rootFd)) return 'skipped';
    q.read(j, nothing);
    return 'read';
  };

  beforeAll(() => {
    procRoot = mkdtempSync(join(tmpdir(), 'cna-quiet-'));
    for (const pid of [10, 11]) mkdirSync(join(procRoot, String(pid), 'ns'), { recursive: true });
    mkdirSync(join(procRoot, 'rootA'));
    mkdirSync(join(procRoot, 'rootB'));
    rootA = openSync(join(procRoot, 'rootA'), O_PATH | constants.O_DIRECTORY);
    rootB = openSync(join(procRoot, 'rootB'), O_PATH | constants.O_DIRECTORY);
    setNs(10, 4026532001);
    setNs(11, 4026532001);
  });

  afterAll(() => {
    closeSync(rootA);
    closeSync(rootB);
    rmSync(procRoot, { recursive: true, force: true });
  });

  it('skips only under the ticket of the read that showed nothing', () => {
    const q = new QuietMounts();
    const t = { epoch: 3, ino: 4026532001 };
    expect(collect(q, job(), t, rootA)).toBe('read');
    expect(collect(q, job(), t, rootA)).toBe('skipped');
    expect(q.skipped).toBe(1);
    expect(collect(q, job(), { ...t, epoch: 4 }, rootA)).toBe('read'); // an event since
    expect(collect(q, job(), { ...t, epoch: 4 }, rootA)).toBe('skipped');
    expect(collect(q, job(), null, rootA)).toBe('read'); // no ticket: never skipped...
    expect(collect(q, job(), { ...t, epoch: 4 }, rootA)).toBe('read'); // ...and that read (no ticket) made no record
  });

  it('a table that showed something is read every time', () => {
    const q = new QuietMounts();
    const t = { epoch: 1, ino: 4026532001 };
    expect(collect(q, job(), t, rootA, false)).toBe('read');
    expect(collect(q, job(), t, rootA, false)).toBe('read');
    expect(collect(q, job(), t, rootA, true)).toBe('read');
    expect(collect(q, job(), t, rootA, true)).toBe('skipped');
  });

  it('another root, PID, proc root or namespace than the record\'s is read', () => {
    const q = new QuietMounts();
    const t = { epoch: 1, ino: 4026532001 };
    expect(collect(q, job(), t, rootA)).toBe('read');
    expect(collect(q, job(), t, rootB)).toBe('read'); // chroot: mountstats lists the mounts under the root, relative to it
    expect(collect(q, job(), t, rootB)).toBe('skipped');
    expect(collect(q, job(11), t, rootB)).toBe('read'); // same container, another process
    expect(collect(q, job(11), t, undefined)).toBe('read'); // the root could not be opened: nothing to compare
    expect(collect(q, job(11), t, rootB)).toBe('read'); // ...and that read made no record
    expect(collect(q, job(11), t, rootB)).toBe('skipped');
    expect(collect(q, { ...job(11), procRoot: `${procRoot}/` }, t, rootB)).toBe('read');
    setNs(11, 4026532002); // the process is in another namespace than the marked one: read, never recorded
    expect(collect(q, job(11), t, rootB)).toBe('read');
    expect(collect(q, job(11), t, rootB)).toBe('read');
    expect(collect(q, job(11), { epoch: 1, ino: 4026532002 }, rootB)).toBe('read'); // marked afresh
    expect(collect(q, job(11), { epoch: 1, ino: 4026532002 }, rootB)).toBe('skipped');
  });

  it('a namespace link that cannot be read, or does not read mnt:[N], gives no record', () => {
    const q = new QuietMounts();
    const t = { epoch: 1, ino: 4026532001 };
    setNs(10, 4026532001);
    const link = join(procRoot, '10', 'ns', 'mnt');
    unlinkSync(link);
    expect(collect(q, job(), t, rootA)).toBe('read');
    expect(collect(q, job(), t, rootA)).toBe('read');
    symlinkSync('net:[4026532001]', link);
    expect(collect(q, job(), t, rootA)).toBe('read');
    expect(collect(q, job(), t, rootA)).toBe('read');
    setNs(10, 4026532001);
  });

  it('retain drops the records of containers a request does not name', () => {
    const q = new QuietMounts();
    const t = { epoch: 1, ino: 4026532001 };
    collect(q, job(10, 'c1'), t, rootA);
    q.retain([job(10, 'c2')]);
    expect(collect(q, job(10, 'c1'), t, rootA)).toBe('read');
    q.retain([job(10, 'c1')]);
    expect(collect(q, job(10, 'c1'), t, rootA)).toBe('skipped');
  });
});
