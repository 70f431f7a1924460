/**
 * What the pool (pool.ts) keeps of each namespace's last read so an unchanged namespace is not decoded nor posted
 * again: its state, the id of the job that read it, that read's tape and the thread that keeps the tape decoded
 * under the same id (tape-cache.ts: a job to that thread carries no bytes), keyed by path and inode, and the replay
 * back-off.
 *
 * A replay that misses costs its answers up to the first difference on top of the full read. A namespace whose
 * counters move with traffic (a busy pod's qdisc) misses every time, so after MISSES_BEFORE_BACKOFF misses in a row
 * its next reads go without the tape (plain reads, a new tape kept each time), 2, then 4, then at most
 * MAX_SKIPPED_REPLAYS of them, before one replay is tried again; any hit ends the back-off. A read whose thread held
 * no tape to replay (another thread, a replaced one) is no miss.
 */
import type { NetnsState } from '../state.js';
import type { NetlinkJob } from './read-namespace.js';
import { tapeCacheKey } from './tape-cache.js';

/** Consecutive replay misses after which the next reads skip the replay (see the header). */
const MISSES_BEFORE_BACKOFF = 2;
/** Reads without a replay at most between two replay attempts. */
const MAX_SKIPPED_REPLAYS = 8;

/** Reads that skip their replay after `misses` misses in a row: 0 below MISSES_BEFORE_BACKOFF, then 2, 4, 8, 8... */
export function replaysToSkip(misses: number): number {
  if (misses < MISSES_BEFORE_BACKOFF) return 0;
  return Math.min(2 ** (misses - MISSES_BEFORE_BACKOFF + 1), MAX_SKIPPED_REPLAYS);
}

/** The last read of one namespace: its state, the id of its job and its tape. */
export interface Kept {
  readonly state: NetnsState;
  readonly tapeId: number;
  readonly tape: Uint8Array;
  /** threadId of the thread that last read the namespace with this tape (it keeps it decoded). */
  holder: number;
  /** For the tape's key (same byte cap). */
  readonly maxSourceBytes: number;
  usedAt: number;
  /** Replays of this namespace that missed in a row. */
  misses: number;
  /** Reads still to make without a replay (the back-off). */
  skip: number;
}

/** How a full read ended, as its thread answered (worker-main.ts). */
export interface FullRead {
  state: NetnsState;
  /** The read's tape (null: none can be kept); its thread keeps it under the job's id. */
  tape: Uint8Array | null;
  /** A kept tape was replayed first and missed. */
  replayed: boolean;
}

/** The namespace's key, as its thread keys the tape (a job with an inode only). */
function keyOf(job: NetlinkJob): string {
  return tapeCacheKey(job.path, job.inode!);
}

export class KeptReads {
  private readonly kept = new Map<string, Kept>();
  private lastSweep = 0;
  /** Reads answered `unchanged` (the kept state returned again). */
  reused = 0;
  /** Reads made without their replay, the namespace's replays having missed in a row (back-off). */
  replaysSkipped = 0;

  /** keepMs: drop a namespace's kept read after this long without a read. */
  constructor(private readonly keepMs: number) {}

  /** The kept read of the job's namespace, when one may be replayed (an inode to key it, the same byte cap). */
  forJob(job: NetlinkJob): Kept | null {
    const now = performance.now();
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      for (const [k, v] of this.kept) if (now - v.usedAt > this.keepMs) this.kept.delete(k);
    }
    if (job.inode === null) return null;
    const k = this.kept.get(keyOf(job));
    if (k === undefined || k.maxSourceBytes !== job.maxSourceBytes) return null;
    if (k.skip > 0) {
      k.skip--;
      this.replaysSkipped++;
      return null;
    }
    return k;
  }

  /**
   * A job that named `kept`'s id was answered `unchanged`: only the thread holding the tape that read recorded answers
   * so, hence that read's state is what the namespace still holds.
   */
  unchanged(kept: Kept, thread: number): NetnsState {
    kept.usedAt = performance.now();
    kept.holder = thread; // it keeps the tape now (sent or its own)
    kept.misses = 0;
    this.reused++;
    return kept.state;
  }

  /** Job `id` (`kept`: the read it named, if any) read the namespace in full on `thread`: keep its state and tape. */
  full(job: NetlinkJob, id: number, kept: Kept | null, r: FullRead, thread: number): void {
    if (job.inode === null) return;
    const key = keyOf(job);
    const prev = this.kept.get(key);
    // A replay that missed extends the back-off; a read that skipped its replay, or whose thread had no tape to
    // replay, keeps what is left of it.
    const misses = r.replayed ? (kept?.misses ?? 0) + 1 : prev?.misses ?? 0;
    const skip = r.replayed ? replaysToSkip(misses) : prev?.skip ?? 0;
    if (r.tape === null) this.kept.delete(key);
    else this.kept.set(key, { state: r.state, tapeId: id, tape: r.tape, holder: thread, maxSourceBytes: job.maxSourceBytes, usedAt: performance.now(), misses, skip });
  }

  clear(): void {
    this.kept.clear();
  }
}
