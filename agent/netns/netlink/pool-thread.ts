/**
 * Starting one netlink pool thread (pool.ts spawn()): its side channel and epoch word, its V8 limits, and the slot
 * that records it, whose time without progress counts from the thread's load. The pool listens to the thread.
 */
import { MessageChannel } from 'node:worker_threads';
import type { Logger } from '../../log.js';
import { workerLimits } from '../../worker-limits.js';
import { isLoaded, startWorker, whenLoaded } from '../../worker-loaded.js';
import { LazyDeadline } from './lazy-deadline.js';
import type { Slot, ThreadData } from './pool-slot.js';

/**
 * A thread of `url` (pool.ts workerUrl()) in a new slot; `overrun` and `idle` are its watchdog's and idle timer's,
 * `log` hears of the fds it left that could not be closed (worker-loaded.ts).
 */
export function startSlot(url: URL, heap: number, overrun: (slot: Slot) => void, idle: (slot: Slot) => void, log: Logger): Slot {
  const side = new MessageChannel();
  const epochBuffer = new SharedArrayBuffer(4);
  const workerData: ThreadData = { sidePort: side.port2, heapMb: heap, epoch: epochBuffer };
  const worker = startWorker(url, { workerData, transferList: [side.port2], resourceLimits: workerLimits(heap) }, log);
  side.port1.unref();
  const slot: Slot = { worker, port: side.port1, jobs: [], epoch: new Int32Array(epochBuffer), lent: false, watchdog: null!, idle: null!, since: performance.now(), ready: false };
  slot.watchdog = new LazyDeadline(() => overrun(slot));
  slot.idle = new LazyDeadline(() => idle(slot));
  // Its time without progress counts from when it is ready, not from its start-up (whenLoaded also resolves after
  // its longest wait: a thread not loaded then stays "moving", and is terminated by its job's budget).
  void whenLoaded(worker).then(
    () => {
      if (!isLoaded(worker)) return;
      slot.since = Math.max(slot.since, performance.now());
      slot.ready = true;
    },
    (err: unknown) => void err,
  );
  return slot;
}
