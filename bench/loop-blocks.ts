/**
 * Bench-only diagnosis (bench/profile.ts --loop-blocks): which phase of a collection blocks the event loop. A
 * self-rescheduling 1 ms timer records every gap longer than BLOCK_MS with its end time; after a collection, each
 * gap is put in the phase that was running when it ended (the collectors run one after another, so their start
 * times follow from the snapshot's per-collector durations; then the metrics pipeline). Costs ~1,000 timer firings
 * per second, so it is never on while CPU is measured. Garbage-collection pauses longer than BLOCK_MS are
 * attributed the same way, as `gc <phase>` (a block is often a pause, not our code). Each timer gap also carries the
 * event-loop thread's own CPU time over it (threadCpuNanos), reported as `<phase> cpu` next to the phase's longest
 * gap, and as `<phase> own` the most thread CPU of any of the phase's gaps (the longest stretch of own work): wall
 * well above CPU means the thread was preempted (our reader threads, V8's, other processes), wall close to CPU means
 * our own synchronous work (or a GC pause on this thread); `<phase> js` is the most thread CPU of any gap less the
 * GC pauses within it (our code alone).
 */
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import type { CollectorResult } from '../agent/snapshot.js';
import { threadCpuNanos } from '../agent/netns/netlink/thread-cpu.js';

const BLOCK_MS = 3;

export class LoopBlocks {
  private readonly gaps: LoopGap[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Every GC pause (start, end), kept until take() to tell how much of a timer gap was a pause. */
  private pauses: [number, number][] = [];
  private readonly gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as PerformanceEntry[]) {
      this.pauses.push([e.startTime, e.startTime + e.duration]);
      if (e.duration > BLOCK_MS) this.gaps.push({ end: e.startTime + e.duration, ms: e.duration, gc: true });
    }
  });
  private last = 0;
  private lastCpu = 0;

  start(): void {
    this.gc.observe({ entryTypes: ['gc'] });
    this.last = performance.now();
    this.lastCpu = threadCpuNanos();
    const tick = (): void => {
      const now = performance.now();
      const cpu = threadCpuNanos();
      const gap = now - this.last - 1;
      if (gap > BLOCK_MS) this.gaps.push({ end: now, ms: gap, gc: false, cpuMs: (cpu - this.lastCpu) / 1e6 });
      this.last = now;
      this.lastCpu = cpu;
      this.timer = setTimeout(tick, 1);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, 1);
    this.timer.unref();
  }

  stop(): void {
    this.gc.disconnect();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Longest gap (ms) per phase between `t0` and `t2` (attributeGaps); the gaps are then forgotten. */
  take(t0: number, t1: number, t2: number, collectors: readonly CollectorResult[]): Record<string, number> {
    const pauses = this.pauses.splice(0);
    const gaps = this.gaps.splice(0).map((g) => (g.gc ? g : { ...g, gcMs: pauseOverlap(pauses, g.end - g.ms - 1, g.end) }));
    return attributeGaps(gaps, t0, t1, t2, collectors);
  }
}

export interface LoopGap {
  /** performance.now() when the gap ended. */
  end: number;
  ms: number;
  gc: boolean;
  /** The event-loop thread's own CPU time over the gap (timer gaps only). */
  cpuMs?: number;
  /** GC pause time within the gap (timer gaps only). */
  gcMs?: number;
}

/** Milliseconds of the pauses [start, end] that fall within [from, to]. PURE. */
export function pauseOverlap(pauses: readonly [number, number][], from: number, to: number): number {
  let ms = 0;
  for (const [a, b] of pauses) ms += Math.max(0, Math.min(b, to) - Math.max(a, from));
  return ms;
}

/** Collectors that collection.ts starts right after the first one, running alongside the next ones (its OVERLAPPING). */
const OVERLAPPING: ReadonlySet<string> = new Set(['stats']);

/**
 * Longest gap (ms) per phase between `t0` and `t2`: the collectors from `t0` in order (their start times follow from
 * their durations; an OVERLAPPING one from the first one's end, its gaps named `<collector>+stats`), `pipeline`
 * from `t1`; with `<phase> cpu` the thread CPU over that longest gap and `<phase> own` the most thread CPU over any of its gaps,
 * when known. PURE.
 */
export function attributeGaps(gaps: readonly LoopGap[], t0: number, t1: number, t2: number, collectors: readonly CollectorResult[]): Record<string, number> {
  const bounds: { name: string; end: number }[] = [];
  const alongside: { name: string; from: number; end: number }[] = [];
  let at = t0;
  for (const c of collectors) {
    if (bounds.length > 0 && OVERLAPPING.has(c.collector)) alongside.push({ name: c.collector, from: bounds[0]!.end, end: bounds[0]!.end + c.seconds * 1000 });
    else bounds.push({ name: c.collector, end: (at += c.seconds * 1000) });
  }
  const out: Record<string, number> = {};
  for (const g of gaps) {
    if (g.end < t0 || g.end > t2 + 50) continue;
    let where = g.end >= t1 ? 'pipeline' : bounds.find((b) => g.end <= b.end + 1)?.name ?? 'collect (between collectors)';
    const also = g.end >= t1 ? [] : alongside.filter((a) => g.end >= a.from && g.end <= a.end + 1).map((a) => a.name);
    if (also.length > 0) where = `${where}+${also.join('+')}`;
    const phase = g.gc ? `gc ${where}` : where;
    if (g.cpuMs !== undefined) out[`${phase} own`] = Math.max(out[`${phase} own`] ?? 0, Math.round(g.cpuMs * 10) / 10);
    if (g.cpuMs !== undefined && g.gcMs !== undefined) out[`${phase} js`] = Math.max(out[`${phase} js`] ?? 0, Math.round(Math.max(0, g.cpuMs - g.gcMs) * 10) / 10);
    const ms = Math.round(g.ms * 10) / 10;
    if (ms <= (out[phase] ?? 0)) continue;
    out[phase] = ms;
    if (g.cpuMs !== undefined) out[`${phase} cpu`] = Math.round(g.cpuMs * 10) / 10;
    else delete out[`${phase} cpu`];
  }
  return out;
}
