/**
 * Forget every key of `keys` that `keep` does not hold, through `target.delete` (by default `keys` itself; an owner
 * that must also close or drop what the key held passes itself or its own deleter). The caches that keep per
 * container or per namespace state between collections (settled-map.ts, cgroup-stats.ts, proc/mount-events.ts,
 * proc/mount-quiet.ts) share this one sweep. forEach with a module-level callback: no iterator result per key and no
 * closure per call (collect/netns.ts readGroup says why); deleting the entry being visited is allowed.
 */
export function deleteUnless<K>(keys: Map<K, unknown>, keep: ReadonlySet<K>, target: { delete(key: K): unknown } = keys): void {
  keys.forEach(deleteUnlessKept, { keep, target });
}

function deleteUnlessKept(this: { keep: ReadonlySet<unknown>; target: { delete(key: unknown): unknown } }, _: unknown, key: unknown): void {
  if (!this.keep.has(key)) this.target.delete(key);
}
