/**
 * The /proc scan on this machine's real /proc: fields of known processes, the two tiers, the bounds. Its cost with
 * thousands of processes is measured by scan-cost.optin.ts (not part of npm test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenIndex, detailOf, scanProc, selfNamespaces, startTimeMs, type ProcProcess } from '../../agent/proc/scan.js';

const NO_DETAIL_NS = { pid: null, net: null, mnt: null };
import { killAll, writeStub } from '../helpers/chaos-stand-ins.js';

const inode = (pid: number | 'self', kind: string): number => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${kind}`))![1]);

describe('scan of the real /proc', () => {
  let dir: string;
  let toda: ChildProcess;
  let sleeper: ChildProcess;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-scan-'));
    await writeStub(join(dir, 'toda'));
    toda = spawn(join(dir, 'toda'), ['--path', '/data', '--verbose', 'info'], { stdio: 'ignore' });
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    killAll([toda.pid!, sleeper.pid!]);
    await rm(dir, { recursive: true, force: true });
  });

  it('reads stat for every process, details for chaos names and the PIDs asked for', async () => {
    // A budget for a loaded CI machine (the 3 s default can cut a scan of a busy node there).
    const scan = await scanProc({ procRoot: '/proc', detailPids: [sleeper.pid!], budgetMs: 30_000 });
    expect(scan.complete).toBe(true);
    expect(scan.listed).toBeGreaterThanOrEqual(scan.processes.size);
    const t = scan.processes.get(toda.pid!)!;
    expect(t).toMatchObject({
      pid: toda.pid, ppid: process.pid, comm: 'toda', state: 'S', detailed: true, uid: 0,
      cmdline: [join(dir, 'toda'), '--path', '/data', '--verbose', 'info'], cmdlineTruncated: false,
      ns: { pid: inode(toda.pid!, 'pid'), net: inode(toda.pid!, 'net'), mnt: inode(toda.pid!, 'mnt') },
    });
    expect(t.cgroups.map((l) => `${l.hierarchy}:${l.controllers.join(',')}:${l.path}`).join('\n') + '\n').toBe(readFileSync(`/proc/${toda.pid}/cgroup`, 'utf8'));
    // Start time: btime + starttime ticks, within a second of now.
    expect(Math.abs(startTimeMs(scan, t)! - Date.now())).toBeLessThan(60_000);
    // A PID asked for (a pod's): what placing it needs, namespaces and cgroups; not its uid or command line.
    expect(scan.processes.get(sleeper.pid!)).toMatchObject({ comm: 'sleep', detailed: true, uid: null, cmdline: null, ns: { net: inode(sleeper.pid!, 'net'), mnt: inode(sleeper.pid!, 'mnt') } });
    expect(scan.processes.get(sleeper.pid!)!.cgroups.length).toBeGreaterThan(0);
    // Our own process (node) is not a chaos name: stat only, details on demand, cached.
    const me = scan.processes.get(process.pid)!;
    expect(me).toMatchObject({ detailed: false, cmdline: null, cgroups: [] });
    expect(detailOf(scan, process.pid)).toMatchObject({ detailed: true, ns: { net: inode('self', 'net') }, cmdline: null });
    expect(scan.processes.get(process.pid)!.detailed).toBe(true);
    expect(detailOf(scan, 4194303)).toBeNull();
    expect(childrenIndex(scan).get(process.pid)).toEqual(expect.arrayContaining([toda.pid, sleeper.pid]));
    expect(scan.self).toEqual(selfNamespaces());
  });

  it('takes a pod process\'s details from the previous scan only when it is the same process (pid, start time, comm)', async () => {
    const opts = { procRoot: '/proc', detailPids: [sleeper.pid!, toda.pid!], budgetMs: 30_000 };
    const first = await scanProc(opts);
    const second = await scanProc({ ...opts, previous: first });
    // Same values as a fresh read, and the very objects of the previous scan: nothing was read again.
    for (const pid of [sleeper.pid!, toda.pid!]) {
      const [a, b] = [first.processes.get(pid)!, second.processes.get(pid)!];
      expect(b).toEqual(a);
      expect([b.ns, b.cgroups]).toEqual([a.ns, a.cgroups]);
      expect(b.ns).toBe(a.ns);
      expect(b.cgroups).toBe(a.cgroups);
    }
    expect(second.processes.get(toda.pid!)).toMatchObject({ uid: 0, cmdline: [join(dir, 'toda'), '--path', '/data', '--verbose', 'info'] });

    // A doctored previous scan shows which entries are taken: marked namespaces come through only for the same
    // process, a pod's, with what its level needs.
    const MARK = { pid: 1, net: 2, mnt: 3 };
    const doctored = (pid: number, change: Partial<ProcProcess>) => ({ ...first, processes: new Map([[pid, { ...first.processes.get(pid)!, ns: MARK, ...change }]]) });
    const nsAfter = async (pid: number, change: Partial<ProcProcess>, detailPids = opts.detailPids) =>
      (await scanProc({ ...opts, detailPids, previous: doctored(pid, change) })).processes.get(pid)!.ns;
    const real = (pid: number) => ({ pid: inode(pid, 'pid'), net: inode(pid, 'net'), mnt: inode(pid, 'mnt') });
    expect(await nsAfter(sleeper.pid!, {})).toEqual(MARK);
    expect(await nsAfter(sleeper.pid!, { startTicks: first.processes.get(sleeper.pid!)!.startTicks - 1 })).toEqual(real(sleeper.pid!));
    expect(await nsAfter(sleeper.pid!, { comm: 'sh' })).toEqual(real(sleeper.pid!));
    expect(await nsAfter(sleeper.pid!, { detailed: false })).toEqual(real(sleeper.pid!));
    expect(await nsAfter(sleeper.pid!, {}, [])).toEqual(NO_DETAIL_NS);
    // A chaos comm: taken for a pod's PID with its command line read before, never for a process that is not a pod's.
    expect(await nsAfter(toda.pid!, {})).toEqual(MARK);
    expect(await nsAfter(toda.pid!, { cmdline: null })).toEqual(real(toda.pid!));
    expect(await nsAfter(toda.pid!, {}, [sleeper.pid!])).toEqual(real(toda.pid!));
    // Another proc root's scan is never used.
    const other = (await scanProc({ ...opts, previous: { ...doctored(sleeper.pid!, {}), procRoot: '/proc/' } })).processes.get(sleeper.pid!)!;
    expect(other.ns).toEqual(real(sleeper.pid!));
  });

  it('hands out the previous scan\'s object for a process whose every field is unchanged, a new one otherwise', async () => {
    const idle = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const pid = idle.pid!;
      const opts = { procRoot: '/proc', detailPids: [sleeper.pid!], budgetMs: 30_000 };
      const first = await scanProc(opts);
      const second = await scanProc({ ...opts, previous: first });
      // Stat only (not a pod's, not a chaos comm), and a pod's PID with its placement details: the same objects.
      expect(second.processes.get(pid)).toBe(first.processes.get(pid));
      expect(second.processes.get(sleeper.pid!)).toBe(first.processes.get(sleeper.pid!));
      expect(second.processes.get(pid)).toMatchObject({ pid, comm: 'sleep', state: 'S', ppid: process.pid, detailed: false });
      // One field differs in the previous scan (a reused pid, an exec, a new parent, a state): a new object with
      // what /proc says now.
      const real = first.processes.get(pid)!;
      for (const change of [{ startTicks: real.startTicks - 1 }, { comm: 'sleeq' }, { ppid: 1 }, { state: 'R' }, { pid: pid + 1 }]) {
        const doctored = { ...first, processes: new Map([[pid, { ...real, ...change }]]) };
        const got = (await scanProc({ ...opts, previous: doctored })).processes.get(pid)!;
        expect(got).not.toBe(doctored.processes.get(pid));
        expect(got).toEqual(real);
      }
      // detailOf never changes an object a scan handed out: the map gets a new, detailed one; a process whose
      // details were read is then not reused by a scan that does not want them.
      const detailed = detailOf(second, pid)!;
      expect(detailed).not.toBe(real);
      expect([real.detailed, detailed.detailed, second.processes.get(pid)]).toEqual([false, true, detailed]);
      const third = (await scanProc({ ...opts, previous: second })).processes.get(pid)!;
      expect(third).not.toBe(detailed);
      expect(third).toEqual(real);
    } finally {
      killAll([idle.pid!]);
    }
  });

  it('caps argv, and stops at its process cap or time budget saying why', async () => {
    const capped = await scanProc({ procRoot: '/proc', maxCmdlineBytes: 12 });
    expect(capped.processes.get(toda.pid!)).toMatchObject({ cmdline: [join(dir, 'toda').slice(0, 12)], cmdlineTruncated: true });
    const few = await scanProc({ procRoot: '/proc', maxProcesses: 5 });
    expect([few.processes.size, few.complete]).toEqual([5, false]);
    expect(few.incomplete).toMatch(/^process cap of 5 reached/);
    const slow = await scanProc({ procRoot: '/proc', budgetMs: 0, batch: 1 });
    expect(slow.complete).toBe(false);
    expect(slow.incomplete).toMatch(/^time budget of 0 ms reached/);
    const aborted = await scanProc({ procRoot: '/proc', batch: 1, signal: AbortSignal.abort() });
    expect(aborted.incomplete).toBe('aborted');
  });

  it('yields to the event loop every few ms whatever the batch size', async () => {
    // Every process read in detail (~6 reads each), one batch for all of them: only the time slice can yield.
    let turns = 0;
    let stop = false;
    const spin = (): void => {
      turns++;
      if (!stop) setImmediate(spin);
    };
    setImmediate(spin);
    const t0 = performance.now();
    const scan = await scanProc({ procRoot: '/proc', batch: 1_000_000, wantDetail: () => true, budgetMs: 30_000 });
    const ms = performance.now() - t0;
    stop = true;
    expect(scan.complete).toBe(true);
    expect(scan.processes.size).toBeGreaterThan(20);
    // A scan of more than two 4 ms slices gave the loop turns in between (a single batch gives it none).
    if (ms > 12) expect(turns).toBeGreaterThanOrEqual(2);
    else expect(turns).toBeGreaterThanOrEqual(0);
  });

  it('fails only when the proc root itself cannot be listed', async () => {
    await expect(scanProc({ procRoot: join(dir, 'nope') })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
