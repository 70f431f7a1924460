/**
 * What the netlink pool (pool.ts) keeps per thread and per job: a thread's slot (the jobs sent to it, its epoch, its
 * watchdog and idle timers), a pending read, a lease, and the data a thread starts with. The pool's policy (which
 * thread gets what, spares, taking back) is pool.ts's; these are its records and their three predicates.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import type { NetnsState } from '../state.js';
import type { NetlinkJob } from './read-namespace.js';
import type { Kept } from './kept-reads.js';
import type { LazyDeadline } from './lazy-deadline.js';

/**
 * Jobs sent to a thread at once. With one, the thread waited between every two reads for the main thread to take
 * its answer and post the next job, and the main thread runs the /proc scan in slices of a few ms meanwhile: at 110
 * pods the namespace reads (~0.3-0.7 ms each) left the thread idle for ~20% of the collection. Its answers still
 * come one per job, in order; a job's budget runs from the previous answer (when the thread starts it).
 */
export const PIPELINE_DEPTH = 4;

export interface Pending {
  id: number;
  job: NetlinkJob;
  /** The kept read whose tape the job may replay (null: none). */
  kept: Kept | null;
  resolve(r: PoolResult): void;
  reject(err: Error): void;
  signal: AbortSignal | undefined;
}

export interface PoolResult {
  state: NetnsState;
  /** CPU the worker thread spent on this read, seconds. */
  cpuSeconds: number;
  /** The namespace answered as on the last read: `state` is that read's state (the same object). */
  unchanged: boolean;
}

/** A pool thread lent whole to another kind of job (the root reader): see the header. */
export interface ThreadLease {
  /** The thread (for its 'error' and 'exit' events). */
  readonly worker: Worker;
  /** The main thread's end of the thread's side channel (the other end is `sidePort` in its workerData). */
  readonly port: MessagePort;
  /** Give the thread back to the pool (its next read, or its idle timer). */
  release(): void;
  /** The holder saw the thread move on (the root reader's next container): no spare thread is needed yet. */
  progress(): void;
  /** Terminate the thread (stuck, or dead); the pool starts another when it needs one. */
  abandon(): void;
}

/** A lease waiting for a thread. */
export interface LeaseWait {
  grant(lease: ThreadLease): void;
  reject(err: Error): void;
}

/** The data every pool thread starts with (thread-main.ts). */
export interface ThreadData {
  sidePort: MessagePort;
  /** Int32 [0]: the thread's epoch (Slot.epoch): it skips a job sent with an older one. */
  epoch: SharedArrayBuffer;
  /** The thread's V8 old-generation limit, MB: its tape cache takes a quarter of it at most (tape-cache.ts). */
  heapMb?: number;
}

export interface Slot {
  worker: Worker;
  port: MessagePort;
  /** The jobs sent to it, in order; [0] is the one it is reading (its watchdog's). */
  jobs: Pending[];
  /**
   * The thread's epoch, Int32 [0] of a SharedArrayBuffer it shares (ThreadData.epoch), for taking back jobs sent to
   * it that it has not started. The pool cannot unsend a message, so each job carries the epoch at sending, and the
   * thread skips (never reads, never answers) a job whose epoch is older than the word's. Taking back = bumping the
   * word, then queueing the jobs again. A job the thread began just before the bump is read twice (reads are
   * read-only); the pool takes the first answer it is waiting for and ignores the other (its id is no longer the
   * slot's head).
   */
  epoch: Int32Array;
  /** Lent to a lease (no read is assigned to it). */
  lent: boolean;
  /** Its job's budget + grace (lazy-deadline.ts: no timer per job). */
  watchdog: LazyDeadline;
  /** Its stop after idleMs free. */
  idle: LazyDeadline;
  /** performance.now() of its last progress: the job or lease it was given, or the lease's last progress(). */
  since: number;
  /** Its thread has loaded (whenLoaded) and `since` counts from then at the earliest. */
  ready: boolean;
}

export function byId(a: Pending, b: Pending): number {
  return a.id - b.id;
}

export function isFree(s: Slot): boolean {
  return s.jobs.length === 0 && !s.lent;
}

/**
 * When the slot last made progress. A thread still loading its modules (~100-300 ms on a loaded node) is not slow at
 * reading: it counts as moving now, until `ready` (not the thread's own loaded word, which it sets before the pool
 * has moved `since` to its load: between the two, a thread sent jobs at its start counted as stalled since then).
 */
export function lastProgress(s: Slot, now: number): number {
  return s.ready ? s.since : now;
}
