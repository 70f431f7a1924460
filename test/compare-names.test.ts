/**
 * compareNames (agent/compare-names.ts) orders Kubernetes-style names exactly as String#localeCompare does (the order
 * `pods` and inspect printed before), without loading ICU's collation for them; other strings go to localeCompare.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareNames } from '../agent/compare-names.js';

const sign = (n: number): number => Math.sign(n);
const plain = fc.string({ unit: fc.constantFrom(...' -.0123456789abcdefghijklmnopqrstuvwxyz'.split('')), maxLength: 12 });

describe('compareNames', () => {
  it('names of [a-z0-9.-] and spaces: the same sign as localeCompare, for every pair', () => {
    fc.assert(fc.property(plain, plain, (a, b) => sign(compareNames(a, b)) === sign(a.localeCompare(b))), { numRuns: 5000 });
  });

  it('the characters where code-unit order and collation differ are left to localeCompare', () => {
    // Code-unit order would put '_' (0x5f) before 'a' and ':' (0x3a) after '9', 'B' (0x42) before 'a'.
    for (const [a, b] of [['a_b', 'ab'], ['a:1', 'a9'], ['B', 'a'], ['pod_1', 'pod-1'], ['é', 'f']] as const) {
      expect(sign(compareNames(a, b))).toBe(sign(a.localeCompare(b)));
    }
    fc.assert(fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b) => sign(compareNames(a, b)) === sign(a.localeCompare(b))), { numRuns: 2000 });
  });

  it('sorts a pod list as localeCompare did', () => {
    const names = ['web-10', 'web-2', 'web.1', 'web 1', 'web1', 'a', 'kube-system', 'default', '0pod', 'z-9'];
    expect([...names].sort(compareNames)).toEqual([...names].sort((x, y) => x.localeCompare(y)));
    expect([...names].sort(compareNames)).toEqual(['0pod', 'a', 'default', 'kube-system', 'web 1', 'web-10', 'web-2', 'web.1', 'web1', 'z-9']);
  });
});
