/**
 * A deadline that costs no timer to move: the pool (pool.ts) sets one per job (the watchdog: budget + grace) and one
 * per free thread (its idle stop), ~2 x 110 times per collection, and a job lasts ~0.3 ms against a budget of
 * seconds. A setTimeout + clearTimeout per job allocated two Timeouts and two closures and touched the timer lists
 * each time; here set() and clear() only write `at`, and one timer runs, armed for the earliest deadline asked
 * since it last fired. When it fires it checks the deadline asked now: passed, onDue runs; later, it is armed again
 * for it; none (cleared), it stops. So onDue runs at the deadline last set (never earlier; later only by the timer's
 * own lateness), exactly as a fresh timer per set() would, and never for a deadline cleared before it.
 */
export class LazyDeadline {
  /** The deadline asked (performance.now() ms); Infinity: none. */
  private at = Infinity;
  /** When the running timer fires (Infinity: none runs). */
  private due = Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly onDue: () => void) {}

  /** onDue at `at` (performance.now() ms), replacing any deadline asked before. */
  set(at: number): void {
    this.at = at;
    if (at < this.due) this.arm(at);
  }

  /** No deadline: onDue does not run (the timer, if any, stops at its next firing). */
  clear(): void {
    this.at = Infinity;
  }

  /** No deadline and no timer (the owner is gone). */
  dispose(): void {
    this.at = Infinity;
    this.due = Infinity;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.due = at;
    // Unref'd as the timers it replaces were: what waits on the deadline keeps the process alive itself.
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(at - performance.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    this.due = Infinity;
    if (this.at === Infinity) return;
    if (performance.now() < this.at) {
      this.arm(this.at); // set later since this timer was armed (or the timer ran a fraction of a ms early)
      return;
    }
    this.at = Infinity;
    this.onDue();
  }
}
