/**
 * The netlink pool's (pool.ts) watch on threads that make no progress: when a thread counts as moving, when a spare
 * is due, taking back the jobs sent behind a stuck read, and the two timers that wake the pool when one of these
 * will change (see pool.ts's header: one thread is the rule, a spare starts only past `spareAfterMs`).
 */
import { byId, isFree, lastProgress, type Pending, type Slot } from './pool-slot.js';

/** Default of PoolOptions.spareAfterMs: ~500 replayed reads, ~10 full reads of 2,000 legacy rules. */
export const SPARE_AFTER_MS = 250;

export class PoolStalls {
  /** Wakes pump() when the running threads will have made no progress for spareAfterMs. */
  private spareTimer: NodeJS.Timeout | null = null;
  /** Wakes pump() when the head read of a thread with jobs sent behind it will have made no progress for spareAfterMs. */
  private stuckTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Jobs taken back from a thread stuck on the read before them (Slot.epoch). */
  takenBack = 0;

  /** `pump` is the pool's: called when a timer fires, until close(). */
  constructor(
    private readonly spareAfterMs: number,
    private readonly pump: () => void,
  ) {}

  /** No more wake-ups (the pool is closing). */
  close(): void {
    this.closed = true;
    if (this.spareTimer) clearTimeout(this.spareTimer);
    this.spareTimer = null;
    if (this.stuckTimer) clearTimeout(this.stuckTimer);
    this.stuckTimer = null;
  }

  /**
   * May a thread start now (none is free)? Always when there is none; else only when every running one has made no
   * progress for spareAfterMs. When not yet, a timer calls pump() again at the moment it would be.
   */
  spareDue(slots: readonly Slot[]): boolean {
    if (slots.length === 0) return true;
    const now = performance.now();
    let latest = -Infinity;
    for (const s of slots) latest = Math.max(latest, lastProgress(s, now));
    const wait = latest + this.spareAfterMs - now;
    if (wait <= 0) return true;
    if (this.spareTimer === null) {
      this.spareTimer = setTimeout(() => {
        this.spareTimer = null;
        if (!this.closed) this.pump();
      }, Math.ceil(wait));
      this.spareTimer.unref(); // what waits keeps the process alive: the busy thread is ref'd
    }
    return false;
  }

  /** Free, or busy and not past spareAfterMs without progress. */
  moving(o: Slot): boolean {
    const now = performance.now();
    return isFree(o) || now - lastProgress(o, now) < this.spareAfterMs;
  }

  /**
   * The jobs sent behind the read of a thread that has made no progress for spareAfterMs go back to the front of the
   * queue (in order), for another thread or a spare, and that thread will skip them (Slot.epoch): a stuck read holds
   * up the reads sent with it no longer than the others (see pool.ts's header).
   */
  takeBackFromStuck(slots: readonly Slot[], queue: Pending[]): void {
    const back: Pending[] = [];
    for (const s of slots) {
      if (s.jobs.length < 2 || this.moving(s)) continue;
      Atomics.add(s.epoch, 0, 1);
      const tail = s.jobs.splice(1);
      this.takenBack += tail.length;
      back.push(...tail);
    }
    if (back.length > 0) queue.unshift(...back.sort(byId));
  }

  /** While a thread has jobs sent behind its read, pump() again when that read would count as stuck. */
  watchStuck(slots: readonly Slot[]): void {
    if (this.stuckTimer !== null || this.closed) return;
    let first = Infinity;
    const now = performance.now();
    for (const s of slots) if (s.jobs.length > 1) first = Math.min(first, lastProgress(s, now));
    if (first === Infinity) return;
    this.stuckTimer = setTimeout(() => {
      this.stuckTimer = null;
      if (!this.closed) this.pump();
    }, Math.max(1, Math.ceil(first + this.spareAfterMs - now)));
    this.stuckTimer.unref(); // the busy thread is ref'd
  }
}
