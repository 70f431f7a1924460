interface MapRun<T, R> {
  readonly items: readonly T[];
  readonly fn: (item: T) => Promise<R>;
  readonly out: R[];
  next: number;
}

/** One of mapLimit's lanes: takes the next item until none is left. Module level, not a closure per call: V8 drops
 * the optimised code of a closure no live instance holds, so a per-call one was recompiled every few collections. */
async function lane<T, R>(run: MapRun<T, R>): Promise<void> {
  while (run.next < run.items.length) {
    const i = run.next++;
    run.out[i] = await run.fn(run.items[i]!);
  }
}

/** Like Promise.all(items.map(fn)) with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const run: MapRun<T, R> = { items, fn, out: new Array<R>(items.length), next: 0 };
  const lanes: Promise<void>[] = [];
  for (let k = Math.max(1, Math.min(limit, items.length)); k > 0; k--) lanes.push(lane(run));
  await Promise.all(lanes);
  return run.out;
}

/** A FIFO counting semaphore: `acquire()` resolves to a release function once a slot is free. */
export class Semaphore {
  private active = 0;
  private readonly waiting: { grant: () => void; signal: AbortSignal | undefined; onAbort: () => void }[] = [];

  constructor(private readonly slots: number) {}

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (this.active < this.slots) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        signal,
        grant: () => {
          signal?.removeEventListener('abort', entry.onAbort);
          this.active++;
          resolve(this.releaser());
        },
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      this.waiting.shift()?.grant();
    };
  }
}
