/**
 * One process of the /proc scan (scan.ts): its stat always, and its details (namespaces, cgroups, uid) when it is
 * wanted, or those of the previous scan's object when it is the same process (reuseDetail); the agent's own
 * namespaces (selfNamespaces). Synchronous reads, never the command line (cmdline-reads.ts, after the walk).
 */
import { readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { ParseError } from '../errors.js';
import { parseCgroupFile, parseNsLink, parseProcStat, parseProcStatBytes, statCommIs, type CgroupLine, type StatBytes } from './proc-files.js';
import { isGoneError, readSeqIntoScratch, readSeqTextCapped, scratchBuffer } from './read-capped.js';
import type { KeptProcFiles } from './kept-files.js';
import type { NsInodes, ProcProcess, ProcScan } from './scan.js';

const STAT_MAX = 4096;
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
export function readDetail(dir: string, uid: boolean, cgroupCache: Map<string, readonly CgroupLine[]>, kept: KeptProcFiles | null = null, pid = 0): Detail | 'gone' {
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
export function procDirBase(procRoot: string): string {
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
