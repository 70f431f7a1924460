/**
 * The pool's per-job watchdog and idle stop (lazy-deadline.ts): onDue runs at the deadline last set, never before
 * it, never for one cleared, and an earlier deadline set while a later timer runs is still kept.
 */
import { describe, expect, it } from 'vitest';
import { LazyDeadline } from '../../../agent/netns/netlink/lazy-deadline.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LazyDeadline', () => {
  it('runs at the deadline last set: moved later, it does not run at the first one', async () => {
    const at: number[] = [];
    const d = new LazyDeadline(() => at.push(performance.now()));
    const t0 = performance.now();
    d.set(t0 + 30);
    d.set(t0 + 120); // a later job's deadline replaces the first
    await sleep(80);
    expect(at).toEqual([]);
    await sleep(100);
    expect(at.length).toBe(1);
    expect(at[0]! - t0).toBeGreaterThanOrEqual(120);
    d.dispose();
  });

  it('an earlier deadline set while a later timer runs fires at its own time', async () => {
    const at: number[] = [];
    const d = new LazyDeadline(() => at.push(performance.now()));
    const t0 = performance.now();
    d.set(t0 + 5000);
    d.set(t0 + 20);
    await sleep(200);
    expect(at.length).toBe(1);
    expect(at[0]! - t0).toBeGreaterThanOrEqual(20);
    expect(at[0]! - t0).toBeLessThan(1000);
    d.dispose();
  });

  it('a cleared deadline never runs; one set again after clear runs once', async () => {
    let n = 0;
    const d = new LazyDeadline(() => n++);
    d.set(performance.now() + 20);
    d.clear();
    await sleep(60);
    expect(n).toBe(0);
    d.set(performance.now() + 10);
    await sleep(60);
    expect(n).toBe(1);
    await sleep(30);
    expect(n).toBe(1);
    d.set(performance.now() + 10);
    d.dispose();
    await sleep(40);
    expect(n).toBe(1);
  });
});
