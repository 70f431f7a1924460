/** Vitest-free naming helper, so the demo and the benchmark can reuse test helpers outside a test run. */
let counter = 0;
/** A short name unique to this process and call, safe for netns/link/ipset names (<= 15 chars with prefix <= 6). */
export function uniqueName(prefix: string): string {
  counter += 1;
  const tag = `${(process.pid % 46656).toString(36)}${counter.toString(36)}`;
  return `${prefix}${tag}`.slice(0, 15);
}
