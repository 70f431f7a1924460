/**
 * Reads that can block behind another process's lock never run synchronously on the event loop. On a fake proc
 * root whose /proc/<pid>/cmdline or mountinfo is a FIFO (opening one for reading blocks until a writer comes: a
 * real blocking call in libuv's thread pool, as a cmdline read behind a stuck mmap lock or a mountinfo read behind
 * a stuck mount lock would be):
 * - the /proc scan ends within its budget, the event loop keeps turning, the process's command line is null with
 *   the reason recorded, and its pod reads unknown, not scaffolding;
 * - a PID whose read is still pending is not read again, nor is anything read once every lane is held; once the
 *   read returns the PID is read again;
 * - a container's root facts without `sync` end with a timeout, and the abandoned read closes its fd once it returns.
 * afterEach opens every FIFO for writing until no read is pending: no pool thread stays stuck.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeProcReport } from '../../agent/chaos/processes.js';
import { CmdlineReader } from '../../agent/proc/cmdline-reads.js';
import { collectPodFacts } from '../../agent/proc/facts.js';
import { readRootFacts } from '../../agent/proc/root-facts.js';
import { scanProc, type ProcScan } from '../../agent/proc/scan.js';
import { ctr, HEX, pod } from './fixtures.js';
import { ownFds } from '../helpers/procs.js';

const SB = HEX('c');
const MAIN = HEX('d');
/** The event loop may stall a little on a loaded 2-core machine; a synchronous read of a FIFO would stall it for ever. */
const LOOP_BOUND_MS = 200;

let root: string;
const fifos: string[] = [];

interface Fake {
  comm: string;
  ppid?: number;
  ns?: { pid: number; net: number; mnt: number };
  /** argv as a regular file, or 'fifo'. */
  cmdline?: string[] | 'fifo';
}

async function fakeProcess(pid: number, f: Fake): Promise<void> {
  const dir = join(root, String(pid));
  await mkdir(join(dir, 'ns'), { recursive: true });
  await writeFile(join(dir, 'stat'), `${pid} (${f.comm}) S ${f.ppid ?? 1} ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid} 0 0\n`);
  await writeFile(join(dir, 'cgroup'), '0::/\n');
  for (const [kind, inode] of Object.entries(f.ns ?? {})) await symlink(`${kind}:[${inode}]`, join(dir, 'ns', kind));
  if (f.cmdline === 'fifo') await mkfifo(join(dir, 'cmdline'));
  else if (f.cmdline) await writeFile(join(dir, 'cmdline'), f.cmdline.map((a) => `${a}\0`).join(''));
}

async function mkfifo(path: string): Promise<void> {
  await execa('mkfifo', [path], { timeout: 5000 });
  fifos.push(path);
}

/** Opens each FIFO for writing and closes it (a reader blocked in open() then reads EOF); ENXIO: nobody reading. */
function unblockFifos(): void {
  for (const path of fifos) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENXIO' && code !== 'ENOENT') throw err;
    }
  }
}

/** Polls `done` for 5 s at most; `unblock`: opens every FIFO for writing at each poll (a writer that comes and goes). */
async function until(done: () => boolean, what: string, unblock = false): Promise<void> {
  for (let t0 = Date.now(); !done(); ) {
    if (Date.now() - t0 > 5000) throw new Error(`${what}: not within 5 s`);
    if (unblock) unblockFifos();
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The longest event-loop stall while `run` runs, ms. */
async function loopStall<T>(run: () => Promise<T>): Promise<{ value: T; maxMs: number }> {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  try {
    const value = await run();
    return { value, maxMs: h.max / 1e6 };
  } finally {
    h.disable();
  }
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'cna-blocked-'));
  fifos.length = 0;
});

describe('command lines behind a lock that never comes back (a FIFO for /proc/<pid>/cmdline)', () => {
  let reader: CmdlineReader;
  // The pod `api`: its sandbox (pause) and container share net 610; tproxy -i entered them (its cmdline blocks); a
  // host toda is placed nowhere but still read.
  const api = () => [pod('api', SB, 200, [ctr('main', MAIN, 210, 'CONTAINER_EXITED')])];
  const scan = (extra: { previous?: ProcScan } = {}) =>
    scanProc({ procRoot: root, detailPids: [200, 210], cmdlineBudgetMs: 300, budgetMs: 10_000, cmdlines: reader, ...extra });

  beforeEach(async () => {
    reader = new CmdlineReader();
    await fakeProcess(200, { comm: 'pause', ns: { pid: 511, net: 610, mnt: 710 }, cmdline: ['/pause'] });
    await fakeProcess(210, { comm: 'api', ns: { pid: 510, net: 610, mnt: 711 }, cmdline: ['/api'] });
    await fakeProcess(314, { comm: 'tproxy', ns: { pid: 510, net: 610, mnt: 720 }, cmdline: 'fifo' });
    await fakeProcess(320, { comm: 'toda', ns: { pid: 1, net: 2, mnt: 3 }, cmdline: ['/usr/local/bin/toda', '--path', '/data'] });
  });

  afterEach(async () => {
    await until(() => reader.pending.size === 0, 'pending command-line reads returned', true);
    await rm(root, { recursive: true, force: true });
  });

  it('the scan ends within its budget without stalling the event loop; that cmdline is null with its reason, the pod unknown', async () => {
    const { value: s, maxMs } = await loopStall(() => scan());
    expect(maxMs).toBeLessThan(LOOP_BOUND_MS);
    expect([s.complete, s.seconds < 10]).toEqual([true, true]);
    expect(s.processes.get(314)).toMatchObject({ comm: 'tproxy', detailed: true, cmdline: null, ns: { net: 610 } });
    expect(s.cmdlineUnread.get(314)).toEqual({ reason: 'timeout', message: expect.stringMatching(/^its command line was not read within 300 ms/) });
    // The other command lines were read (a pod's pause, a chaos comm), and only the blocked one is unread.
    expect([s.processes.get(200)!.cmdline, s.processes.get(320)!.cmdline]).toEqual([['/pause'], ['/usr/local/bin/toda', '--path', '/data']]);
    expect(s.processes.get(210)!.cmdline).toBeNull(); // a pod PID with another comm: placement only, not wanted
    expect([...s.cmdlineUnread.keys()]).toEqual([314]);
    expect([s.cmdlineBlocked, [...reader.pending.keys()], reader.abandoned]).toEqual([1, [314], 1]);

    // tproxy is still placed on its pod by namespaces, but without its argv (-i or --proxy?) the pod's process
    // source is incomplete: the pod reads unknown, not the scaffolding an idle `tproxy -i` would be.
    const { facts } = await collectPodFacts(s, api(), { procRoot: root });
    const f = facts.get(SB)!;
    expect(f.processes.map((p) => [p.pid, p.role, p.cmdline])).toEqual([[314, 'tproxy', null]]);
    expect(f.sources.processes).toEqual({ complete: false, errors: [{ reason: 'timeout', message: expect.stringMatching(/^command line of tproxy \(pid 314\) unknown: its command line was not read within 300 ms/) }] });
    const clean = { verdict: 'clean' as const, kinds: [], findings: [], details: [] };
    expect(mergeProcReport(clean, f, api()[0]!).verdict).toBe('unknown');
    const known = { ...s, cmdlineUnread: new Map() };
    expect(mergeProcReport(clean, (await collectPodFacts(known, api(), { procRoot: root })).facts.get(SB)!, api()[0]!).verdict).toBe('scaffolding');
  });

  it('a PID whose read is pending is not read again; once the read returns, it is', async () => {
    const first = await scan();
    expect([...reader.pending.keys()]).toEqual([314]);
    const started = reader.started;
    expect(started).toBe(3); // 200, 314, 320

    // Next collection, nothing carried over: 200 and 320 are read again, 314 is not (its read still pending).
    const { value: second, maxMs } = await loopStall(() => scan());
    expect(maxMs).toBeLessThan(LOOP_BOUND_MS);
    expect(reader.started).toBe(started + 2);
    expect(second.cmdlineUnread.get(314)).toEqual({ reason: 'blocked', message: expect.stringMatching(/^an earlier read of its command line has not returned, pending for \d+ s: not read again until it does$/) });
    expect([second.cmdlineBlocked, reader.abandoned]).toEqual([1, 1]);
    // With the previous scan (serve's memo): the command lines read before are carried over, nothing is read.
    const third = await scan({ previous: first });
    expect(reader.started).toBe(started + 2);
    expect([third.processes.get(200)!.cmdline, third.processes.get(320)!.cmdline, third.cmdlineUnread.get(314)?.reason]).toEqual([['/pause'], ['/usr/local/bin/toda', '--path', '/data'], 'blocked']);

    // A writer comes and goes: the abandoned read returns (its data dropped), the PID may be read again.
    await until(() => reader.pending.size === 0, 'the abandoned read returned', true);
    await rm(join(root, '314', 'cmdline'));
    await writeFile(join(root, '314', 'cmdline'), 'tproxy\0-vv\0--proxy\0');
    const fourth = await scan({ previous: third });
    expect(reader.started).toBe(started + 3);
    expect([fourth.processes.get(314)!.cmdline, fourth.cmdlineUnread.size, fourth.cmdlineBlocked]).toEqual([['tproxy', '-vv', '--proxy'], 0, 0]);
  });

  it('a command line is carried over from the previous scan only for the same process (pid, start time, comm)', async () => {
    const first = await scan();
    const argvOf = async (stat: { comm: string; start: number }) => {
      await writeFile(join(root, '320', 'stat'), `320 (${stat.comm}) S 1 320 320 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${stat.start} 0 0\n`);
      return (await scan({ previous: first })).processes.get(320)!.cmdline;
    };
    await writeFile(join(root, '320', 'cmdline'), 'stress-ng\x00--cpu\x002\x00');
    // Same process: the argv read before, whatever the file says now (nothing read).
    expect(await argvOf({ comm: 'toda', start: 1320 })).toEqual(['/usr/local/bin/toda', '--path', '/data']);
    // An exec renamed it, or the pid was reused (a later start): read again.
    expect(await argvOf({ comm: 'stress-ng', start: 1320 })).toEqual(['stress-ng', '--cpu', '2']);
    expect(await argvOf({ comm: 'toda', start: 5000 })).toEqual(['stress-ng', '--cpu', '2']);
  });

  it('reads hold at most maxThreads pool threads: with every lane stuck, no read starts', async () => {
    await fakeProcess(315, { comm: 'memStress', cmdline: 'fifo' });
    const first = await scan();
    expect([...reader.pending.keys()].sort()).toEqual([314, 315]);
    expect([first.cmdlineUnread.get(314)?.reason, first.cmdlineUnread.get(315)?.reason]).toEqual(['timeout', 'timeout']);
    await fakeProcess(330, { comm: 'stress-ng', cmdline: ['stress-ng', '--cpu', '1'] });
    const started = reader.started;
    const second = await scan();
    expect(reader.started).toBe(started);
    expect(second.cmdlineUnread.get(330)).toEqual({ reason: 'blocked', message: '2 earlier command-line reads have not returned (blocked in the kernel?): no read started until one does' });
    expect(second.processes.get(330)!.cmdline).toBeNull();
    // Once one returns, a lane is free again.
    closeSync(openSync(join(root, '315', 'cmdline'), constants.O_WRONLY | constants.O_NONBLOCK));
    await until(() => !reader.pending.has(315), 'the read of 315 returned');
    await rm(join(root, '315', 'cmdline'));
    await writeFile(join(root, '315', 'cmdline'), 'memStress\0');
    const third = await scan();
    expect([third.processes.get(315)!.cmdline, third.processes.get(330)!.cmdline]).toEqual([['memStress'], ['stress-ng', '--cpu', '1']]);
    expect(third.cmdlineUnread.get(314)?.reason).toBe('blocked');
  });
});

describe('a container\'s mount table behind a stuck mount lock (root facts without sync)', () => {
  const PID = 4343;
  const job = () => ({ procRoot: root, pid: PID, container: { name: 'app', id: 'id-app' }, timeoutMs: 300, maxFileBytes: 65536, maxMountinfoBytes: 1 << 20, jvmPorts: [9277] });
  const fdsOn = (path: string): number => ownFds().filter((f) => f.target === path).length;

  afterEach(async () => {
    unblockFifos();
    await rm(root, { recursive: true, force: true });
  });

  it.each([['mountinfo', 'open'], ['mountinfo', 'read'], ['mountstats', 'read']])('a %s whose %s() blocks: timeout on mounts, dns and jvm within the budget, the loop never stalled, no fd left once it returns', async (file, blockedIn) => {
    const fifo = join(root, String(PID), file);
    await mkdir(join(root, String(PID)));
    await mkfifo(fifo);
    // A writer that stays (O_RDWR: opens at once) lets the read's open() return: its read() then blocks, fd open.
    const writer = blockedIn === 'read' ? openSync(fifo, constants.O_RDWR) : null;
    try {
      const { value: r, maxMs } = await loopStall(() => readRootFacts(job()));
      expect(maxMs).toBeLessThan(LOOP_BOUND_MS);
      const error = { reason: 'timeout', container: 'app', message: 'app: mount table not read within 300 ms (blocked in the kernel?), root not walked' };
      expect(r).toEqual({ mounts: [], incomplete: [{ source: 'mounts', error }, { source: 'dns', error }, { source: 'jvm', error }], dns: null, jvm: null });
      if (writer !== null) expect(fdsOn(fifo)).toBe(2); // the writer's and the abandoned read's
    } finally {
      if (writer !== null) closeSync(writer);
    }
    // Without a writer the abandoned read returns (EOF) and closes its fd itself.
    await until(() => fdsOn(fifo) === 0, 'the abandoned read closed its fd');
  });

  it('a mount table that reads normally is classified as before (no FUSE, nothing to walk into: dns and jvm read)', async () => {
    await mkdir(join(root, String(PID)));
    await writeFile(join(root, String(PID), 'mountinfo'), '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n');
    const r = await readRootFacts(job());
    expect(r.mounts).toEqual([]);
    expect(r.incomplete.some((e) => e.source === 'mounts')).toBe(false);
    // No root to walk in the fake tree: dns and jvm are unread for that reason, not for the mount table.
    expect(r.incomplete.map((e) => [e.source, e.error.reason])).toEqual([['dns', 'vanished'], ['jvm', 'vanished']]);
  });
});
