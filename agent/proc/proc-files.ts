/**
 * Pure parsers of the small per-process files of /proc: stat, cgroup, the ns/* links, cmdline, and /proc/stat's
 * btime. Total: a malformed file gives a ParseError (stat) or is skipped line by line (cgroup), never another throw.
 */
import { ParseError } from '../errors.js';

export interface StatFields {
  pid: number;
  comm: string;
  /** One letter: R, S, D, Z, T, t, X, I... */
  state: string;
  ppid: number;
  /** Field 22: start time in clock ticks after boot. */
  startTicks: number;
}

/** Whitespace as the kernel writes it between stat fields (and what `\s` matches among ASCII). */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * /proc/<pid>/stat: `pid (comm) state ppid ... starttime ...`. comm may hold spaces and parentheses (it is cut at
 * the LAST `)`), and is at most 15 bytes (TASK_COMM_LEN - 1).
 */
export function parseProcStat(text: string): StatFields {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ParseError('/proc/<pid>/stat', 1, text.slice(0, 80), 'no (comm) field');
  const pid = Number(text.slice(0, open).trim());
  // After `) `: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt(10) cminflt(11) majflt(12)
  // cmajflt(13) utime(14) stime(15) cutime(16) cstime(17) priority(18) nice(19) num_threads(20) itrealvalue(21)
  // starttime(22): the fields of index 0, 1 and 19 after the comm are cut out, the others only skipped (~580 files
  // per collection at 110 pods: no array of fields).
  let state = '';
  let ppidText: string | undefined;
  let startText: string | undefined;
  const len = text.length;
  let i = close + 1;
  for (let k = 0; k < 20; k++) {
    while (i < len && isSpace(text.charCodeAt(i))) i++;
    if (i >= len) break;
    const start = i;
    while (i < len && !isSpace(text.charCodeAt(i))) i++;
    if (k === 0) state = text.slice(start, i);
    else if (k === 1) ppidText = text.slice(start, i);
    else if (k === 19) startText = text.slice(start, i);
  }
  const ppid = Number(ppidText);
  const startTicks = Number(startText);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !Number.isSafeInteger(ppid) || ppid < 0 || state.length !== 1) {
    throw new ParseError('/proc/<pid>/stat', 1, text.slice(0, 80), 'bad pid, state or ppid');
  }
  if (!Number.isSafeInteger(startTicks) || startTicks < 0) {
    throw new ParseError('/proc/<pid>/stat', 1, text.slice(0, 80), 'bad starttime');
  }
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTicks };
}

/** What parseProcStatBytes parsed, in place (one record reused by every call: copy what you keep). */
export interface StatBytes {
  pid: number;
  ppid: number;
  startTicks: number;
  /** The state letter's char code. */
  state: number;
  /** comm is bytes [commStart, commEnd) of the buffer (ASCII). */
  commStart: number;
  commEnd: number;
}

/** A run of 1 to 15 ASCII digits in buf[a, b) as a number (exact: below 2^53), else -1. */
function digitsAt(buf: Uint8Array, a: number, b: number): number {
  if (b - a < 1 || b - a > 15) return -1;
  let v = 0;
  for (let i = a; i < b; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * parseProcStat on the file's first `n` bytes, without a string, for the form the kernel writes (ASCII,
 * `<pid> (<comm>) <state> <ppid> ... <starttime> ...`, numbers as plain digits): true with `out` set to exactly the
 * fields parseProcStat gives for the same text; false for anything else (a non-ASCII comm, a malformed file), which
 * the caller then decodes and hands to parseProcStat (the same fields, or the same ParseError). ~460 files per
 * collection at 110 pods: the text, the field strings and the result object were most of the scan's allocation.
 */
export function parseProcStatBytes(buf: Uint8Array, n: number, out: StatBytes): boolean {
  let open = -1;
  let close = -1;
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return false; // bytes are chars only in ASCII
    if (c === 40 /* ( */ && open < 0) open = i;
    else if (c === 41 /* ) */) close = i;
  }
  // `<digits> (`: what parseProcStat's Number(text.slice(0, open).trim()) reads as the same number.
  if (open < 2 || close < open || buf[open - 1] !== 32) return false;
  const pid = digitsAt(buf, 0, open - 1);
  if (pid <= 0) return false;
  let state = -1;
  let ppid = -1;
  let start = -1;
  let i = close + 1;
  for (let k = 0; k < 20; k++) {
    while (i < n && isSpace(buf[i]!)) i++;
    if (i >= n) return false;
    const from = i;
    while (i < n && !isSpace(buf[i]!)) i++;
    if (k === 0) {
      if (i - from !== 1) return false;
      state = buf[from]!;
    } else if (k === 1) {
      if ((ppid = digitsAt(buf, from, i)) < 0) return false;
    } else if (k === 19) {
      if ((start = digitsAt(buf, from, i)) < 0) return false;
    }
  }
  out.pid = pid;
  out.ppid = ppid;
  out.startTicks = start;
  out.state = state;
  out.commStart = open + 1;
  out.commEnd = close;
  return true;
}

/** True when the comm parseProcStatBytes found (ASCII) spells `comm`: a string already held serves, none is made. */
export function statCommIs(buf: Uint8Array, s: StatBytes, comm: string): boolean {
  if (comm.length !== s.commEnd - s.commStart) return false;
  for (let i = 0; i < comm.length; i++) if (comm.charCodeAt(i) !== buf[s.commStart + i]) return false;
  return true;
}

export interface CgroupLine {
  /** Hierarchy ID; 0 is the cgroup v2 (unified) hierarchy. */
  hierarchy: number;
  /** v1 controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`...); empty for v2. Shared, frozen. */
  controllers: readonly string[];
  /** The cgroup's path, relative to the reader's cgroup namespace root (may start with `/..`). */
  path: string;
}

/**
 * The controller lists seen, split once: a node has a handful (one per mounted v1 hierarchy, `` for v2), repeated
 * in every process's file. Bounded: past MAX_CONTROLLER_LISTS a list is split without being kept. The arrays are
 * shared between lines (frozen: a reader cannot change another line's).
 */
const controllerLists = new Map<string, readonly string[]>();
const MAX_CONTROLLER_LISTS = 256;
const NO_CONTROLLERS: readonly string[] = Object.freeze([]);

function controllersOf(list: string): readonly string[] {
  if (list === '') return NO_CONTROLLERS;
  let got = controllerLists.get(list);
  if (got === undefined) {
    got = Object.freeze(list.split(','));
    if (controllerLists.size < MAX_CONTROLLER_LISTS) controllerLists.set(list, got);
  }
  return got;
}

/**
 * /proc/<pid>/cgroup: `hierarchy-ID:controller-list:cgroup-path` per line (v1: one per hierarchy; v2: `0::/path`).
 * Walks the text by index (no array of lines: ~330 files per collection at 110 pods).
 */
export function parseCgroupFile(text: string): CgroupLine[] {
  const out: CgroupLine[] = [];
  const len = text.length;
  let start = 0;
  while (start < len) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = len;
    const a = text.indexOf(':', start);
    const b = a < 0 || a >= end ? -1 : text.indexOf(':', a + 1);
    // The path must start with `/` (and so be on this line).
    if (b >= 0 && b < end && text.charCodeAt(b + 1) === 47) {
      const hierarchy = Number(text.slice(start, a));
      if (Number.isSafeInteger(hierarchy) && hierarchy >= 0) {
        out.push({ hierarchy, controllers: controllersOf(text.slice(a + 1, b)), path: text.slice(b + 1, end) });
      }
    }
    start = end + 1;
  }
  return out;
}

/** `net:[4026532547]` (readlink of /proc/<pid>/ns/net) -> 4026532547; anything else -> null. */
export function parseNsLink(link: string, kind: string): number | null {
  // `<kind>:[<1 to 20 digits>]`, checked by index (~1,000 links per collection at 110 pods: no match arrays).
  const k = kind.length;
  const end = link.length - 1;
  if (end < k + 3 || end > k + 22 || !NS_KIND.test(kind) || !link.startsWith(kind)) return null;
  if (link.charCodeAt(k) !== 58 /* : */ || link.charCodeAt(k + 1) !== 91 /* [ */ || link.charCodeAt(end) !== 93 /* ] */) return null;
  for (let i = k + 2; i < end; i++) {
    const c = link.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  const n = Number(link.slice(k + 2, end));
  return Number.isSafeInteger(n) ? n : null;
}
const NS_KIND = /^[a-z_]+$/;

/**
 * /proc/<pid>/cmdline: NUL-separated argv. `truncated` when the read stopped at its cap: the last argument may then
 * be cut. A process that rewrote its argv area into one space-separated string keeps it as one argument.
 */
export function parseCmdline(buf: Buffer): string[] {
  if (buf.length === 0) return [];
  const text = buf.toString('utf8');
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** `btime <unix seconds>` of /proc/stat, or null. */
export function parseBootTime(text: string): number | null {
  const m = /^btime (\d{1,12})$/m.exec(text);
  return m ? Number(m[1]) : null;
}
