/**
 * Cooperative time slicing for long synchronous loops on the event loop (building and rendering ~6k series at
 * 110 pods): `await slicer.point()` in the loop yields (setImmediate, so pending I/O such as scrapes runs first)
 * once `sliceMs` of work has passed since the last yield, and is a cheap clock read otherwise. Aborts between
 * slices when `signal` does. Loops that run per series or per pod write `if (slicer.due) await slicer.point()`:
 * an `await` suspends its function and allocates even when nothing is waited for.
 */
import { performance } from 'node:perf_hooks';

/**
 * Default work between two yields. With 4 ms, a slice and the I/O callbacks of the same turn of the event loop (a
 * worker's reply, a scrape) made stretches of 7-8 ms at 110 pods; 2 ms keeps them nearer 5 for a few hundred more
 * yields per collection (~1 µs each).
 */
export const DEFAULT_SLICE_MS = 2;

const RESOLVED = Promise.resolve();

export class Slicer {
  private sliceStart = performance.now();
  /** Yields so far. */
  yields = 0;

  constructor(
    private readonly sliceMs = DEFAULT_SLICE_MS,
    private readonly signal?: AbortSignal,
  ) {}

  /** True when the current slice is used up (the caller should `await point()`). */
  get due(): boolean {
    return performance.now() - this.sliceStart >= this.sliceMs;
  }

  /** Yield to the event loop if the slice is used up (else an already resolved promise: nothing allocated). */
  point(): Promise<void> {
    return this.due ? this.yieldNow() : RESOLVED;
  }

  private async yieldNow(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.yields += 1;
    this.signal?.throwIfAborted();
    this.sliceStart = performance.now();
  }
}
