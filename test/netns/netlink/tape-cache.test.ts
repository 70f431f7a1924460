/**
 * The tapes a reader thread keeps (tape-cache.ts): a tape answers only for the job id that recorded it, is taken out
 * by the read that uses it (only a read ending with a tape puts one back), and the cache stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { TapeCache, tapeCacheKey } from '../../../agent/netns/netlink/tape-cache.js';
import type { Script } from '../../../agent/netns/netlink/tape.js';

const script = (key: string): Script => ({ key, steps: [] });

describe('TapeCache', () => {
  it('gives a tape only for the id that recorded it, and takes it out whatever the id', () => {
    const c = new TapeCache({ maxEntries: 10, maxAgeMs: 60_000 });
    const k = tapeCacheKey('/run/netns/a', 7);
    const t = script('a');
    c.put(k, 5, t, 0);
    expect(c.take(k, 4, 1)).toBeNull(); // another read's id: not this tape
    expect(c.take(k, 5, 2)).toBeNull(); // taken out by the mismatch: a failed read leaves nothing to replay
    c.put(k, 5, t, 3);
    expect(c.take(k, 5, 4)).toBe(t);
    expect(c.take(k, 5, 5)).toBeNull(); // taken out: put back only by the read that used it
    expect(c.take(k, null, 6)).toBeNull();
  });

  it('keys by path and inode: another inode or path finds nothing', () => {
    const c = new TapeCache({ maxEntries: 10, maxAgeMs: 60_000 });
    c.put(tapeCacheKey('/run/netns/a', 7), 1, script('a'), 0);
    expect(c.take(tapeCacheKey('/run/netns/a', 8), 1, 1)).toBeNull();
    expect(c.take(tapeCacheKey('/run/netns/b', 7), 1, 1)).toBeNull();
    expect(c.take(tapeCacheKey('/run/netns/a', 7), 1, 1)).not.toBeNull();
  });

  it('a newer tape of the same namespace replaces the older one', () => {
    const c = new TapeCache({ maxEntries: 10, maxAgeMs: 60_000 });
    const k = tapeCacheKey('/p', 1);
    c.put(k, 1, script('old'), 0);
    c.put(k, 2, script('new'), 1);
    expect(c.size).toBe(1);
    expect(c.take(k, 1, 2)).toBeNull();
  });

  it('is bounded: the least recently read go first past maxEntries, and none older than maxAgeMs stays', () => {
    const c = new TapeCache({ maxEntries: 3, maxAgeMs: 1000 });
    for (let i = 0; i < 3; i++) c.put(tapeCacheKey('/p', i), i, script(String(i)), i);
    // Namespace 0 read again (taken and put back): namespace 1 is now the least recently read.
    c.put(tapeCacheKey('/p', 0), 0, c.take(tapeCacheKey('/p', 0), 0, 10)!, 10);
    c.put(tapeCacheKey('/p', 3), 3, script('3'), 11);
    expect(c.size).toBe(3);
    expect(c.take(tapeCacheKey('/p', 1), 1, 12)).toBeNull();
    expect(c.take(tapeCacheKey('/p', 2), 2, 12)).not.toBeNull();
    // 0 and 3 last read at 10 and 11; at 1,020 only 3 is within maxAgeMs... and at 1,012 both still are.
    c.put(tapeCacheKey('/p', 4), 4, script('4'), 1005);
    expect(c.take(tapeCacheKey('/p', 0), 0, 1011)).toBeNull(); // 1,001 ms old: dropped
    expect(c.take(tapeCacheKey('/p', 3), 3, 1011)).not.toBeNull(); // 1,000 ms old: kept
    expect(c.take(tapeCacheKey('/p', 4), 4, 1011)).not.toBeNull();
  });
});
