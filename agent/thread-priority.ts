/**
 * Lower scheduling priority for the agent's worker threads (netlink readers, root reader), so that on a busy core
 * the event loop (scrapes, timers, the metrics pipeline) wins over them. Linux nice is per thread:
 * setpriority(PRIO_PROCESS, gettid(), n) changes only the calling thread, and raising one's own nice value needs no
 * capability (lowering it would need CAP_SYS_NICE, which the DaemonSet does not have and this never does). Called
 * once at the start of each worker thread (worker-main.ts, root-worker.ts); threads it creates later inherit it.
 *
 * The worker's work is not latency-bound (a collection waits for all of it anyway), the event loop's is: a scrape
 * queued behind a preempted event loop is what the scrape p99 measures.
 */
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
    c.errno(0); // getpriority may return -1 as a nice value: only errno tells a failure
    const current = c.getpriority(PRIO_PROCESS, tid);
    if (current === -1 && c.errno() !== 0) return { ok: false, reason: `getpriority: errno ${c.errno()}` };
    const nice = Math.min(MAX_NICE, current + step);
    if (c.setpriority(PRIO_PROCESS, tid, nice) !== 0) return { ok: false, reason: `setpriority: errno ${c.errno()}` };
    return { ok: true, tid, nice };
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
}
