/**
 * Small constructors for metric families registered in a given registry (never the global one).
 * Every family gets a HELP text; names and units follow the conventions in docs (base units, `_total` counters).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Note appended to the HELP of every metric built from the cached collection (not computed at scrape time). */
export const CACHED = '(cached: from the last background collection, see chaos_daemon_last_collection_timestamp_seconds)';

export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  return new Gauge<L>({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return new Counter<L>({ name, help, labelNames: [...labelNames], registers: [registry] });
}

/** Sums values per label set, so inputs that map onto the same series never produce duplicates. */
export class SeriesSum<L extends string> {
  private readonly map = new Map<string, { labels: Record<L, string>; value: number }>();
  add(labels: Record<L, string>, value: number): void {
    const key = JSON.stringify(labels);
    const cur = this.map.get(key);
    if (cur) cur.value += value;
    else this.map.set(key, { labels, value });
  }
  entries(): { labels: Record<L, string>; value: number }[] {
    return [...this.map.values()];
  }
}
