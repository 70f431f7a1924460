/**
 * Whether two arrays hold the same items in the same order, each compared with `===` (NaN is never equal to
 * itself, so an array holding one is never "the same": a cache keyed on it just recomputes). The caches that reuse
 * work only when their inputs are identical (compat labels and blocks, the verdict memo) share this one test.
 */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && sameFirst(a, b, a.length);
}

/**
 * Whether the first `n` items of `a` and `b` are the same, each with `===` (as sameItems): for a cache comparing
 * what it kept with a scratch buffer reused from one computation to the next (compat-blocks.ts sums, pod-blocks.ts
 * Recorder), of which only the first `n` items are this one's.
 */
export function sameFirst<T>(a: ArrayLike<T>, b: ArrayLike<T>, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
