/**
 * SettledMap (agent/runtime/settled-map.ts): value(key) is undefined or exactly what awaiting get(key) gives now,
 * never the value of a promise the key no longer holds.
 */
import { describe, expect, it } from 'vitest';
import { SettledMap } from '../../agent/runtime/settled-map.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SettledMap', () => {
  it('no value while pending; the value once fulfilled', async () => {
    const m = new SettledMap<number>();
    const d = deferred<number>();
    m.set('a', d.promise);
    expect(m.value('a')).toBeUndefined();
    d.resolve(1);
    await d.promise;
    expect(m.value('a')).toBe(1);
    expect(await m.get('a')).toBe(1);
  });

  it('set again: the old value is gone at once, and the old promise settling later records nothing', async () => {
    const m = new SettledMap<number>();
    m.set('a', Promise.resolve(1));
    await m.get('a');
    expect(m.value('a')).toBe(1);
    const slow = deferred<number>();
    const next = deferred<number>();
    m.set('a', slow.promise);
    expect(m.value('a')).toBeUndefined();
    m.set('a', next.promise);
    slow.resolve(2);
    await slow.promise;
    expect(m.value('a')).toBeUndefined();
    next.resolve(3);
    await next.promise;
    expect(m.value('a')).toBe(3);
  });

  it('delete drops the value; a promise deleted while pending records nothing', async () => {
    const m = new SettledMap<number>();
    m.set('a', Promise.resolve(1));
    await m.get('a');
    m.delete('a');
    expect(m.value('a')).toBeUndefined();
    expect(m.get('a')).toBeUndefined();
    const d = deferred<number>();
    m.set('b', d.promise);
    m.delete('b');
    d.resolve(2);
    await d.promise;
    expect(m.value('b')).toBeUndefined();
    expect([...m.keys()]).toEqual([]);
  });

  it('a rejected promise records nothing and reaches its awaiters', async () => {
    const m = new SettledMap<number>();
    const d = deferred<number>();
    m.set('a', d.promise);
    d.reject(new Error('boom'));
    await expect(m.get('a')).rejects.toThrow('boom');
    expect(m.value('a')).toBeUndefined();
  });

  it('deleteUnless forgets every key (and its value) not kept, and only those', async () => {
    const m = new SettledMap<number>();
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) m.set(k, Promise.resolve(v));
    const late = deferred<number>();
    m.set('d', late.promise);
    await m.get('c');
    m.deleteUnless(new Set(['b', 'x']));
    expect([...m.keys()]).toEqual(['b']);
    expect([m.value('a'), m.value('b'), m.value('c')]).toEqual([undefined, 2, undefined]);
    late.resolve(4);
    await late.promise;
    expect(m.value('d')).toBeUndefined();
    m.deleteUnless(new Set());
    expect([...m.keys()]).toEqual([]);
    expect(m.value('b')).toBeUndefined();
  });
});
