/**
 * Freeze a plain-data value and everything in it, for values the agent keeps and hands out again from one
 * collection to the next (runtime/cri/list-memo.ts: CRI list items; proc/root-memo.ts: container root facts). A
 * consumer that writes into one then throws, in strict mode, instead of changing what later collections are served.
 * Plain data only: objects and arrays (a typed array with elements cannot be frozen).
 */
export function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  for (const x of Object.values(v)) deepFreeze(x);
  return Object.freeze(v);
}
