/**
 * The benchmark's own arithmetic: issue 9's target checks pass and fail on the figures they are given, serve's
 * fallback metric is summed over every label set, and the loop-blocks probe puts each block in the phase that was
 * running when it ended.
 */
import { describe, expect, it } from 'vitest';
import { LoopBlocks, attributeGaps, pauseOverlap } from '../../bench/loop-blocks.js';
import { summarize } from '../../bench/measure.js';
import { checkTargets, loopWork, runQueue, windowsOf, type RowResult } from '../../bench/report.js';
import { sumSamples, type ServeLoadResult } from '../../bench/serve-load.js';

const MB = 1 << 20;

function row(o: { corpus?: RowResult['corpus']; pods?: number; baseCpu: number; agentCpu: number; baseWall: number; agentWall: number; p99: number; rssMb: number; blockMs: number; fallbacks?: number; calls?: number; pacedP99?: number }): RowResult {
  const side = (wall: number, cpu: number) => ({
    wallMs: summarize([wall]), cpuMs: summarize([cpu]), childCpuMs: summarize([0]), runtimeCpuMs: summarize([0]), spawns: [0], runtimeCalls: [o.calls ?? 4], series: 1, bytes: 1,
  });
  const serve: ServeLoadResult = {
    pid: 1, readyMs: 1,
    windows: [{ phase: 'idle', maxBlockMs: o.blockMs, p99BlockMs: 1, cpuMs: 10 }, { phase: 'load', maxBlockMs: 99, p99BlockMs: 1, cpuMs: 10 }],
    load: { connections: 50, seconds: 10, requests: 1000, latencyMs: { p50: 1, p90: 1, p99: o.p99, max: o.p99, mean: 1 }, errors: 0, timeouts: 0, non2xx: 0 },
    collections: 10, memoryAtReady: { rssBytes: o.rssMb * MB, hwmBytes: o.rssMb * MB }, memory: { rssBytes: o.rssMb * MB, hwmBytes: o.rssMb * MB },
    series: 1, bytes: 1, gzipBytes: 1, fallbacks: 0, lastCollectionMs: null,
    ...(o.pacedP99 !== undefined
      ? { paced: { connections: 50, seconds: 10, requests: 5000, latencyMs: { p50: 1, p90: 1, p99: o.pacedP99, max: o.pacedP99, mean: 1 }, errors: 0, timeouts: 0, non2xx: 0, ratePerConnection: 10 } }
      : {}),
  };
  return {
    corpus: o.corpus ?? 'chaos', pods: o.pods ?? 110, containers: 2 * (o.pods ?? 110),
    setup: { created: 0, createSeconds: 0, perPodMs: null, injectSeconds: 0, concurrency: 8 },
    baseline: side(o.baseWall, o.baseCpu),
    agent: {
      ...side(o.agentWall, o.agentCpu), collectMs: summarize([o.agentWall]), readerCpuMs: summarize([1]), otherCpuMs: summarize([1]),
      reads: [o.pods ?? 110], fallbacks: [o.fallbacks ?? 0], verdicts: { active: o.pods ?? 110 }, rssBytes: 1, collectionsSoFar: 1,
    },
    speedup: o.baseWall / o.agentWall, cpuRatio: o.baseCpu / o.agentCpu, serve, benchRssBytes: 1,
    loadavg: { min: 0, mean: 0, max: 0, n: 1 },
  };
}

const verdicts = (rows: RowResult[]) => Object.fromEntries(checkTargets(rows).map((c) => [c.name.replace(/ at \d+ pods.*| \(.*|, \d+ concurrent.*/, ''), c.pass]));

describe('issue 9 target checks', () => {
  it('pass when every figure is on the right side of its bound', () => {
    const good = row({ baseCpu: 3000, agentCpu: 100, baseWall: 4000, agentWall: 150, p99: 40, rssMb: 90, blockMs: 8 });
    expect(Object.values(verdicts([good])).every(Boolean)).toBe(true);
  });

  it('fail one by one: CPU 19x, wall 19x, p99 50 ms, RSS 100 MB, a 10 ms block, one fallback', () => {
    const base = { baseCpu: 1900, agentCpu: 100, baseWall: 1900, agentWall: 100, p99: 50, rssMb: 100, blockMs: 10, fallbacks: 1 };
    expect(verdicts([row(base)])).toEqual({
      'CPU per collection': false,
      'collection wall': false,
      'scrape p99': false,
      'serve RSS': false,
      'event-loop max block per collection': false,
      'reader fallbacks': false,
      'runtime calls per steady-state collection': true,
    });
  });

  it('quote the run-queue wait of each block over 10 ms and the longest of the thread\'s own, when the probe recorded them', () => {
    const r = row({ baseCpu: 3000, agentCpu: 100, baseWall: 4000, agentWall: 150, p99: 40, rssMb: 90, blockMs: 1 });
    const loopCheck = () => checkTargets([r]).find((c) => c.name.startsWith('event-loop max block'))!;
    expect(loopCheck().measured).toBe('chaos 110: 1.0 ms'); // results written before the probe's schedstat sampler
    r.serve!.windows = [
      { phase: 'idle', maxBlockMs: 14.1, p99BlockMs: 1, cpuMs: 10, worst: { gapMs: 14.0, runqMs: 11.3, ownMaxMs: 5.0 } },
      { phase: 'idle', maxBlockMs: 7.1, p99BlockMs: 1, cpuMs: 10, worst: { gapMs: 7.2, runqMs: 0, ownMaxMs: 7.2 } },
      { phase: 'idle', maxBlockMs: 10.2, p99BlockMs: 1, cpuMs: 10, worst: { gapMs: 10.3, runqMs: 8.8, ownMaxMs: 3.1 } },
      { phase: 'load', maxBlockMs: 22.1, p99BlockMs: 1, cpuMs: 10, worst: { gapMs: 22.1, runqMs: 23.2, ownMaxMs: 8.7 } },
    ];
    expect(runQueue(r.serve, 'idle')).toEqual({ over: 2, overRunq: [11.3, 8.8], ownMax: 7.2 });
    expect(runQueue(r.serve, 'load')).toEqual({ over: 1, overRunq: [23.2], ownMax: 8.7 });
    // The target is judged on the blocks as the event loop saw them: a wait for a CPU is still a block.
    expect(loopCheck()).toMatchObject({ measured: 'chaos 110: 14.1 ms (2 over 10 ms, of which waiting for a CPU 11.3/8.8 ms; own 7.2)', pass: false });
    r.serve!.loopFloor = { intervalMs: 2000, windows: [{ maxBlockMs: 3 }, { maxBlockMs: 12.5 }], rtWindows: [{ maxBlockMs: 1 }, { maxBlockMs: 11 }] };
    expect(loopCheck().measured).toBe('chaos 110: 14.1 ms (2 over 10 ms, of which waiting for a CPU 11.3/8.8 ms; own 7.2; an empty node 12.5 ms (1 over 10), under SCHED_FIFO 11.0 (1))');
    r.serve!.windows[0]!.worst = undefined;
    expect(runQueue(r.serve, 'idle')).toBeNull(); // a window without the sampler: no account of any
  });

  it('judge the loop\'s busy time per gap apart from its wall-clock blocks, when the probe recorded it', () => {
    const r = row({ baseCpu: 3000, agentCpu: 100, baseWall: 4000, agentWall: 150, p99: 40, rssMb: 90, blockMs: 1 });
    const busyCheck = () => checkTargets([r]).find((c) => c.name.startsWith('event-loop busy time'));
    r.serve!.windows = [
      { phase: 'idle', maxBlockMs: 14.1, p99BlockMs: 1, cpuMs: 10, stealMs: 20, worst: { gapMs: 14.0, runqMs: 11.3, ownMaxMs: 5.0, cpuMs: 0.2, cpuMaxMs: 4.1, activeMs: 0.3, activeMaxMs: 6.5 } },
      { phase: 'idle', maxBlockMs: 9.1, p99BlockMs: 1, cpuMs: 10, stealMs: 10, worst: { gapMs: 9.2, runqMs: 0, ownMaxMs: 9.2, cpuMs: 5.5, cpuMaxMs: 5.5, activeMs: 9.6, activeMaxMs: 9.6 } },
      { phase: 'load', maxBlockMs: 22.1, p99BlockMs: 1, cpuMs: 10, stealMs: 500, worst: { gapMs: 22.1, runqMs: 23.2, ownMaxMs: 8.7, cpuMs: 3, cpuMaxMs: 12, activeMs: 20, activeMaxMs: 20 } },
    ];
    expect(loopWork(r.serve, 'idle')).toEqual({ windows: 2, busyMax: 9.6, busyOver: 0, cpuMax: 5.5, stealMs: 30 });
    expect(loopWork(r.serve, 'load')).toEqual({ windows: 1, busyMax: 20, busyOver: 1, cpuMax: 12, stealMs: 500 });
    // The wall-clock check fails on the 14.1 ms gap the loop slept through; the busy one passes on 9.6.
    expect(checkTargets([r]).find((c) => c.name.startsWith('event-loop max block'))!.pass).toBe(false);
    expect(busyCheck()).toMatchObject({ measured: 'chaos 110: 9.6 ms (0 over 10; the main thread\'s CPU in one gap at most 5.5)', pass: true });
    r.serve!.windows[1]!.worst!.activeMaxMs = 10.4;
    expect(busyCheck()).toMatchObject({ measured: 'chaos 110: 10.4 ms (1 over 10; the main thread\'s CPU in one gap at most 5.5)', pass: false });
    delete r.serve!.windows[0]!.worst!.activeMaxMs;
    expect(loopWork(r.serve, 'idle')).toBeNull(); // results from before the account: no check at all
    expect(busyCheck()).toBeUndefined();
  });

  it('quote the agent\'s kernel time against the CPU 20x allows, when the row has it', () => {
    const r = row({ baseCpu: 1500, agentCpu: 110, baseWall: 1500, agentWall: 100, p99: 10, rssMb: 50, blockMs: 1 });
    const cpuCheck = () => checkTargets([r]).find((c) => c.name.startsWith('CPU per collection'))!.measured;
    expect(cpuCheck()).toBe('13.6x (1500 / 110 ms)');
    r.agent.kernelCpuMs = summarize([58, 60, 62]);
    expect(cpuCheck()).toBe("13.6x (1500 / 110 ms; the agent's kernel time alone 60 ms of the 75 ms 20x allows)");
  });

  it('judge the paced scrapers apart from the closed-loop ones: 49 ms passes, 50 fails, a row without the phase fails it', () => {
    const base = { baseCpu: 3000, agentCpu: 100, baseWall: 3000, agentWall: 100, rssMb: 50, blockMs: 1 };
    const v = (rows: RowResult[]) => { const all = verdicts(rows); return [all['scrape p99'], all['scrape p99, 50 paced scrapers']]; };
    expect(v([row({ ...base, p99: 120, pacedP99: 49 })])).toEqual([false, true]);
    expect(v([row({ ...base, p99: 10, pacedP99: 50 })])).toEqual([true, false]);
    expect(v([row({ ...base, p99: 10, pacedP99: 10 }), row({ ...base, corpus: 'mesh', p99: 10 })])).toEqual([true, false]);
  });

  it('quote each row\'s floor next to its p99, and judge the p99 alone', () => {
    const r = row({ baseCpu: 3000, agentCpu: 100, baseWall: 3000, agentWall: 100, p99: 71, rssMb: 50, blockMs: 1, pacedP99: 17 });
    const lat = (p99: number) => ({ connections: 50, seconds: 10, requests: 100, latencyMs: { p50: 1, p90: 1, p99, max: p99, mean: 1 }, errors: 0, timeouts: 0, non2xx: 0 });
    r.serve!.floor = { bytes: 1, load: lat(57), paced: { ...lat(18), ratePerConnection: 10, late: 0, client: 'scrapers' } };
    r.serve!.paced = { ...r.serve!.paced!, client: 'scrapers' };
    const checks = checkTargets([r]);
    const closed = checks.find((c) => c.name.startsWith('scrape p99, 50 concurrent'))!;
    const paced = checks.find((c) => c.name.startsWith('scrape p99, 50 paced'))!;
    expect([closed.measured, closed.pass]).toEqual(['chaos 110: 71 ms (floor 57)', false]);
    expect([paced.name, paced.measured, paced.pass]).toEqual(['scrape p99, 50 paced scrapers (one request every 100 ms each), collections running', 'chaos 110: 17 ms (floor 18)', true]);
  });

  it('judge CPU and wall at 110 chaos pods, the other rows only for serve figures and fallbacks', () => {
    const top = row({ baseCpu: 3000, agentCpu: 100, baseWall: 3000, agentWall: 100, p99: 10, rssMb: 50, blockMs: 1 });
    const small = row({ pods: 10, baseCpu: 100, agentCpu: 100, baseWall: 100, agentWall: 100, p99: 10, rssMb: 50, blockMs: 1, calls: 4 });
    const mesh = row({ corpus: 'mesh', baseCpu: 100, agentCpu: 100, baseWall: 100, agentWall: 100, p99: 10, rssMb: 50, blockMs: 1, fallbacks: 2 });
    const v = verdicts([small, top, mesh]);
    expect([v['CPU per collection'], v['collection wall'], v['reader fallbacks']]).toEqual([true, true, false]);
    expect(verdicts([small, row({ baseCpu: 3000, agentCpu: 100, baseWall: 3000, agentWall: 100, p99: 10, rssMb: 50, blockMs: 1, calls: 5 })])['runtime calls per steady-state collection']).toBe(false);
  });
});

describe('sumSamples', () => {
  it('sums a metric over every label set and ignores longer names and comments', () => {
    const text = [
      '# HELP chaos_daemon_netns_reader_fallbacks_total x',
      'chaos_daemon_netns_reader_fallbacks_total{reason="opaque"} 3',
      'chaos_daemon_netns_reader_fallbacks_total{reason="failed"} 2',
      'chaos_daemon_netns_reader_fallbacks_total_extra 100',
      'chaos_daemon_netns_reader_fallbacks_total 1',
    ].join('\n');
    expect(sumSamples(text, 'chaos_daemon_netns_reader_fallbacks_total')).toBe(6);
    expect(sumSamples('', 'chaos_daemon_netns_reader_fallbacks_total')).toBe(0);
  });
});

describe('loop-blocks probe', () => {
  const collectors = [{ collector: 'runtime', success: true, seconds: 0.06 }, { collector: 'netns', success: true, seconds: 0.04 }];

  it('puts a block in the collector running when it ended, the pipeline after t1, GC pauses apart (literal gaps)', () => {
    // t0 = 1000: runtime until 1060, netns until 1100; the pipeline from t1 = 1100 to t2 = 1130.
    const gaps = [
      { end: 990, ms: 50, gc: false }, // before the collection: ignored
      { end: 1031, ms: 30.04, gc: false }, // runtime
      { end: 1020, ms: 5, gc: false }, // runtime, shorter: the longest is kept
      { end: 1080, ms: 4, gc: false }, // netns
      { end: 1061, ms: 6, gc: true }, // a GC pause ending within 1 ms of runtime's end: still runtime's
      { end: 1115, ms: 15, gc: false }, // pipeline
      { end: 1200, ms: 99, gc: false }, // after t2 + 50: ignored
    ];
    const got = attributeGaps(gaps, 1000, 1100, 1130, collectors);
    expect(got).toEqual({ runtime: 30, netns: 4, 'gc runtime': 6, pipeline: 15 });
    expect(got.runtime).toBeGreaterThanOrEqual(25);
    expect(got.pipeline).toBeGreaterThanOrEqual(10);
    expect(got.pipeline).toBeLessThan(got.runtime!);
    expect(got.netns ?? 0).toBeLessThan(got.runtime!);
    // Past the last collector but before t1: between collectors.
    expect(attributeGaps([{ end: 1105, ms: 8, gc: false }], 1000, 1110, 1130, collectors)).toEqual({ 'collect (between collectors)': 8 });
  });

  it('places stats alongside the collectors after runtime (it overlaps them), not after netns', () => {
    // runtime until 1060; stats from 1060 to 1080 alongside netns (1060-1100); proc 1100-1150; pipeline from 1150.
    const withStats = [collectors[0]!, collectors[1]!, { collector: 'stats', success: true, seconds: 0.02 }, { collector: 'proc', success: true, seconds: 0.05 }];
    const gaps = [
      { end: 1070, ms: 5, gc: false }, // netns while stats runs
      { end: 1090, ms: 6, gc: false }, // netns after stats ended
      { end: 1110, ms: 7, gc: false }, // proc (sequentially after netns, not after stats' 20 ms)
    ];
    expect(attributeGaps(gaps, 1000, 1150, 1170, withStats)).toEqual({ 'netns+stats': 5, netns: 6, proc: 7 });
  });

  it('reports the thread CPU of the longest gap of a phase next to it (preempted vs own work)', () => {
    const gaps = [
      { end: 1110, ms: 12, gc: false, cpuMs: 0.4 }, // pipeline, preempted
      { end: 1120, ms: 20.02, gc: false, cpuMs: 19.6 }, // pipeline, own work: the longest
      { end: 1125, ms: 5, gc: false, cpuMs: 5 }, // shorter: its CPU is not reported
      { end: 1040, ms: 7, gc: false }, // no CPU known: no cpu key
    ];
    expect(attributeGaps(gaps, 1000, 1100, 1130, collectors)).toEqual({ pipeline: 20, 'pipeline cpu': 19.6, 'pipeline own': 19.6, runtime: 7 });
    // A shorter gap with more CPU: the longest keeps its own CPU, 'own' takes the most.
    expect(attributeGaps([{ end: 1110, ms: 30, gc: false, cpuMs: 2 }, { end: 1120, ms: 9, gc: false, cpuMs: 8.5 }], 1000, 1100, 1130, collectors)).toEqual({ pipeline: 30, 'pipeline cpu': 2, 'pipeline own': 8.5 });
  });

  it('counts the GC pauses within a gap, and reports our own CPU less them as <phase> js', () => {
    // Pauses [0,2] (outside), [9,13] (3 ms inside), [15,16] (inside), [19,25] (1 ms inside) of the gap [10,20].
    expect(pauseOverlap([[0, 2], [9, 13], [15, 16], [19, 25]], 10, 20)).toBe(5);
    expect(pauseOverlap([], 10, 20)).toBe(0);
    const gaps = [
      { end: 1110, ms: 14, gc: false, cpuMs: 13, gcMs: 9 }, // mostly a pause: js 4
      { end: 1120, ms: 8, gc: false, cpuMs: 7.5, gcMs: 0 }, // our code: js 7.5
    ];
    expect(attributeGaps(gaps, 1000, 1100, 1130, collectors)).toEqual({ pipeline: 14, 'pipeline cpu': 13, 'pipeline own': 13, 'pipeline js': 7.5 });
  });

  it('records a real block of the event loop, and forgets it once taken', async () => {
    const probe = new LoopBlocks();
    probe.start();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const until = performance.now() + 30;
    while (performance.now() < until);
    await new Promise((r) => setTimeout(r, 40));
    const t2 = performance.now();
    probe.stop();
    // Where it lands depends on scheduling (a preempted process shifts the timer); that it is seen does not.
    const got = probe.take(t0, t2, t2, collectors);
    const walls = Object.entries(got).filter(([k]) => !/ (cpu|own|js)$/.test(k) && !k.startsWith('gc '));
    expect(Math.max(...walls.map(([, v]) => v))).toBeGreaterThanOrEqual(25);
    // The busy loop was this thread's own work: some gap carries CPU of its own (the gap holding the loop; the
    // longest gap may be another one, preempted, with next to none), and no gap reports more CPU than its wall.
    const owns = Object.entries(got).filter(([k]) => k.endsWith(' own')).map(([, v]) => v);
    expect(Math.max(...owns)).toBeGreaterThan(0);
    for (const [phase, wall] of walls) if (got[`${phase} cpu`] !== undefined) expect(got[`${phase} cpu`]).toBeLessThanOrEqual(wall + 1.5);
    expect(probe.take(t0, t2, t2, collectors)).toEqual({});
  });
});

describe('serve CPU per collection', () => {
  it('is net of the loop probe when its cost per firing was calibrated, and raw in results written before', () => {
    const serve = row({ baseCpu: 1, agentCpu: 1, baseWall: 1, agentWall: 1, p99: 1, rssMb: 1, blockMs: 1 }).serve!;
    serve.windows = [
      { phase: 'idle', maxBlockMs: 1, p99BlockMs: 1, cpuMs: 300, firings: 1000 },
      { phase: 'idle', maxBlockMs: 1, p99BlockMs: 1, cpuMs: 340, firings: 1000 },
      { phase: 'idle', maxBlockMs: 1, p99BlockMs: 1, cpuMs: 320, firings: 500 },
      { phase: 'load', maxBlockMs: 1, p99BlockMs: 1, cpuMs: 999, firings: 1000 },
    ];
    expect(windowsOf(serve, 'idle')!.cpu.samples).toEqual([300, 340, 320]);
    serve.probeMsPerFiring = 0.04;
    const net = windowsOf(serve, 'idle')!.cpu;
    expect(net.samples.map((x) => Math.round(x * 1000) / 1000)).toEqual([260, 300, 300]);
    expect(net.median).toBeCloseTo(300, 6);
  });
});
