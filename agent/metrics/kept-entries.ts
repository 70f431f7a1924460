/**
 * Entries kept from one collection to the next by the exposition's caches (compat-labels.ts, pod-blocks.ts,
 * container-stats.ts): an entry lives for one collection after the last that used it, so a vanished pod's or
 * container's entry is dropped at the next collection and the caches never grow past two collections' worth.
 * Whether an entry may be reused is each cache's own exact comparison; this only decides how long it is held.
 */
export class KeptEntries<V> {
  private previous = new Map<string, V>();
  private current = new Map<string, V>();

  /** Starts a collection: the entries the last one used are kept, older ones dropped. */
  begin(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  /** The entry last kept under `key` (this collection's, else the last one's). */
  get(key: string): V | undefined {
    return this.current.get(key) ?? this.previous.get(key);
  }

  /** Keeps `value` under `key` for this collection (and the next). */
  keep(key: string, value: V): void {
    this.current.set(key, value);
  }
}
