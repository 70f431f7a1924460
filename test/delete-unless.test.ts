import { describe, expect, it } from 'vitest';
import { deleteUnless } from '../agent/delete-unless.js';

describe('deleteUnless', () => {
  it('deletes every key the set does not hold, from the map itself by default', () => {
    const m = new Map([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    deleteUnless(m, new Set(['b', 'd', 'z']));
    expect([...m]).toEqual([['b', 2], ['d', 4]]);
    deleteUnless(m, new Set());
    expect(m.size).toBe(0);
  });

  it('deletes through the target given (an owner that also drops what the key held), each key once', () => {
    const m = new Map([['a', 1], ['b', 2], ['c', 3]]);
    const dropped: string[] = [];
    deleteUnless(m, new Set(['b']), { delete: (k: string) => { dropped.push(k); m.delete(k); } });
    expect(dropped).toEqual(['a', 'c']);
    expect([...m.keys()]).toEqual(['b']);
  });
});
