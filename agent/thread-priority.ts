/**
 * Lower scheduling priority for the agent's worker threads (netlink readers, root reader), so that on a busy core
 * the event loop (scrapes, timers, the metrics pipeline) wins over them. Linux nice is per thread:
 * setpriority(PRIO_PROCESS, gettid(), n) changes only the calling thread, and raising one's own nice value needs no
 * capability (lowering it would need CAP_SYS_NICE, which the DaemonSet does not have and this never does). Called
 * once at the start of each worker thread (worker-main.ts, root-worker.ts); threads it creates later inherit it.
 *
 * The worker's work is not latency-bound (a collection waits for all of it anyway), the event loop's is: a scrape
 * queued behind a preempted event loop is what the scrape p99 measures.
 *
 * `serve` lowers node's own helper threads the same way (lowerOtherThreads): V8's platform threads (GC helpers,
 * concurrent compilers) and libuv's thread pool start at the event loop's priority, and the main thread, posting them
 * work, lost its CPU to them. Traced with perf at 110 held chaos pods on 2 vCPUs (2026-12-02): the main thread's
 * longest preemptions (4-14 ms) came when it woke a V8 platform thread (NodePlatform::CallOnWorkerThread) and that
 * thread ran on its CPU. Every thread nicer, 3 interleaved pairs of 40 idle windows: windows with a loop block of
 * 10 ms or more 3 / 0 / 2 against 6 / 2 / 4, serve's CPU per window unchanged (README "Event-loop blocks").
 */
import { readdirSync } from 'node:fs';
import { errorMessage } from './errors.js';
import { libcLibrary } from './netns/netlink/libc.js';

/**
 * How much nicer than the process the worker threads are: at nice 5 against the event loop's 0, a worker weighs 335
 * against 1024 on a contended core (the kernel's weight table), so the event loop gets ~75% of it instead of half.
 */
export const WORKER_NICE_STEP = 5;
const MAX_NICE = 19;

const PRIO_PROCESS = 0;

export type PriorityResult = { ok: true; tid: number; nice: number } | { ok: false; reason: string };

interface PriorityCalls {
  gettid(): number;
  getpriority(which: number, who: number): number;
  setpriority(which: number, who: number, prio: number): number;
  errno(value?: number): number;
}

let calls: PriorityCalls | null = null;

function load(): PriorityCalls {
  if (calls) return calls;
  const { koffi, lib } = libcLibrary();
  const gettid = lib.func('int gettid()');
  const getpriority = lib.func('int getpriority(int which, uint32_t who)');
  const setpriority = lib.func('int setpriority(int which, uint32_t who, int prio)');
  calls = {
    gettid: () => gettid(),
    getpriority: (w, who) => getpriority(w, who),
    setpriority: (w, who, p) => setpriority(w, who, p),
    errno: (value) => (value === undefined ? koffi.errno() : koffi.errno(value)),
  };
  return calls;
}

/** Thread `tid`'s nice value, or the errno getpriority failed with (-1 is a nice value too: only errno tells). */
function niceOf(c: PriorityCalls, tid: number): number | { errno: number } {
  c.errno(0);
  const nice = c.getpriority(PRIO_PROCESS, tid);
  const errno = nice === -1 ? c.errno() : 0;
  return errno !== 0 ? { errno } : nice;
}

/**
 * Makes the calling thread `step` nicer than it is (capped at 19): only ever a lower priority, so no capability is
 * needed, and a process started niced keeps its workers below its event loop. Never throws: a failure (no koffi, no
 * libc, a seccomp profile refusing the call) leaves the thread at its priority and is returned as a reason; the
 * thread works the same, only without the preference.
 */
export function lowerThreadPriority(step = WORKER_NICE_STEP): PriorityResult {
  try {
    const c = load();
    const tid = c.gettid();
    const current = niceOf(c, tid);
    if (typeof current !== 'number') return { ok: false, reason: `getpriority: errno ${current.errno}` };
    const nice = Math.min(MAX_NICE, current + step);
    if (c.setpriority(PRIO_PROCESS, tid, nice) !== 0) return { ok: false, reason: `setpriority: errno ${c.errno()}` };
    return { ok: true, tid, nice };
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
}

/** What one lowerOtherThreads call did. */
export interface OthersResult {
  /** The nice value the other threads were given (the calling thread's plus the step, capped at 19). */
  nice: number;
  /** Threads lowered by this call. */
  lowered: number[];
  /** Threads that could not be (each is tried once). */
  failed: { tid: number; reason: string }[];
}

const ESRCH = 3;

/**
 * Makes every other thread of this process at least `step` nicer than the calling one (serve's event loop): node's
 * V8 platform and libuv thread-pool threads, started at the event loop's priority. Threads already that nice (the
 * reader threads lower themselves) are left alone, and so is a thread that ended meanwhile. `seen` holds the threads
 * earlier calls handled (pruned to those still running), so that a call per collection costs one read of the task
 * directory. Never throws: without koffi or libc every thread keeps its priority and the reason is returned once per
 * thread. A thread id reused between two calls by a new thread is taken for the old one (node's new threads are
 * reader threads, which lower themselves).
 */
export function lowerOtherThreads(seen: Set<number>, step = WORKER_NICE_STEP, taskDir = '/proc/self/task'): OthersResult {
  const out: OthersResult = { nice: NaN, lowered: [], failed: [] };
  let tids: number[];
  try {
    tids = readdirSync(taskDir).map(Number).filter((t) => Number.isSafeInteger(t) && t > 0);
  } catch (err) {
    out.failed.push({ tid: 0, reason: `${taskDir}: ${errorMessage(err)}` });
    return out;
  }
  const running = new Set(tids);
  for (const t of seen) if (!running.has(t)) seen.delete(t);
  const fresh = tids.filter((t) => !seen.has(t));
  if (fresh.length === 0) return out;
  const fail = (reason: string): OthersResult => {
    for (const tid of fresh) {
      seen.add(tid);
      out.failed.push({ tid, reason });
    }
    return out;
  };
  let c: PriorityCalls;
  try {
    c = load();
  } catch (err) {
    return fail(errorMessage(err));
  }
  const self = c.gettid();
  const base = niceOf(c, self);
  if (typeof base !== 'number') return fail(`getpriority: errno ${base.errno}`);
  out.nice = Math.min(MAX_NICE, base + step);
  for (const tid of fresh) {
    seen.add(tid);
    if (tid === self) continue;
    const current = niceOf(c, tid);
    if (typeof current !== 'number') {
      if (current.errno !== ESRCH) out.failed.push({ tid, reason: `getpriority: errno ${current.errno}` });
      continue;
    }
    if (current >= out.nice) continue;
    if (c.setpriority(PRIO_PROCESS, tid, out.nice) === 0) out.lowered.push(tid);
    else if (c.errno() !== ESRCH) out.failed.push({ tid, reason: `setpriority: errno ${c.errno()}` });
  }
  return out;
}
