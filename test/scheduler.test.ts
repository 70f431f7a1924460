import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsPipeline } from '../agent/metrics/pipeline.js';
import { PersistentMetrics } from '../agent/metrics/registry.js';
import { CollectionScheduler, collectionSoftDeadlineMs, collectionTimeoutMs } from '../agent/scheduler.js';
import { renderRegistry } from '../agent/metrics/registry.js';
import { Registry } from 'prom-client';
import type { Snapshot } from '../agent/snapshot.js';
import { chaos, chaosPod, cleanPod, sandboxStopped, snapshot } from './metrics/fixtures.js';

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

const schedulers: CollectionScheduler[] = [];
afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop();
});

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

function make(collect: (signal: AbortSignal) => Promise<Snapshot>, intervalMs: number, log = capture().log): CollectionScheduler {
  const pipeline = new MetricsPipeline({ compatMetrics: true, persistent: new PersistentMetrics({ defaultMetrics: false }), log });
  const s = new CollectionScheduler({ intervalMs, collect, process: (snap, signal) => pipeline.process(snap, signal), log });
  schedulers.push(s);
  return s;
}

describe('CollectionScheduler', () => {
  it('collects every interval, never overlapping, even when a collection outlasts the interval', async () => {
    let running = 0;
    let maxRunning = 0;
    const starts: number[] = [];
    const ends: number[] = [];
    const s = make(async (signal) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      starts.push(Date.now());
      await sleep(starts.length === 2 ? 150 : 5, undefined, { signal }).finally(() => {
        running -= 1;
        ends.push(Date.now());
      });
      return snapshot([cleanPod()]);
    }, 40);
    s.start();
    s.start(); // idempotent
    await until(() => starts.length >= 5, 30_000);
    await s.stop();
    expect(maxRunning).toBe(1);
    // Start to start about one interval (the scheduler waits out a timer that fires early by the wall clock). The
    // interval runs from the scheduler's tick; this collector notes its start later, by however long the machine
    // takes to run it (CI saw 38 ms, then 32 ms at a 40 ms interval, both on a busy machine: a start noted late after
    // its tick, the next one not). Half the interval still tells a scheduler that waits from one that does not (it
    // would start every 5 ms, the collections' own length).
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(20);
    // The 150 ms collection overran its 40 ms interval: the next one started after it ended, not during.
    expect(starts[2]!).toBeGreaterThanOrEqual(ends[1]!);
  });

  it('joins the collection in progress (single-flight)', async () => {
    let n = 0;
    const s = make(async (signal) => {
      n += 1;
      await sleep(50, undefined, { signal });
      return snapshot([cleanPod()]);
    }, 60_000);
    const [a, b, c] = await Promise.all([s.collectNow(), s.collectNow(), s.collectNow()]);
    expect(n).toBe(1);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(a.seq).toBe(1);
    expect((await s.collectNow()).seq).toBe(2);
  });

  it('logs each injection start and end once, at info, as an event', async () => {
    const { log, lines } = capture();
    const snaps = [
      snapshot([chaosPod()]),
      snapshot([chaosPod()]),
      snapshot([{ ...chaosPod(), chaos: chaos('active', ['loss']) }]),
    ];
    let i = 0;
    const s = make(async () => snaps[Math.min(i++, snaps.length - 1)]!, 60_000, log);
    for (let k = 0; k < 4; k++) await s.collectNow();
    const events = lines.filter((l) => l.event).map((l) => [l.level, l.event, l.namespace, l.pod, l.kind, l.evidence]);
    expect(events).toEqual([
      [30, 'injection_started', 'default', 'web-1', 'bandwidth', ['bandwidth evidence']],
      [30, 'injection_started', 'default', 'web-1', 'delay', ['delay evidence']],
      [30, 'injection_started', 'default', 'web-1', 'loss', ['loss evidence']],
      [30, 'injection_started', 'default', 'web-1', 'partition', ['partition evidence']],
      [30, 'injection_ended', 'default', 'web-1', 'bandwidth', ['bandwidth evidence']],
      [30, 'injection_ended', 'default', 'web-1', 'delay', ['delay evidence']],
      [30, 'injection_ended', 'default', 'web-1', 'partition', ['partition evidence']],
    ]);
    // Nothing else at info: no per-collection chatter.
    expect(lines.filter((l) => !l.event)).toEqual([]);
  });

  /** README's log section: from its first line to the Metrics heading. */
  const readmeLogs = (): string => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    return readme.slice(readme.indexOf('Logs are JSON lines'), readme.indexOf('### Metrics'));
  };
  /** The scheduler's injection log lines for these snapshots, one collection each. */
  const logged = async (snaps: Snapshot[]): Promise<Record<string, unknown>[]> => {
    const { log, lines } = capture();
    let i = 0;
    const s = make(async () => snaps[Math.min(i++, snaps.length - 1)]!, 60_000, log);
    for (let k = 0; k < snaps.length; k++) await s.collectNow();
    return lines.filter((l) => l.event);
  };

  it("logs the injection events in the shape of README's examples: every field with its JSON type, evidence an array", async () => {
    const type = (v: unknown): string => (Array.isArray(v) ? `array of ${[...new Set(v.map((x) => typeof x))].join(',')}` : typeof v);
    // The logger's own fields (level: a label in the agent's pino, a number in this one; time; app) aside.
    const own = new Set(['level', 'time', 'app', 'pid', 'hostname']);
    const shape = (o: Record<string, unknown>): [string, string][] => Object.keys(o).filter((k) => !own.has(k)).sort().map((k) => [k, type(o[k])]);
    const lines = await logged([snapshot([chaosPod()]), snapshot([])]);
    for (const [event, msg] of [['injection_started', 'injection started'], ['injection_ended', 'injection ended']] as const) {
      const example = new RegExp(`^\`(\\{"level":"info".*"event":"${event}".*\\})\`$`, 'm').exec(readmeLogs());
      expect(example, `README has the ${event} log example`).not.toBeNull();
      const documented = JSON.parse(example![1]!) as Record<string, unknown>;
      const line = lines.find((l) => l.event === event)!;
      expect([event, shape(documented)]).toEqual([event, shape(line)]);
      expect(type(documented.evidence)).toBe('array of string');
      expect([documented.msg, line.msg]).toEqual([msg, msg]);
      if (event === 'injection_ended') expect(documented.reason).toBe(line.reason);
    }
  });

  it("emits exactly the end reasons README's log section documents, and none on a plain end", async () => {
    const withChaos = { ...chaosPod(), chaos: chaos('active', ['delay']) };
    const dead = sandboxStopped(withChaos);
    const recreated = { ...withChaos, pod: { ...withChaos.pod!, uid: 'uid-2', sandboxId: 'sb-2' } };
    const ends = (await logged([
      snapshot([withChaos]), snapshot([]), // gone from a complete listing
      snapshot([withChaos]), snapshot([dead]), // its sandbox stopped
      snapshot([withChaos]), snapshot([recreated]), // deleted and created again: a new uid
      snapshot([{ ...recreated, chaos: chaos('clean') }]), // read, the fault not there: no reason
    ])).filter((l) => l.event === 'injection_ended');
    expect(ends.map((l) => l.reason ?? null)).toEqual(['pod_gone', 'sandbox_not_ready', 'pod_replaced', null]);
    expect('reason' in ends[3]!).toBe(false);
    const documented = [...readmeLogs().matchAll(/"reason":"([a-z_]+)"/g)].map((m) => m[1]!);
    const emitted = ends.flatMap((l) => (typeof l.reason === 'string' ? [l.reason] : []));
    expect([...new Set(documented)].sort()).toEqual([...new Set(emitted)].sort());
  });

  it('keeps the last good collection when one fails, and logs the failure once per loop tick', async () => {
    const { log, lines } = capture();
    let n = 0;
    const s = make(async () => {
      n += 1;
      if (n === 2) throw new Error('runtime exploded');
      return snapshot([cleanPod()], { finishedAt: 1000 + n });
    }, 60_000, log);
    const first = await s.collectNow();
    await expect(s.collectNow()).rejects.toThrow('runtime exploded');
    expect(s.latest).toBe(first);
    expect(s.latest!.snapshot.finishedAt).toBe(1001);
    const third = await s.collectNow();
    expect([third.seq, third.snapshot.finishedAt]).toEqual([2, 1003]);
    expect(lines.map((l) => l.msg)).toEqual(['collection recovered']);

    // In the loop, a failure is logged at warn and the loop goes on.
    const loop = capture();
    let m = 0;
    const t = make(async () => {
      m += 1;
      if (m === 1) throw new Error('first fails');
      return snapshot([]);
    }, 20, loop.log);
    t.start();
    await until(() => (t.latest?.seq ?? 0) >= 2, 30_000);
    expect(loop.lines.filter((l) => l.msg === 'collection failed').map((l) => [l.level, l.err])).toEqual([[40, 'first fails']]);
  });

  it('stop() aborts the collection in progress and settles at once', async () => {
    let aborted = false;
    // Bounds against a collection of 120 s: "at once" is far below it, and far above what scheduling on a loaded
    // machine adds (the 100 ms it was is not).
    const s = make(async (signal) => {
      await sleep(120_000, undefined, { signal }).catch((err: unknown) => {
        aborted = signal.aborted;
        throw err;
      });
      return snapshot([]);
    }, 60_000);
    s.start();
    await sleep(20);
    expect(s.collecting).toBe(true);
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(aborted).toBe(true);
    expect(s.latest).toBeNull();
    await expect(s.waitForFirst(1000)).resolves.toBeNull();
    await expect(s.collectNow()).rejects.toThrow('scheduler stopped');
  });

  it('waitForFirst resolves with the first collection or null after the timeout', async () => {
    const s = make(async (signal) => {
      await sleep(60, undefined, { signal });
      return snapshot([]);
    }, 60_000);
    expect(await s.waitForFirst(10)).toBeNull();
    s.start();
    const first = await s.waitForFirst(30_000);
    expect(first?.seq).toBe(1);
  });

  it('aborts a collection that passes its deadline', async () => {
    const pipeline = new MetricsPipeline({ compatMetrics: true, persistent: new PersistentMetrics({ defaultMetrics: false }), log: capture().log });
    const s = new CollectionScheduler({
      intervalMs: 60_000, collectionTimeoutMs: 50, log: capture().log,
      collect: async (signal) => {
        await sleep(120_000, undefined, { signal });
        return snapshot([]);
      },
      process: (snap, signal) => pipeline.process(snap, signal),
    });
    schedulers.push(s);
    const t0 = Date.now();
    await expect(s.collectNow()).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(15_000); // at its 50 ms deadline, not after the collection's 120 s
  });
  it('keeps nothing per collection once it settled (deadline timer cleared, no signal kept by the stopper)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const snap = snapshot([]);
    const metrics = await renderRegistry(new Registry());
    const s = new CollectionScheduler({
      intervalMs: 60_000, collectionTimeoutMs: 5, log: capture().log,
      collect: async () => snap,
      process: async () => ({ metrics, events: [] }),
    });
    schedulers.push(s);
    const settle = async (): Promise<number> => {
      await sleep(50); // every deadline (5 ms) has passed
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    for (let i = 0; i < 500; i++) await s.collectNow();
    const before = await settle();
    for (let i = 0; i < 20_000; i++) await s.collectNow();
    const grown = (await settle()) - before;
    expect(s.latest?.seq).toBe(20_500);
    // With AbortSignal.any([stopper, AbortSignal.timeout()]) about 9 MB stayed reachable here; now about 0.1 MB.
    expect(grown).toBeLessThan(3 << 20);
  });
});

describe('collection deadlines', () => {
  it('are twice the interval, at least 30 s, and never past what a Node timer holds', () => {
    expect(collectionTimeoutMs(2_000)).toBe(30_000);
    expect(collectionTimeoutMs(15_000)).toBe(30_000);
    expect(collectionTimeoutMs(60_000)).toBe(120_000);
    expect(collectionSoftDeadlineMs(60_000)).toBe(115_000);
    // --interval 299h: 2 x 299h is past 2^31-1 ms, which a timer would fire after 1 ms (every collection "late").
    expect(collectionTimeoutMs(299 * 3_600_000)).toBe(2 ** 31 - 1);
    expect(collectionTimeoutMs(596 * 3_600_000)).toBe(2 ** 31 - 1);
  });
});
