/**
 * The tapes a reader thread keeps (worker-main.ts), decoded, so a steady-state read posts no tape either way and
 * decodes none: the pool (pool.ts, kept-reads.ts) keeps each namespace's last state, the id of the job whose read
 * recorded its tape, the tape's bytes and which thread keeps it; that thread keeps the tape under the namespace's key
 * (path and inode) with the same id. A job names the id it may replay, with the bytes only when sent to another
 * thread; the thread replays only a tape recorded under exactly that id (its own entry, or the bytes sent), so a reply
 * `unchanged` always refers to the read whose state the pool holds under that id.
 *
 * Why an id match is enough, whatever happens between two reads: job ids are unique within a pool, a tape is kept or
 * sent under the id of the job that recorded it and never changed, and the pool keeps the state of that same read
 * under that id. A thread with an older entry (two threads took turns) finds another id: the entry is dropped and
 * the bytes sent are replayed. An entry is taken out when its job starts and put back only by a read that ends with
 * a tape (a failed, invalidated or cut read leaves none), so nothing older can answer for a newer read.
 *
 * Bounded: at most `maxEntries` and `maxBytes` of tapes (least recently read dropped first; the newest is always
 * kept) and none older than `maxAgeMs` since its last read (a namespace whose pod is gone), so a node with churning
 * pods cannot grow it. A dropped entry costs one full read. The tape's bytes are the thread's own copy
 * (encodeScript), so no buffer of the read is held.
 */
import { DecodeError } from '../../errors.js';
import { decodeScript, type Script } from './tape.js';

/** A kept tape: the job that recorded it, the tape decoded, its encoded size. */
export interface TapeEntry {
  readonly id: number;
  readonly script: Script;
  readonly bytes: number;
  /** When it was last put (read), performance.now() ms. */
  usedAt: number;
}

export interface TapeCacheOptions {
  maxEntries: number;
  maxBytes: number;
  maxAgeMs: number;
}

/**
 * Defaults: more namespaces than a node runs pods (110 by default, a few hundred at most); 64 MB of tapes (a chaos
 * pod's is ~8 KB, one of 2,000 legacy rules ~300 KB); 10 min, as pool.ts keeps states.
 */
export const TAPE_CACHE_DEFAULTS: TapeCacheOptions = { maxEntries: 1024, maxBytes: 64 << 20, maxAgeMs: 600_000 };

/**
 * The defaults for a thread whose V8 old generation is `heapMb`: the tapes take a quarter of it at most (a decoded
 * tape costs about its encoded size), so a node of large rule sets cannot fill the heap with tapes and leave too little
 * for the read itself (the thread would then die out of memory at every collection, losing every tape it kept).
 */
export function tapeCacheOptionsFor(heapMb: number | undefined): TapeCacheOptions {
  if (heapMb === undefined || !(heapMb > 0)) return TAPE_CACHE_DEFAULTS;
  return { ...TAPE_CACHE_DEFAULTS, maxBytes: Math.min(TAPE_CACHE_DEFAULTS.maxBytes, Math.floor((heapMb * (1 << 20)) / 4)) };
}

export class TapeCache {
  /** Map order is least recently read first: take() deletes, put() appends. */
  private readonly entries = new Map<string, TapeEntry>();
  private bytes = 0;
  private lastSweep = 0;

  constructor(private readonly opts: TapeCacheOptions = TAPE_CACHE_DEFAULTS) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The tape kept for `key` when it was recorded by job `id`, taken out (the read now running replaces it or leaves
   * none). Any entry of `key` is taken out, matching or not: it cannot answer for the read now running.
   */
  take(key: string, id: number | null, now = performance.now()): TapeEntry | null {
    this.sweep(now);
    const e = this.entries.get(key);
    if (e === undefined) return null;
    this.drop(key, e);
    return e.id === id ? e : null;
  }

  /** Keep a tape for `key` (a new one, or the one taken, put back after its replay); it replaces any other. */
  put(key: string, e: TapeEntry, now = performance.now()): void {
    const old = this.entries.get(key);
    if (old !== undefined) this.drop(key, old);
    e.usedAt = now;
    this.entries.set(key, e);
    this.bytes += e.bytes;
    while (this.entries.size > 1 && (this.entries.size > this.opts.maxEntries || this.bytes > this.opts.maxBytes)) {
      const [k, e] = this.entries.entries().next().value!;
      this.drop(k, e);
    }
  }

  /** Bytes of tape kept. */
  get keptBytes(): number {
    return this.bytes;
  }

  private drop(key: string, e: TapeEntry): void {
    this.entries.delete(key);
    this.bytes -= e.bytes;
  }

  /** Drop entries not read for maxAgeMs (checked at most every tenth of it: the oldest are first in the map). */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.opts.maxAgeMs / 10) return;
    this.lastSweep = now;
    for (const [k, e] of this.entries) {
      if (now - e.usedAt <= this.opts.maxAgeMs) break;
      this.drop(k, e);
    }
  }
}

/** The key of a namespace read's tape in a thread: its path and inode (the byte cap is in the tape's own key). */
export function tapeCacheKey(path: string, inode: number): string {
  return `${inode}\u0000${path}`;
}

/** The tape a job may replay (JobMessage.previous): the id of the job that recorded it; its bytes unless the thread keeps it. */
export interface PreviousTape {
  id: number;
  tape: Uint8Array | null;
}

/**
 * The tape to replay for a job of namespace `key`: the thread's own entry recorded by job `previous.id`, else the
 * bytes sent with the job (decoded here, once: the entry put back after the replay keeps them), else none. Any other
 * entry of `key` is dropped (tape-cache header).
 */
export function tapeToReplay(cache: TapeCache, key: string, previous: PreviousTape | null): TapeEntry | null {
  const own = cache.take(key, previous?.id ?? null);
  if (own !== null || previous === null || previous.tape === null) return own;
  try {
    return { id: previous.id, script: decodeScript(previous.tape), bytes: previous.tape.byteLength, usedAt: 0 };
  } catch (err) {
    if (err instanceof DecodeError) return null; // not a tape this build wrote: read afresh
    throw err;
  }
}
