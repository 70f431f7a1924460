/**
 * Background collection loop of `serve`: one collection every interval, single-flight (a collection never
 * overlaps another; asking while one runs joins it), abortable, with a per-collection deadline. Keeps the
 * latest Snapshot and its metrics, rendered in the variants scrapers ask for, so a scrape only writes a buffer and
 * never triggers a collection.
 * Logs each injection appearing/disappearing once, at info, as an event; nothing per scrape.
 */
import { setMaxListeners } from 'node:events';
import { AgentError, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import type { InjectionEvent } from './metrics/injection-tracker.js';
import type { RenderedMetrics } from './metrics/exposition.js';
import type { Snapshot } from './snapshot.js';

export interface Published {
  snapshot: Snapshot;
  metrics: RenderedMetrics;
  /** 1 for the first published collection, then 2, 3, ... */
  seq: number;
}

export interface SchedulerOptions {
  intervalMs: number;
  /** One full collection; must honour `signal`. */
  collect: (signal: AbortSignal) => Promise<Snapshot>;
  /** Turns a snapshot into rendered metrics and injection events (MetricsPipeline.process). */
  process: (snapshot: Snapshot, signal: AbortSignal) => Promise<{ metrics: RenderedMetrics; events: InjectionEvent[] }>;
  log: Logger;
  /** Deadline of one collection; default max(2 x interval, 30 s). */
  collectionTimeoutMs?: number;
}

/** Hard deadline of one collection: max(2 x interval, 30 s), at most what a Node timer holds (2^31-1 ms). */
export function collectionTimeoutMs(intervalMs: number): number {
  return Math.min(Math.max(2 * intervalMs, 30_000), 2 ** 31 - 1);
}

/** When namespace reads still running are abandoned so the collection is published: 5 s before the hard deadline. */
export function collectionSoftDeadlineMs(intervalMs: number): number {
  return collectionTimeoutMs(intervalMs) - 5_000;
}

export class CollectionScheduler {
  private current: Published | null = null;
  private inFlight: Promise<Published> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly stopper = new AbortController();
  private waiters: ((p: Published | null) => void)[] = [];
  private started = 0;
  private failures = 0;

  constructor(private readonly opts: SchedulerOptions) {}

  /** The latest published collection, or null before the first one finished. */
  get latest(): Published | null {
    return this.current;
  }

  /** Collections started so far (finished or not). */
  get collectionsStarted(): number {
    return this.started;
  }

  get collecting(): boolean {
    return this.inFlight !== null;
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /** Start the loop: a collection now, then one every interval (measured start to start, never overlapping). */
  start(): void {
    if (this.timer !== null || this.inFlight !== null || this.stopped) return;
    this.tick();
  }

  private tick(due?: number): void {
    this.timer = null;
    if (this.stopped) return;
    const t0 = Date.now();
    // libuv times a timer from its loop time, cached when the loop iteration began: when schedule() ran late in an
    // iteration, the timer fires that much early by the wall clock (CI saw 38 ms start to start at a 40 ms interval).
    // A collection never starts before its interval is up: the rest is waited for.
    if (due !== undefined && t0 < due) {
      this.timer = setTimeout(() => this.tick(due), due - t0);
      return;
    }
    this.collectNow().then(
      () => this.schedule(t0),
      (err: unknown) => {
        if (!this.stopped) this.opts.log.warn({ err: errorMessage(err) }, 'collection failed');
        this.schedule(t0);
      },
    );
  }

  private schedule(startedAt: number): void {
    if (this.stopped) return;
    const due = startedAt + this.opts.intervalMs;
    this.timer = setTimeout(() => this.tick(due), Math.max(0, due - Date.now()));
  }

  /** Run a collection now, or join the one in progress (single-flight). Rejects if it fails; `latest` is then kept. */
  collectNow(): Promise<Published> {
    if (this.inFlight) return this.inFlight;
    if (this.stopped) return Promise.reject(new AgentError('STOPPED', 'scheduler stopped'));
    const run = this.runOnce().finally(() => {
      this.inFlight = null;
    });
    this.inFlight = run;
    return run;
  }

  private async runOnce(): Promise<Published> {
    this.started += 1;
    const timeoutMs = this.opts.collectionTimeoutMs ?? collectionTimeoutMs(this.opts.intervalMs);
    // One controller per collection, aborted by stop() or the deadline; its timer and its listener on the
    // long-lived stopper are released when the collection settles. (AbortSignal.any([stopper, timeout]) is not
    // used: on Node 20 every combined signal stays reachable from the long-lived stopper, ~0.5 KB per collection.)
    const controller = new AbortController();
    const signal = controller.signal;
    const onStop = (): void => controller.abort(this.stopper.signal.reason);
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    if (this.stopper.signal.aborted) onStop();
    const deadline = setTimeout(
      () => controller.abort(new AgentError('COLLECTION_TIMEOUT', `collection passed its ${timeoutMs} ms deadline`)),
      timeoutMs,
    );
    deadline.unref();
    // One listener per queued/running namespace command: far more than the default warning threshold of 10.
    setMaxListeners(0, signal);
    try {
      const snapshot = await this.opts.collect(signal);
      signal.throwIfAborted();
      const { metrics, events } = await this.opts.process(snapshot, signal);
      for (const e of events) {
        this.opts.log.info({ ...e }, e.event === 'injection_started' ? 'injection started' : 'injection ended');
      }
      const published: Published = { snapshot, metrics, seq: (this.current?.seq ?? 0) + 1 };
      const replaced = this.current;
      this.current = published;
      // Its bodies are reused by the next rendering once the responses writing them are done (exposition.ts).
      if (replaced && replaced.metrics !== metrics) replaced.metrics.retire();
      if (this.failures > 0) this.opts.log.info({ failures: this.failures }, 'collection recovered');
      this.failures = 0;
      this.opts.log.debug(
        { seq: published.seq, seconds: snapshot.durationSeconds, pods: snapshot.pods.length, spawns: snapshot.spawns, samples: metrics.samples },
        'collection published',
      );
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w(published);
      return published;
    } catch (err) {
      this.failures += 1;
      throw err;
    } finally {
      clearTimeout(deadline);
      this.stopper.signal.removeEventListener('abort', onStop);
    }
  }

  /** The latest collection, waiting up to `timeoutMs` for the first one; null if none finished in time. */
  waitForFirst(timeoutMs: number): Promise<Published | null> {
    if (this.current) return Promise.resolve(this.current);
    if (this.stopped) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(null);
      }, timeoutMs);
      const done = (p: Published | null): void => {
        clearTimeout(timer);
        resolve(p);
      };
      this.waiters.push(done);
    });
  }

  /** Stop the loop and abort the collection in progress; resolves once it has settled. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopper.abort(new AgentError('STOPPED', 'scheduler stopped'));
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(null);
    const running = this.inFlight;
    if (running) {
      try {
        await running;
      } catch (err) {
        this.opts.log.debug({ err: errorMessage(err) }, 'collection aborted by stop');
      }
    }
  }
}
