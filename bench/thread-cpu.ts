/**
 * CPU of each thread of another process (bench/profile.ts --threads): on-CPU time from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds, exact, unlike stat's 10 ms ticks) and the file reads it made (syscr and rchar of .../io), sampled
 * before and after each collection. Node names none of its threads (every comm is "node"), so a thread is labelled
 * by what it does, from its reads over the whole run (`labelThreads`):
 * - `main`: tid == pid (the event loop);
 * - `root-reader`: the worker thread with the most read(2) calls that was born after the agent started (it reads
 *   220 mount tables and the files inside the roots each collection);
 * - `born-late`: the other threads started after the first sample: netlink reader threads (their recvmsg calls are
 *   not in syscr) and libuv pool threads (started at the first thread-pool call);
 * - `startup`: threads that existed before the first collection: V8's platform workers (background GC, compiler)
 *   and Node's own.
 * Pure parsing (`parseSchedstat`, `parseIo`) is separate from the file reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { AgentError, errorMessage } from '../agent/errors.js';

export interface ThreadSample {
  cpuNs: number;
  syscr: number;
  rchar: number;
}

/** First field of schedstat: time spent on the CPU, ns. */
export function parseSchedstat(text: string): number {
  const v = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(v)) throw new AgentError('BENCH_PROC', `unexpected schedstat: ${JSON.stringify(text.slice(0, 80))}`);
  return v;
}

/** syscr and rchar of an io file. */
export function parseIo(text: string): { syscr: number; rchar: number } {
  const get = (k: string): number => {
    const m = new RegExp(`^${k}:\\s*(\\d+)$`, 'm').exec(text);
    if (!m) throw new AgentError('BENCH_PROC', `no ${k} in io file`);
    return Number(m[1]);
  };
  return { syscr: get('syscr'), rchar: get('rchar') };
}

/** Every live thread of `pid`; a thread that ends between the listing and its reads is left out. */
export function sampleThreads(pid: number): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    throw new AgentError('BENCH_PROC', `threads of ${pid}: ${errorMessage(err)}`, { cause: err });
  }
  for (const t of tids) {
    try {
      const cpuNs = parseSchedstat(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8'));
      out.set(Number(t), { cpuNs, ...parseIo(readFileSync(`/proc/${pid}/task/${t}/io`, 'utf8')) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return out;
}

/** Per-thread deltas of one collection (a thread born during it counts from 0). */
export function threadDeltas(before: Map<number, ThreadSample>, after: Map<number, ThreadSample>): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { cpuNs: 0, syscr: 0, rchar: 0 };
    out.set(tid, { cpuNs: a.cpuNs - b.cpuNs, syscr: a.syscr - b.syscr, rchar: a.rchar - b.rchar });
  }
  return out;
}

/** Label of each thread seen (see the module comment); `early`: tids alive before the first collection. */
export function labelThreads(pid: number, early: ReadonlySet<number>, totals: Map<number, ThreadSample>): Map<number, string> {
  const labels = new Map<number, string>();
  let reader: number | null = null;
  for (const [tid, s] of totals) {
    if (tid === pid || early.has(tid)) continue;
    if (reader === null || s.syscr > totals.get(reader)!.syscr) reader = tid;
  }
  for (const tid of totals.keys()) {
    labels.set(tid, tid === pid ? 'main' : tid === reader ? 'root-reader' : early.has(tid) ? 'startup' : 'born-late');
  }
  return labels;
}
