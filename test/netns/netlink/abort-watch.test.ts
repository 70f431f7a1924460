/** One 'abort' listener per signal for many pending reads (abort-watch.ts). */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AbortWatch } from '../../../agent/netns/netlink/abort-watch.js';

describe('AbortWatch', () => {
  it('listens once per signal; an abort reaches every item still watched, and only those', () => {
    const aborted: number[] = [];
    const w = new AbortWatch<number>((i) => {
      aborted.push(i);
      w.delete(ac.signal, i); // as the pool's settle does, during the abort
    });
    const ac = new AbortController();
    const other = new AbortController();
    for (let i = 0; i < 50; i++) w.add(ac.signal, i);
    w.add(other.signal, 99);
    expect([getEventListeners(ac.signal, 'abort').length, getEventListeners(other.signal, 'abort').length, w.signals]).toEqual([1, 1, 2]);
    for (let i = 0; i < 50; i += 2) w.delete(ac.signal, i); // settled before the abort
    ac.abort();
    expect(aborted).toEqual(Array.from({ length: 25 }, (_, k) => 2 * k + 1));
    expect([getEventListeners(ac.signal, 'abort').length, w.signals]).toEqual([0, 1]);
  });

  it('the listener goes with the last item; a signal watched again gets one again', () => {
    const aborted: string[] = [];
    const w = new AbortWatch<string>((s) => aborted.push(s));
    const ac = new AbortController();
    w.add(ac.signal, 'a');
    w.add(ac.signal, 'b');
    w.delete(ac.signal, 'a');
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    w.delete(ac.signal, 'b');
    w.delete(ac.signal, 'b'); // twice: nothing more
    expect([getEventListeners(ac.signal, 'abort').length, w.signals]).toEqual([0, 0]);
    w.add(ac.signal, 'c');
    ac.abort();
    expect(aborted).toEqual(['c']);
  });
});
