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
 * through the thread pool each would cost far more than the read); a batch also ends after SLICE_MS, since a
 * process with details costs ~6 reads and a batch of 256 could block the event loop for tens of ms. Bounded by a process count and a time budget;
 * past either the scan stops and says so (`complete: false`). Processes that exit during the walk are counted, not
 * errors. Safe to run in a worker thread (no shared state besides a per-thread scratch buffer).
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { ParseError } from '../errors.js';
import { parseBootTime, parseCgroupFile, parseNsLink, parseProcStat, parseProcStatBytes, statCommIs, type CgroupLine, type StatBytes } from './proc-files.js';
import { isGoneError, readSeqIntoScratch, readSeqTextCapped, readTextCapped, scratchBuffer } from './read-capped.js';
import { DEFAULT_SLICE_MS } from '../metrics/slicer.js';
import { agentCmdlineReader, readCmdlines, type CmdlineReader, type CmdlineUnread } from './cmdline-reads.js';
import type { KeptProcFiles } from './kept-files.js';

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
  /** Processes read at most between two yields to the event loop (default 256; a batch also ends after SLICE_MS). */
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

const STAT_MAX = 4096;
/** A process directory's name in /proc. */
const PID_NAME = /^[1-9]\d{0,9}$/;
/** The namespaces of a process whose details were not read (shared: never mutated, replaced by detailOf). */
const NO_NS: NsInodes = Object.freeze({ pid: null, net: null, mnt: null });
const CGROUP_MAX = 16 * 1024;
/** The cgroups of a process whose details were not read (shared: never mutated, replaced by detailOf). */
const NO_CGROUPS: readonly CgroupLine[] = Object.freeze([]);
/** parseProcStatBytes' record (one per thread: readProcess copies what it keeps before the next read). */
const statBytes: StatBytes = { pid: 0, ppid: 0, startTicks: 0, state: 0, commStart: 0, commEnd: 0 };

function nsOf(dir: string, kind: keyof NsInodes): number | null {
  try {
    return parseNsLink(readlinkSync(`${dir}/ns/${kind}`), kind);
  } catch (err) {
    if (isGoneError(err) || (err as NodeJS.ErrnoException).code === 'EACCES' || (err as NodeJS.ErrnoException).code === 'EPERM') return null;
    throw err;
  }
}

/** The agent's own namespaces, from the real /proc/self (not --proc-root). */
export function selfNamespaces(): NsInodes {
  return { pid: nsOf('/proc/self', 'pid'), net: nsOf('/proc/self', 'net'), mnt: nsOf('/proc/self', 'mnt') };
}

type ReadOutcome = ProcProcess | 'gone' | 'unreadable';

interface Detail {
  uid: number | null;
  ns: NsInodes;
  cgroups: readonly CgroupLine[];
  cmdline: string[] | null;
  cmdlineTruncated: boolean;
}

/** What is read beyond stat: `placement` (namespaces, cgroups) or `full` (also uid, and cmdline after the walk). */
type DetailLevel = 'none' | 'placement' | 'full';

/**
 * Namespaces and cgroups of one process, and its uid when `uid`; 'gone' when it exited. Identical cgroup files
 * share one array; the cgroup file through `kept` when given (a scan's, pid being `dir`'s). Never the command line
 * (readCmdlines, after the walk): none of these reads takes the target's mmap lock.
 */
function readDetail(dir: string, uid: boolean, cgroupCache: Map<string, readonly CgroupLine[]>, kept: KeptProcFiles | null = null, pid = 0): Detail | 'gone' {
  const d: Detail = { uid: null, ns: NO_NS, cgroups: [], cmdline: null, cmdlineTruncated: false };
  try {
    if (uid) d.uid = statSync(dir).uid;
    const text = (kept !== null ? kept.cgroup(pid, CGROUP_MAX) : readSeqTextCapped(`${dir}/cgroup`, CGROUP_MAX)).text;
    const cached = cgroupCache.get(text);
    if (cached) d.cgroups = cached;
    else cgroupCache.set(text, (d.cgroups = parseCgroupFile(text)));
  } catch (err) {
    if (isGoneError(err)) return 'gone';
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
  }
  d.ns = { pid: nsOf(dir, 'pid'), net: nsOf(dir, 'net'), mnt: nsOf(dir, 'mnt') };
  return d;
}

/** procRoot normalised, with one trailing slash: `base + pid` is the process directory (no posix.join per process). */
function procDirBase(procRoot: string): string {
  const base = posix.normalize(procRoot);
  return base.endsWith('/') ? base : `${base}/`;
}

/**
 * The details a pod's process had in the previous scan, when it is the same process: same pid and start time (a
 * reused pid starts later) and same comm (an exec renames it). A pod's sandbox and container processes get their
 * namespaces and cgroups from the runtime before they exec (runc joins them, then execs the entrypoint), and keep
 * them, their uid and their command line for life: at 110 pods those 330 PIDs cost ~1,500 reads per collection
 * otherwise (the 110 sandboxes are `pause`, a chaos comm: full details). Only for `detailPids`: a chaos process
 * that is not a pod's (chaos-daemon's `pause` execs its command and is moved between cgroups) is read afresh,
 * except its command line (readProcess): argv changes with an exec, which renames the process (pause -> stress-ng,
 * nsexec -> toda, ip -> tproxy); it is read through the thread pool (cmdline-reads.ts: 2-3 round trips, 50-150 µs
 * more CPU per process than a synchronous read on this 2-core machine), so only for a process not seen before. `full` needs a previous full read (its cmdline was read).
 */
export function reuseDetail(previous: ProcScan | null | undefined, pid: number, startTicks: number, comm: string, level: 'placement' | 'full'): ProcProcess | null {
  const p = previous?.processes.get(pid);
  if (p === undefined || !p.detailed || p.startTicks !== startTicks || p.comm !== comm) return null;
  return level === 'placement' || p.cmdline !== null ? p : null;
}

/**
 * One process: stat always; full details for a comm `wantDetail` names, placement details for one of `podPids`,
 * none otherwise. `base` is procRoot with one trailing slash (procDirBase); stat and cgroup through `kept` if given.
 * Every process object is built with the same shape (one hidden class). A full one keeps the command line `previous` read for the same process (pid,
 * start time, comm: see reuseDetail), else is pushed on `wants` with `cmdline: null` (read after the walk).
 *
 * An unchanged process is the previous scan's object itself: when the object this function would build holds
 * exactly the values of the previous scan's one for the pid (every stat field, and the same details by reuseDetail's
 * rules, or none for both), that one is returned, so a steady node's scan allocates next to nothing. Safe because
 * a ProcProcess is never changed once its scan has returned (detailOf replaces the map's entry instead), and
 * because the comparison covers every field: a reused pid starts later, an exec renames, a state or parent change
 * differs, a process whose details were read in the previous scan but are not wanted now is built anew.
 */
export function readProcess(
  base: string,
  pid: number,
  wantDetail: (comm: string) => boolean,
  podPids: ReadonlySet<number>,
  cgroupCache: Map<string, readonly CgroupLine[]>,
  previous: ProcScan | null | undefined,
  wants: ProcProcess[],
  kept: KeptProcFiles | null = null,
): ReadOutcome {
  const dir = base + pid;
  let n: number;
  try {
    n = kept !== null ? kept.stat(pid, STAT_MAX) : readSeqIntoScratch(`${dir}/stat`, STAT_MAX);
  } catch (err) {
    if (isGoneError(err)) return 'gone';
    if ((err as NodeJS.ErrnoException).code === 'EACCES') return 'unreadable';
    throw err;
  }
  const before = previous?.processes.get(pid);
  let statPid: number;
  let ppid: number;
  let comm: string;
  let state: string;
  let startTicks: number;
  const buf = scratchBuffer();
  const s = statBytes;
  if (n <= STAT_MAX && parseProcStatBytes(buf, n, s)) {
    ({ pid: statPid, ppid, startTicks } = s);
    comm = before !== undefined && statCommIs(buf, s, before.comm) ? before.comm : buf.toString('latin1', s.commStart, s.commEnd);
    state = before !== undefined && before.state.length === 1 && before.state.charCodeAt(0) === s.state ? before.state : String.fromCharCode(s.state);
  } else {
    // Not the kernel's plain form: the text parser decides (the same fields, or its ParseError).
    try {
      ({ pid: statPid, ppid, comm, state, startTicks } = parseProcStat(buf.toString('utf8', 0, Math.min(n, STAT_MAX))));
    } catch (err) {
      if (err instanceof ParseError) return 'unreadable';
      throw err;
    }
  }
  const same = before !== undefined && before.pid === statPid && before.ppid === ppid && before.comm === comm && before.state === state && before.startTicks === startTicks;
  const level: DetailLevel = wantDetail(comm) ? 'full' : podPids.has(pid) ? 'placement' : 'none';
  if (level === 'none') {
    if (same && !before.detailed) return before;
    return { pid: statPid, ppid, comm, state, startTicks, detailed: false, uid: null, ns: NO_NS, cgroups: NO_CGROUPS, cmdline: null, cmdlineTruncated: false };
  }
  if (podPids.has(pid)) {
    const prior = reuseDetail(previous, pid, startTicks, comm, level);
    if (prior !== null) {
      const full = level === 'full';
      // What would be built below equals `prior` (reuseDetail returned it for this very pid, so prior === before).
      if (same && (full || (prior.uid === null && prior.cmdline === null && !prior.cmdlineTruncated))) return prior;
      return { pid: statPid, ppid, comm, state, startTicks, detailed: true, uid: full ? prior.uid : null, ns: prior.ns, cgroups: prior.cgroups, cmdline: full ? prior.cmdline : null, cmdlineTruncated: full && prior.cmdlineTruncated };
    }
  }
  const d = readDetail(dir, level === 'full', cgroupCache, kept, pid);
  if (d === 'gone') return 'gone';
  const p: ProcProcess = { pid: statPid, ppid, comm, state, startTicks, detailed: true, uid: d.uid, ns: d.ns, cgroups: d.cgroups, cmdline: d.cmdline, cmdlineTruncated: d.cmdlineTruncated };
  if (level === 'full') {
    if (before !== undefined && before.cmdline !== null && before.startTicks === startTicks && before.comm === comm) {
      p.cmdline = before.cmdline;
      p.cmdlineTruncated = before.cmdlineTruncated;
    } else wants.push(p);
  }
  return p;
}

/** Synchronous reading allowed between two yields to the event loop, ms. */
const SLICE_MS = DEFAULT_SLICE_MS;

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
  let sliceStart = performance.now();
  for (let i = 0; i < pids.length; i++) {
    if (i > 0 && (i % batch === 0 || performance.now() - sliceStart >= SLICE_MS)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
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
