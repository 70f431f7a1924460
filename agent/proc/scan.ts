/**
 * ONE bounded scan of --proc-root per collection, shared by every pod and by bpm. Two tiers:
 * - every process: pid, ppid, comm, state, start time (/proc/<pid>/stat, one read; in serve one pread of the file
 *   kept open since the last scan, kept-files.ts);
 * - the processes that matter (`detailed`): the comms chaos-daemon starts or wraps, chaos-daemon itself and java
 *   get owner uid, pid/net/mnt namespace inodes, cgroup lines and the command line; the PIDs the caller names (the
 *   pods' sandbox and container PIDs, which place every other process) and any other process asked for later
 *   (`detailOf`, cached in the scan) get what placing needs: namespaces and cgroups, no uid, no command line.
 *   Reading every process's details costs 5 more syscalls each; reading /proc/<pid>/cmdline also takes the
 *   target's mmap lock, which a process stuck in uninterruptible sleep can hold: no reason to risk it for all.
 *
 * The command lines are NOT read in the walk: a blocked one would freeze the event loop. The walk lists the
 * processes whose command line is wanted, then cmdline-reads.ts reads them through the thread pool against one
 * deadline (`cmdlineBudgetMs`); one not read keeps `cmdline: null` and `cmdlineUnread` says why.
 *
 * Synchronous reads in batches with a yield to the event loop between batches (tiny /proc files: one readFile
 * through the thread pool each would cost far more than the read); a batch also ends when the event loop's turn has
 * used its slice (metrics/slicer.ts, shared with the other loops of the collection), since a process with details
 * costs ~6 reads and a batch of 256 could block the event loop for tens of ms. Bounded by a process count and a time budget;
 * past either the scan stops and says so (`complete: false`). Processes that exit during the walk are counted, not
 * errors. Safe to run in a worker thread (no shared state besides a per-thread scratch buffer).
 * Reading one process (its stat, its details): read-process.ts.
 */
import { readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { parseBootTime, type CgroupLine } from './proc-files.js';
import { isGoneError, readTextCapped } from './read-capped.js';
import { Slicer } from '../metrics/slicer.js';
import { agentCmdlineReader, readCmdlines, type CmdlineReader, type CmdlineUnread } from './cmdline-reads.js';
import type { KeptProcFiles } from './kept-files.js';
import { procDirBase, readDetail, readProcess, selfNamespaces } from './read-process.js';

export { selfNamespaces } from './read-process.js';

export interface NsInodes {
  pid: number | null;
  net: number | null;
  mnt: number | null;
}

export interface ProcProcess {
  pid: number;
  ppid: number;
  comm: string;
  state: string;
  startTicks: number;
  /** ns and cgroups were read, and for a chaos comm uid and cmdline too (otherwise null / empty: see `detailOf`). */
  detailed: boolean;
  /** Owner of /proc/<pid> (the effective uid of a dumpable process); null when unreadable or not read. */
  uid: number | null;
  ns: NsInodes;
  /** Parsed /proc/<pid>/cgroup (identical files share one array). */
  cgroups: readonly CgroupLine[];
  /** argv (capped); null when not read (not a chaos comm), unreadable, or not read in time (`cmdlineUnread`). */
  cmdline: string[] | null;
  cmdlineTruncated: boolean;
}

export interface ProcScan {
  procRoot: string;
  /** Date.now() when the scan started. */
  startedAt: number;
  seconds: number;
  /** /proc/stat btime (unix seconds); with startTicks gives a process's start time. */
  bootTime: number | null;
  processes: ReadonlyMap<number, ProcProcess>;
  /** Numeric entries listed in procRoot. */
  listed: number;
  /** Listed, then gone before their files were read. */
  vanished: number;
  /** Present but with a stat file that could not be parsed or read. */
  unreadable: number;
  /** False when the scan stopped at its process cap or time budget, or was aborted; `incomplete` says why. */
  complete: boolean;
  incomplete?: string;
  /** The agent's own namespaces (never identify a pod: host-network and host-PID pods share them). */
  self: NsInodes;
  /**
   * Processes whose command line was wanted but is unknown (null): read past the deadline, an earlier read still
   * blocked, an I/O error. Not for one that is not ours to read (EACCES) or exited (counted in `vanished`).
   */
  cmdlineUnread: ReadonlyMap<number, CmdlineUnread>;
  /** Command-line reads abandoned at a deadline and still blocked in the kernel when the scan ended (the reader's). */
  cmdlineBlocked: number;
}

export interface ScanOptions {
  procRoot: string;
  /** Processes read at most (default 65536); beyond, the scan is incomplete. */
  maxProcesses?: number;
  /** Wall-clock budget in ms (default 3000); beyond, the scan is incomplete. */
  budgetMs?: number;
  /** Bytes of a cmdline kept (default 4096). */
  maxCmdlineBytes?: number;
  /** Budget of the command-line reads (through the thread pool, after the walk), ms (default 1000, within budgetMs). */
  cmdlineBudgetMs?: number;
  /** Keeps the command-line reads left pending across scans (default: the agent's, agentCmdlineReader). */
  cmdlines?: CmdlineReader;
  /** Processes read at most between two yields to the event loop (default 256; a batch also ends with the turn's slice). */
  batch?: number;
  /** Which comms get their details read (default `wantsDetail`). */
  wantDetail?: (comm: string) => boolean;
  /** PIDs whose details are read whatever their comm (the pods' sandbox and container PIDs). */
  detailPids?: Iterable<number>;
  /**
   * The previous scan of the same procRoot: a `detailPids` process that it holds with the same start time and comm
   * keeps its details from there instead of 4-6 reads (reuseDetail); any other process with full details keeps its
   * command line from there (readProcess).
   */
  previous?: ProcScan | null;
  /** Stat and cgroup files kept open from one scan to the next (serve: ProcScanMemo); absent: read by path. */
  kept?: KeptProcFiles | null;
  signal?: AbortSignal;
}

/** The comms chaos-daemon starts or wraps, plus chaos-daemon itself and the JVM. */
const DETAIL_COMMS = new Set(['toda', 'tproxy', 'memStress', 'chaos-daemon', 'nsexec', 'pause', 'choom', 'java']);
export function wantsDetail(comm: string): boolean {
  return DETAIL_COMMS.has(comm) || comm.startsWith('stress-ng');
}

/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux architecture Kubernetes runs on. */
export const CLOCK_TICKS = 100;

/** A process's start time in ms since the epoch, as gopsutil's CreateTime (Chaos Mesh's status.startTime). */
export function startTimeMs(scan: Pick<ProcScan, 'bootTime'>, p: Pick<ProcProcess, 'startTicks'>): number | null {
  if (scan.bootTime === null) return null;
  return scan.bootTime * 1000 + Math.round((p.startTicks * 1000) / CLOCK_TICKS);
}

/** A process directory's name in /proc. */
const PID_NAME = /^[1-9]\d{0,9}$/;

const cgroupCaches = new WeakMap<ProcScan, Map<string, readonly CgroupLine[]>>();

/**
 * The process with its placement details (namespaces, cgroups), read now if the scan did not (cached in the scan:
 * the map's entry becomes the detailed object); null when it is not in the scan or exited since. Synchronous (4
 * small reads).
 */
export function detailOf(scan: ProcScan, pid: number): ProcProcess | null {
  const p = scan.processes.get(pid);
  if (!p) return null;
  if (p.detailed) return p;
  let cache = cgroupCaches.get(scan);
  if (!cache) cgroupCaches.set(scan, (cache = new Map()));
  const d = readDetail(procDirBase(scan.procRoot) + pid, false, cache);
  if (d === 'gone') return null;
  // A new object in the map, never a change to `p`: the next scan may hand out this scan's objects (readProcess).
  const q: ProcProcess = { pid: p.pid, ppid: p.ppid, comm: p.comm, state: p.state, startTicks: p.startTicks, detailed: true, uid: d.uid, ns: d.ns, cgroups: d.cgroups, cmdline: d.cmdline, cmdlineTruncated: d.cmdlineTruncated };
  (scan.processes as Map<number, ProcProcess>).set(pid, q);
  return q;
}

function bootTime(procRoot: string): number | null {
  try {
    return parseBootTime(readTextCapped(posix.join(procRoot, 'stat'), 60_000).text);
  } catch (err) {
    if (isGoneError(err)) return null;
    throw err;
  }
}

/**
 * Scan procRoot. Throws only when procRoot itself cannot be listed (a node-wide failure: the caller marks every
 * pod's process source unread); everything per process is counted in the result.
 */
export async function scanProc(opts: ScanOptions): Promise<ProcScan> {
  const started = Date.now();
  const t0 = performance.now();
  const maxProcesses = opts.maxProcesses ?? 65_536;
  const budgetMs = opts.budgetMs ?? 3000;
  const batch = opts.batch ?? 256;
  const maxCmdline = opts.maxCmdlineBytes ?? 4096;
  const cmdlineBudgetMs = opts.cmdlineBudgetMs ?? 1000;
  const cmdlines = opts.cmdlines ?? agentCmdlineReader;
  const wants: ProcProcess[] = [];
  const wantDetail = opts.wantDetail ?? wantsDetail;
  const detailPids = new Set(opts.detailPids ?? []);
  const base = procDirBase(opts.procRoot);
  const previous = opts.previous?.procRoot === opts.procRoot ? opts.previous : null;
  const pids: number[] = [];
  for (const n of readdirSync(opts.procRoot)) if (PID_NAME.test(n)) pids.push(Number(n));
  const kept = opts.kept ?? null;
  kept?.begin(opts.procRoot, base);
  const processes = new Map<number, ProcProcess>();
  const cgroupCache = new Map<string, readonly CgroupLine[]>();
  let vanished = 0;
  let unreadable = 0;
  let incomplete: string | undefined;
  const slicer = new Slicer();
  for (let i = 0; i < pids.length; i++) {
    if (i > 0 && (i % batch === 0 || slicer.due)) {
      await slicer.yieldNow();
      if (opts.signal?.aborted) {
        incomplete = 'aborted';
        break;
      }
      if (performance.now() - t0 > budgetMs) {
        incomplete = `time budget of ${budgetMs} ms reached after ${i} of ${pids.length} processes`;
        break;
      }
    }
    if (processes.size >= maxProcesses) {
      incomplete = `process cap of ${maxProcesses} reached (${pids.length} listed)`;
      break;
    }
    const r = readProcess(base, pids[i]!, wantDetail, detailPids, cgroupCache, previous, wants, kept);
    if (r === 'gone') vanished++;
    else if (r === 'unreadable') unreadable++;
    else processes.set(r.pid, r);
  }
  kept?.end(); // the files of processes not read in this walk (gone, unlisted, past a bound) are closed
  // Within what is left of the scan's budget: a scan never takes more than budgetMs (and a slice) for them.
  const cmdlineUnread = new Map<number, CmdlineUnread>();
  const gone: number[] = [];
  await readCmdlines(wants, base, maxCmdline, Math.min(cmdlineBudgetMs, budgetMs - (performance.now() - t0)), cmdlines, cmdlineUnread, gone);
  for (const pid of gone) if (processes.delete(pid)) vanished++;
  const scan: ProcScan = {
    procRoot: opts.procRoot,
    startedAt: started,
    seconds: 0,
    bootTime: bootTime(opts.procRoot),
    processes,
    listed: pids.length,
    vanished,
    unreadable,
    complete: incomplete === undefined,
    self: selfNamespaces(),
    cmdlineUnread,
    cmdlineBlocked: cmdlines.pending.size,
  };
  if (incomplete !== undefined) scan.incomplete = incomplete;
  scan.seconds = (performance.now() - t0) / 1000;
  cgroupCaches.set(scan, cgroupCache);
  return scan;
}

/** ppid -> child pids, for walks down the process tree. */
export function childrenIndex(scan: Pick<ProcScan, 'processes'>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const p of scan.processes.values()) {
    const list = out.get(p.ppid);
    if (list) list.push(p.pid);
    else out.set(p.ppid, [p.pid]);
  }
  return out;
}
