/**
 * Order of names (namespaces, pods, containers) as String#localeCompare gives it, without its cost when possible:
 * the first localeCompare of a process loads ICU's collation data, ~15 ms of CPU (bench/cli-start.ts), a visible
 * share of a `pods` answer. For strings made only of [a-z0-9.-] and spaces (every Kubernetes name) the collation's
 * order is code-unit order: space < `-` < `.` < digits < letters in both (test/compare-names.test.ts checks this
 * against localeCompare). Any other string still goes to localeCompare (`:` or `_`, for instance, sort differently).
 */
const PLAIN = /^[ a-z0-9.-]*$/;

export function compareNames(a: string, b: string): number {
  if (PLAIN.test(a) && PLAIN.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return a.localeCompare(b);
}
