/**
 * The tapes a reader thread keeps (tape-cache.ts): a tape answers only for the job id that recorded it, is taken out
 * by the read that uses it (only a read ending with a tape puts one back), and the cache stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { TAPE_CACHE_DEFAULTS, TapeCache, tapeCacheKey, tapeCacheOptionsFor, type TapeEntry } from '../../../agent/netns/netlink/tape-cache.js';

const entry = (id: number, bytes = 100): TapeEntry => ({ id, script: { key: String(id), steps: [] }, bytes, usedAt: 0 });
const opts = { maxEntries: 10, maxBytes: 1 << 20, maxAgeMs: 60_000 };

describe('TapeCache', () => {
  it('gives a tape only for the id that recorded it, and takes it out whatever the id', () => {
    const c = new TapeCache(opts);
    const k = tapeCacheKey('/run/netns/a', 7);
    const t = entry(5);
    c.put(k, t, 0);
    expect(c.take(k, 4, 1)).toBeNull(); // another read's id: not this tape
    expect(c.take(k, 5, 2)).toBeNull(); // taken out by the mismatch: a failed read leaves nothing to replay
    c.put(k, t, 3);
    expect(c.take(k, 5, 4)).toBe(t);
    expect(c.take(k, 5, 5)).toBeNull(); // taken out: put back only by the read that used it
    expect(c.take(k, null, 6)).toBeNull();
    expect([c.size, c.keptBytes]).toEqual([0, 0]);
  });

  it('keys by path and inode: another inode or path finds nothing', () => {
    const c = new TapeCache(opts);
    c.put(tapeCacheKey('/run/netns/a', 7), entry(1), 0);
    expect(c.take(tapeCacheKey('/run/netns/a', 8), 1, 1)).toBeNull();
    expect(c.take(tapeCacheKey('/run/netns/b', 7), 1, 1)).toBeNull();
    expect(c.take(tapeCacheKey('/run/netns/a', 7), 1, 1)).not.toBeNull();
  });

  it('a newer tape of the same namespace replaces the older one', () => {
    const c = new TapeCache(opts);
    const k = tapeCacheKey('/p', 1);
    c.put(k, entry(1), 0);
    c.put(k, entry(2), 1);
    expect([c.size, c.keptBytes]).toEqual([1, 100]);
    expect(c.take(k, 1, 2)).toBeNull();
  });

  it('is bounded: the least recently read go first past maxEntries, and none older than maxAgeMs stays', () => {
    const c = new TapeCache({ ...opts, maxEntries: 3, maxAgeMs: 1000 });
    for (let i = 0; i < 3; i++) c.put(tapeCacheKey('/p', i), entry(i), i);
    // Namespace 0 read again (taken and put back): namespace 1 is now the least recently read.
    c.put(tapeCacheKey('/p', 0), c.take(tapeCacheKey('/p', 0), 0, 10)!, 10);
    c.put(tapeCacheKey('/p', 3), entry(3), 11);
    expect(c.size).toBe(3);
    expect(c.take(tapeCacheKey('/p', 1), 1, 12)).toBeNull();
    expect(c.take(tapeCacheKey('/p', 2), 2, 12)).not.toBeNull();
    // 0 and 3 last read at 10 and 11: at 1,011, 0 is 1,001 ms old (dropped), 3 exactly 1,000 (kept).
    c.put(tapeCacheKey('/p', 4), entry(4), 1005);
    expect(c.take(tapeCacheKey('/p', 0), 0, 1011)).toBeNull();
    expect(c.take(tapeCacheKey('/p', 3), 3, 1011)).not.toBeNull();
    expect(c.take(tapeCacheKey('/p', 4), 4, 1011)).not.toBeNull();
  });

  it('is bounded in bytes: the least recently read go first, the newest tape is kept even alone over the cap', () => {
    const c = new TapeCache({ ...opts, maxBytes: 250 });
    c.put(tapeCacheKey('/p', 1), entry(1), 0);
    c.put(tapeCacheKey('/p', 2), entry(2), 1);
    c.put(tapeCacheKey('/p', 3), entry(3), 2);
    expect([c.size, c.keptBytes]).toEqual([2, 200]);
    expect(c.take(tapeCacheKey('/p', 1), 1, 3)).toBeNull();
    c.put(tapeCacheKey('/p', 4), entry(4, 1000), 4);
    expect([c.size, c.keptBytes]).toEqual([1, 1000]);
    expect(c.take(tapeCacheKey('/p', 4), 4, 5)).not.toBeNull();
  });
  it("takes at most a quarter of the thread's heap, never more than the default cap", () => {
    expect(tapeCacheOptionsFor(96).maxBytes).toBe(24 << 20);
    expect(tapeCacheOptionsFor(16).maxBytes).toBe(4 << 20);
    expect(tapeCacheOptionsFor(1024).maxBytes).toBe(TAPE_CACHE_DEFAULTS.maxBytes);
    expect(tapeCacheOptionsFor(undefined)).toEqual(TAPE_CACHE_DEFAULTS);
    expect(tapeCacheOptionsFor(96).maxEntries).toBe(TAPE_CACHE_DEFAULTS.maxEntries);
  });
});
