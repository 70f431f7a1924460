/**
 * Pending reads aborted by signals, with ONE 'abort' listener per signal however many reads share it. A
 * collection's ~110 reads share one signal (collect/netns.ts ReadGate): a listener per read cost an
 * addEventListener (with its options object and listener record) and a removeEventListener per read, each scanning
 * the signal's listener list, i.e. quadratic in the reads of a collection. Here a read is one Set entry.
 */
interface Watched<T> {
  items: Set<T>;
  listener: () => void;
}

export class AbortWatch<T> {
  private readonly bySignal = new Map<AbortSignal, Watched<T>>();

  /** `onAbort(item)` for every item still watched when its signal aborts. */
  constructor(private readonly onAbort: (item: T) => void) {}

  /** Watch `item` until delete(): `signal` must not be aborted yet (the caller checks, as the listener would not fire). */
  add(signal: AbortSignal, item: T): void {
    let w = this.bySignal.get(signal);
    if (w === undefined) {
      const items = new Set<T>();
      const listener = (): void => {
        this.bySignal.delete(signal);
        for (const it of [...items]) this.onAbort(it); // onAbort deletes: iterate a copy
      };
      w = { items, listener };
      this.bySignal.set(signal, w);
      signal.addEventListener('abort', listener, { once: true });
    }
    w.items.add(item);
  }

  /** Stop watching `item` (settled); the signal's listener goes with its last item. */
  delete(signal: AbortSignal, item: T): void {
    const w = this.bySignal.get(signal);
    if (w === undefined || !w.items.delete(item) || w.items.size > 0) return;
    this.bySignal.delete(signal);
    signal.removeEventListener('abort', w.listener);
  }

  /** Signals listened to now (tests). */
  get signals(): number {
    return this.bySignal.size;
  }
}
