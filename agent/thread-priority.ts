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
import { readFileSync } from 'node:fs';
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
  /** sched_setattr(2) on the calling thread (pid 0) with `attr` (schedAttr): glibc 2.36 has no wrapper, so syscall(2). */
  schedSetattr(nr: number, attr: Buffer): number;
  errno(value?: number): number;
}

let calls: PriorityCalls | null = null;

function load(): PriorityCalls {
  if (calls) return calls;
  const { koffi, lib } = libcLibrary();
  const gettid = lib.func('int gettid()');
  const getpriority = lib.func('int getpriority(int which, uint32_t who)');
  const setpriority = lib.func('int setpriority(int which, uint32_t who, int prio)');
  const syscall = lib.func('long syscall(long number, ...)');
  calls = {
    gettid: () => gettid(),
    getpriority: (w, who) => getpriority(w, who),
    setpriority: (w, who, p) => setpriority(w, who, p),
    schedSetattr: (nr, attr) => syscall(nr, 'int', 0, 'void *', attr, 'unsigned int', 0),
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

/**
 * The scheduling slice the event loop's thread asks for, µs: the shortest the kernel takes (it clamps a request to
 * 0.1-100 ms). Linux >= 6.12's EEVDF scheduler lets a SCHED_OTHER thread ask for its own slice (sched_setattr's
 * sched_runtime, no capability needed) and lets a waking thread with a shorter slice preempt one with a longer slice
 * at once, instead of waiting for the running one's slice (here 1.4 ms by default) or the next tick. The event loop
 * sleeps most of the time and wakes for a timer or a scrape: with this it gets a CPU held by a containerd-shim's
 * burst or the node's other work sooner. Its share of the CPU is unchanged (that is nice's). Measured (serve at 110
 * clean pods, 2 s interval, 7 interleaved pairs of 20 collections, the slice reset to the default 1.4 ms or set from
 * outside): collections whose longest event-loop block was >= 10 ms 12 -> 3 of 140; the longest run-queue wait per
 * 20 collections, median of the 7, 9.0 -> 6.3 ms (max 24.9 -> 12.0). Older kernels ignore the request.
 */
export const EVENT_LOOP_SLICE_US = 100;

/** sched_setattr's number: x86_64 and arm64 (the image's architectures); null elsewhere. */
const SCHED_SETATTR: Partial<Record<string, number>> = { x64: 314, arm64: 274 };
const SCHED_OTHER = 0;
/** struct sched_attr up to sched_util_max (SCHED_ATTR_SIZE_VER1). */
const SCHED_ATTR_SIZE = 56;

/**
 * struct sched_attr (include/uapi/linux/sched/types.h) for SCHED_OTHER at `nice` with a slice of `sliceNs`: size u32,
 * policy u32, flags u64, nice s32, priority u32, runtime u64, deadline u64, period u64, util_min u32, util_max u32.
 */
export function schedAttr(nice: number, sliceNs: bigint): Buffer {
  const b = Buffer.alloc(SCHED_ATTR_SIZE);
  b.writeUInt32LE(SCHED_ATTR_SIZE, 0);
  b.writeUInt32LE(SCHED_OTHER, 4);
  b.writeBigUInt64LE(0n, 8);
  b.writeInt32LE(nice, 16);
  b.writeUInt32LE(0, 20);
  b.writeBigUInt64LE(sliceNs, 24);
  return b;
}

export type SliceResult = { ok: true; tid: number; sliceUs: number } | { ok: false; reason: string };

/**
 * Asks the scheduler for a `sliceUs` slice for the calling thread (EVENT_LOOP_SLICE_US), keeping its nice value (the
 * call sets both). Only for a SCHED_OTHER thread: one started under another policy (chrt) is left as it is. Never
 * throws: a failure (no koffi, another architecture, a seccomp profile refusing the call) leaves the thread as it
 * was and is returned as a reason.
 */
export function requestSlice(sliceUs = EVENT_LOOP_SLICE_US, arch: string = process.arch): SliceResult {
  try {
    const nr = SCHED_SETATTR[arch];
    if (nr === undefined) return { ok: false, reason: `no sched_setattr number for ${arch}` };
    const c = load();
    const tid = c.gettid();
    const policy = schedPolicy(tid);
    if (policy !== SCHED_OTHER) return { ok: false, reason: `scheduling policy ${policy}, not SCHED_OTHER` };
    c.errno(0);
    const nice = c.getpriority(PRIO_PROCESS, tid);
    if (nice === -1 && c.errno() !== 0) return { ok: false, reason: `getpriority: errno ${c.errno()}` };
    if (c.schedSetattr(nr, schedAttr(nice, BigInt(sliceUs) * 1000n)) !== 0) return { ok: false, reason: `sched_setattr: errno ${c.errno()}` };
    return { ok: true, tid, sliceUs };
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
}

/** The thread's scheduling policy: field 41 of /proc/thread-self/stat (after the command's closing parenthesis). */
function schedPolicy(tid: number): number {
  const text = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[38]);
}
