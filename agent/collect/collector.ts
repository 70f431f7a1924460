/**
 * One interface for every source of a collection, as node_exporter has for its collectors: a name, an enable
 * flag, and one method. The runner times each collector, turns a throw into `success: false` with the error (one
 * failing collector never stops the next), and reports uniform chaos_daemon_scrape_collector_{success,duration}.
 *
 * Collectors share one Draft: runtime fills the pods, netns reads their namespaces, stats adds container usage,
 * later collectors (processes, bpm, intent) build on what is there. They run in order, except stats, which needs
 * only runtime and waits alongside the others, and the part of a collector that needs only runtime (its `start`:
 * proc's scan), which runs alongside the collectors before it (agent/collection.ts).
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CollectorResult } from '../snapshot.js';
import type { Draft } from './draft.js';

export type CollectorName = 'runtime' | 'netns' | 'stats' | 'proc' | 'bpm' | 'kube';

/** What a collector says about its own run when it did not throw (default: success). */
export interface CollectorOutcome {
  success: boolean;
  error?: string;
}

export interface CollectContext {
  signal?: AbortSignal;
  /** performance.now() time by which the collection should publish; slow work past it is reported, not awaited. */
  deadline: number;
  log: Logger;
}

export interface Collector {
  readonly name: CollectorName;
  /**
   * Optional: begin the work that needs only the runtime collector's part of the draft, right after it (the runner
   * calls it before the collectors in between run); `collect` then finishes it. Must not throw or reject: failures
   * are `collect`'s outcome. The collector's time counts from here.
   */
  start?(draft: Draft, ctx: CollectContext): void;
  collect(draft: Draft, ctx: CollectContext): Promise<CollectorOutcome | void>;
}

/** Run one collector: timed (from `t0`, its start() when it had one), never throws. */
export async function runCollector(c: Collector, draft: Draft, ctx: CollectContext, t0 = performance.now()): Promise<CollectorResult> {
  try {
    if (ctx.signal?.aborted) return { collector: c.name, success: false, seconds: 0, error: 'aborted' };
    const out = (await c.collect(draft, ctx)) ?? { success: true };
    const r: CollectorResult = { collector: c.name, success: out.success, seconds: (performance.now() - t0) / 1000 };
    if (out.error !== undefined) r.error = out.error;
    return r;
  } catch (err) {
    ctx.log.warn({ collector: c.name, err: errorMessage(err) }, 'collector failed');
    return { collector: c.name, success: false, seconds: (performance.now() - t0) / 1000, error: errorMessage(err) };
  }
}
