/**
 * Cooperative time slicing for long synchronous loops on the event loop (building and rendering ~6k series at
 * 110 pods, reading 220 cgroups, scanning /proc): `await slicer.point()` in the loop yields once the turn's slice is
 * used up, and is a cheap clock read otherwise. Aborts between slices when `signal` does. Loops that run per series
 * or per pod write `if (slicer.due) await slicer.point()`: an `await` suspends its function and allocates even when
 * nothing is waited for.
 *
 * The slice belongs to the turn of the event loop, not to each slicer. Several loops run at once during a
 * collection (the stats collector's cgroup reads, the /proc scan, the metrics pipeline): with a slice of their own
 * each, every one of them resumed in the same check phase of the loop and ran its 2 ms there, one after the other,
 * so the loop was held for the sum (6-9 ms at 110 chaos pods, perf on serve's main thread, 2026-12-01). Now every
 * slicer of the thread yields into one queue, resumed by one setImmediate per turn (`drain`): the loops resumed in a
 * turn share its slice, and a loop that found the slice already spent yields again at its next point. Fairness:
 * such a loop is resumed first in the next turn (the queue puts the loops that got nothing before those that ran).
 */
import { performance } from 'node:perf_hooks';

/**
 * Default work between two yields. With 4 ms, a slice and the I/O callbacks of the same turn of the event loop (a
 * worker's reply, a scrape) made stretches of 7-8 ms at 110 pods; 2 ms keeps them nearer 5 for a few hundred more
 * yields per collection (~1 µs each).
 */
export const DEFAULT_SLICE_MS = 2;

const RESOLVED = Promise.resolve();

/** The thread's turn: when its slice started, and the loops waiting for the next one. Module state: one per thread. */
const turn = {
  start: performance.now(),
  /** Loops that found the slice spent (or nearly) when they were resumed: first in the next turn. */
  starved: [] as (() => void)[],
  /** Loops that used the slice. */
  ran: [] as (() => void)[],
  scheduled: false,
};

/** One turn: its slice starts now, and every loop waiting is resumed in order (starved ones first). */
function drain(): void {
  turn.scheduled = false;
  const order = turn.starved.length === 0 ? turn.ran : turn.starved.concat(turn.ran);
  turn.starved = [];
  turn.ran = [];
  turn.start = performance.now();
  for (let i = 0; i < order.length; i++) order[i]!();
}

/** Queues `resume` for the next turn. PURE but for the thread's turn state. */
function wait(resume: () => void, starved: boolean): void {
  (starved ? turn.starved : turn.ran).push(resume);
  if (!turn.scheduled) {
    turn.scheduled = true;
    setImmediate(drain);
  }
}

export class Slicer {
  /** When this loop was last resumed by a turn (-Infinity: not yet). */
  private resumedAt = -Infinity;
  /** Yields so far. */
  yields = 0;

  constructor(
    private readonly sliceMs = DEFAULT_SLICE_MS,
    private readonly signal?: AbortSignal,
  ) {}

  /** True when the turn's slice is used up (the caller should `await point()`). */
  get due(): boolean {
    return performance.now() - turn.start >= this.sliceMs;
  }

  /** Yield to the event loop if the turn's slice is used up (else an already resolved promise: nothing allocated). */
  point(): Promise<void> {
    return this.due ? this.yieldNow() : RESOLVED;
  }

  /** Yield to the event loop now, whatever is left of the slice (a loop's batch boundary). */
  async yieldNow(): Promise<void> {
    const now = performance.now();
    // Resumed less than half a slice ago and already due: another loop spent this turn's slice.
    const starved = now - this.resumedAt < this.sliceMs / 2;
    await new Promise<void>((resolve) => wait(resolve, starved));
    this.resumedAt = performance.now();
    this.yields += 1;
    this.signal?.throwIfAborted();
  }
}
