/**
 * chaos_daemon_bpm_controlled_processes and chaos_daemon_bpm_processes{command}: processes descended from a
 * process whose comm is `chaos-daemon` (Chaos Mesh's background process manager starts toda, tproxy,
 * stress-ng, memStress...). Found by scanning --proc-root; a collector of its own, timed.
 * Pure parts (parseProcStat, countDescendants) are separate from the /proc walk (scanProcesses).
 */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Registry } from 'prom-client';
import { ParseError } from '../errors.js';
import { CACHED, gauge } from './families.js';

export const BPM_ROOT_COMM = 'chaos-daemon';

export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
}

export interface BpmScan {
  /** PIDs of the chaos-daemon processes found. */
  roots: number[];
  /** Descendants of any root (a root below another root counts once, as a descendant). */
  descendants: ProcEntry[];
  /** Descendant count per comm. */
  byCommand: Map<string, number>;
  /** /proc entries read. */
  scanned: number;
}

/** Parse /proc/<pid>/stat: `pid (comm) state ppid ...`; comm may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcEntry {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ParseError('/proc/<pid>/stat', 1, text.slice(0, 80), 'no (comm) field');
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const ppid = Number(rest[1]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(ppid) || ppid < 0) {
    throw new ParseError('/proc/<pid>/stat', 1, text.slice(0, 80), 'bad pid or ppid');
  }
  return { pid, ppid, comm: text.slice(open + 1, close) };
}

export function countDescendants(procs: readonly ProcEntry[], rootComm: string = BPM_ROOT_COMM): BpmScan {
  const children = new Map<number, ProcEntry[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const roots = procs.filter((p) => p.comm === rootComm).map((p) => p.pid).sort((a, b) => a - b);
  const seen = new Set<number>();
  const descendants: ProcEntry[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    for (const child of children.get(pid) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      descendants.push(child);
      stack.push(child.pid);
    }
  }
  const byCommand = new Map<string, number>();
  for (const d of descendants) byCommand.set(d.comm, (byCommand.get(d.comm) ?? 0) + 1);
  return { roots, descendants, byCommand, scanned: procs.length };
}

/**
 * Read every /proc/<pid>/stat under procRoot. Reads are synchronous in batches with a yield to the event loop
 * between batches (default 64 files, ~1 ms each batch): on this machine that is ~40x cheaper than one async
 * readFile per file, whose thread-pool round trips dominate for tiny /proc files. Stops when `signal` aborts.
 * Processes that exit during the walk are skipped (counted in `vanished`); a malformed stat file is skipped too
 * (counted in `unreadable`).
 */
export async function scanProcesses(procRoot: string, opts: { signal?: AbortSignal; batch?: number } = {}): Promise<{ procs: ProcEntry[]; unreadable: number; vanished: number }> {
  const names = (await readdir(procRoot)).filter((n) => /^[1-9]\d{0,9}$/.test(n));
  const batch = opts.batch ?? 64;
  const procs: ProcEntry[] = [];
  let unreadable = 0;
  let vanished = 0;
  for (let i = 0; i < names.length; i += batch) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    opts.signal?.throwIfAborted();
    for (const n of names.slice(i, i + batch)) {
      let text: string;
      try {
        text = readFileSync(posix.join(procRoot, n, 'stat'), 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ESRCH') throw err;
        vanished += 1; // the process exited between readdir and read
        continue;
      }
      try {
        procs.push(parseProcStat(text));
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        unreadable += 1;
      }
    }
  }
  return { procs, unreadable, vanished };
}

export async function scanBpm(procRoot: string, signal?: AbortSignal): Promise<BpmScan> {
  const { procs } = await scanProcesses(procRoot, signal ? { signal } : {});
  return countDescendants(procs);
}

/** With a failed scan (null) nothing is registered: a 0 would look like "no processes". */
export function registerBpmMetrics(registry: Registry, scan: BpmScan | null): void {
  if (scan === null) return;
  const total = gauge(registry, 'chaos_daemon_bpm_controlled_processes',
    `Processes descended from a process named chaos-daemon (its background process manager's children), found by scanning /proc ${CACHED}`, []);
  const byCommand = gauge(registry, 'chaos_daemon_bpm_processes',
    `Processes descended from a process named chaos-daemon, by command name (comm) ${CACHED}`, ['command']);
  total.set(scan.descendants.length);
  for (const [command, n] of [...scan.byCommand].sort()) byCommand.set({ command }, n);
}
