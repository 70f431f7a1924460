import { describe, expect, it } from 'vitest';
import { Slicer } from '../../agent/metrics/slicer.js';

/** Busy for `ms` of wall time (a unit of synchronous work). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

/**
 * Counts turns of the event loop: a self-requeuing immediate runs once per check phase. Each unit of work is
 * recorded with the turn it ran in.
 */
function turnCounter(): { now: () => number; stop: () => void } {
  let turn = 0;
  let running = true;
  const tick = (): void => {
    turn += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return { now: () => turn, stop: () => void (running = false) };
}

async function loop(name: string, units: number, slicer: Slicer, turns: () => number, log: { name: string; turn: number }[]): Promise<void> {
  for (let i = 0; i < units; i++) {
    if (slicer.due) await slicer.point();
    spin(1);
    log.push({ name, turn: turns() });
  }
}

describe('Slicer: one slice per turn of the event loop, shared by the loops running at once', () => {
  it('three loops of 1 ms units with 4 ms slices: each turn runs ~one slice in all, and every loop progresses', async () => {
    const turns = turnCounter();
    const log: { name: string; turn: number }[] = [];
    const slicers = ['a', 'b', 'c'].map(() => new Slicer(4));
    // Each loop starts where collectors start: from a callback of their own, not from a turn.
    await Promise.all(['a', 'b', 'c'].map((name, k) => new Promise<void>((resolve, reject) => setImmediate(() => loop(name, 24, slicers[k]!, turns.now, log).then(resolve, reject)))));
    turns.stop();
    expect(log).toHaveLength(72);
    const perTurn = new Map<number, number>();
    for (const u of log) perTurn.set(u.turn, (perTurn.get(u.turn) ?? 0) + 1);
    // One slice of 4 ms: the loop that runs it does 4-5 units; a loop resumed after it did one unit (its resume to its
    // next point) and yields again. With a slice per slicer, a turn ran all three slices (~15 units).
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(7);
    // Fair: while a loop is unfinished, it runs at least one unit every few turns (starved loops go first next turn).
    for (const name of ['a', 'b', 'c']) {
      const mine = log.filter((u) => u.name === name).map((u) => u.turn);
      for (let i = 1; i < mine.length; i++) expect(mine[i]! - mine[i - 1]!).toBeLessThanOrEqual(4);
    }
    for (const s of slicers) expect(s.yields).toBeGreaterThan(3);
  });

  it('a loop alone yields once per slice, and point() is free while the slice lasts', async () => {
    const turns = turnCounter();
    const log: { name: string; turn: number }[] = [];
    const slicer = new Slicer(5);
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => setImmediate(() => loop('solo', 30, slicer, turns.now, log).then(resolve, reject)));
    const wallMs = performance.now() - t0;
    turns.stop();
    const perTurn = new Map<number, number>();
    for (const u of log) perTurn.set(u.turn, (perTurn.get(u.turn) ?? 0) + 1);
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(6);
    expect(Math.max(...perTurn.values())).toBeGreaterThanOrEqual(4);
    expect(slicer.yields).toBeGreaterThanOrEqual(5);
    // A yield only once 5 ms of the turn are spent (the first may find a turn started before the loop): ~31 ms of
    // 1 ms units give at most 7. Bounded by the wall time rather than by the units, since a unit the scheduler
    // preempts lasts longer than 1 ms (a CI run on a busy machine counted 10 yields, 2026-12-02).
    expect(slicer.yields).toBeLessThanOrEqual(Math.floor(wallMs / 5) + 1);
  });

  it('aborts at the next yield once its signal is aborted', async () => {
    const ac = new AbortController();
    const slicer = new Slicer(0, ac.signal);
    await slicer.point();
    ac.abort(new Error('stop'));
    await expect(slicer.point()).rejects.toThrow('stop');
  });
});
