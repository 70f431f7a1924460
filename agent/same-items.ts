/**
 * Whether two arrays hold the same items in the same order, each compared with `===` (NaN is never equal to
 * itself, so an array holding one is never "the same": a cache keyed on it just recomputes). The caches that reuse
 * work only when their inputs are identical (compat labels and blocks, the verdict memo) share this one test.
 */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
