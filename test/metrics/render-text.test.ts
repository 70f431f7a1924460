import { setImmediate as immediate } from 'node:timers/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildCollectionFamilies, PersistentMetrics, renderRegistry } from '../../agent/metrics/registry.js';
import { countSamples, renderText } from '../../agent/metrics/render-text.js';
import { nodeScaleSnapshot } from './node-scale.js';

/**
 * The long-lived instruments, plus prom-client families shaped like the collection's (the collection's own are
 * rendered by render-families.ts, compared with this renderer in families.test.ts): one of `series` series with
 * label values that need escaping, and a counter whose HELP has quotes.
 */
function merged(series: number): { registry: Registry; persistent: PersistentMetrics } {
  const persistent = new PersistentMetrics({ defaultMetrics: false });
  persistent.onCall({ runtime: 'containerd', endpoint: 'unix:///run/containerd/containerd.sock', method: '/runtime.v1.RuntimeService/ListPodSandbox', code: 'OK', seconds: 0.003 });
  persistent.onCommand({ tool: 'iptables-save', seconds: 0.004, ok: false, reason: 'timeout' });
  const shaped = new Registry();
  const g = new Gauge({ name: 'chaos_daemon_iptables_packets', help: 'Packets', labelNames: ['pod', 'rule'], registers: [shaped] });
  for (let i = 0; i < series; i++) g.set({ pod: `pod-${i}`, rule: `-m comment --comment "c\\${i}" -j DROP` }, i);
  new Counter({ name: 'chaos_daemon_qdisc_drops_total', help: 'counted the lines "tc qdisc" printed', labelNames: ['pod'], registers: [shaped] }).inc({ pod: 'a' }, 3);
  return { registry: Registry.merge([shaped, persistent.registry]), persistent };
}

describe('renderText', () => {
  it('renders the text format exactly as registry.metrics() does, chunk seams included', async () => {
    const { registry } = merged(600);
    const prom = await renderText(registry, { openMetrics: false, sliceMs: 0 });
    expect(prom).toBe(await registry.metrics());
    expect(prom).toContain('# TYPE chaos_daemon_netns_errors_total counter\n');
    // The largest family is formatted in slices of 256 series: the comparison above covers the seams.
    expect(prom.split('\n').filter((l) => l.startsWith('chaos_daemon_iptables_packets{')).length).toBeGreaterThan(2 * 256);
    expect(countSamples(prom)).toBe(prom.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length);
  });

  it('renders OpenMetrics as prom-client does, but escapes quotes in HELP, and never renames anything in the registry', async () => {
    const { registry } = merged(5);
    const names = registry.getMetricsAsArray().map((m) => m.name);
    const om = await renderText(registry, { openMetrics: true, sliceMs: 0 });
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(names);
    expect(await renderText(registry, { openMetrics: false, sliceMs: 0 })).toBe(await registry.metrics());
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect(om).toContain('# TYPE chaos_daemon_netns_errors counter\n');
    expect(om).toContain('chaos_daemon_netns_errors_total{reason="timeout"} 1\n');
    expect(om).toContain('# TYPE chaos_daemon_runtime_request_duration_seconds histogram\n');
    expect(om).toContain('counted the lines \\"tc qdisc\\" printed');
    // prom-client's own OpenMetrics rendering, on a second registry built alike (it renames counters in place).
    const { registry: other } = merged(5);
    other.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    const reference = await other.metrics();
    expect(om).toBe(reference.replace(/^(# HELP .*)$/gm, (line) => line.replace(/"/g, '\\"')));
  });

  it('writes NaN and infinities as both parsers spell them', async () => {
    const registry = new Registry();
    const g = new Gauge({ name: 'g', help: 'a "quoted" help\nwith a back\\slash', labelNames: ['l'], registers: [registry] });
    g.set({ l: 'nan' }, NaN);
    g.set({ l: 'inf' }, Infinity);
    g.set({ l: 'a"b\\c\nd' }, -Infinity);
    expect(await renderText(registry, { openMetrics: false })).toBe(
      '# HELP g a "quoted" help\\nwith a back\\\\slash\n# TYPE g gauge\ng{l="nan"} NaN\ng{l="inf"} +Inf\ng{l="a\\"b\\\\c\\nd"} -Inf\n',
    );
    expect((await renderText(registry, { openMetrics: true })).split('\n')[0]).toBe('# HELP g a \\"quoted\\" help\\nwith a back\\\\slash');
  });

  it('yields to the event loop between families: other work runs while a node-scale collection renders', async () => {
    const persistent = new PersistentMetrics({ defaultMetrics: false });
    const collection = await buildCollectionFamilies({ snapshot: nodeScaleSnapshot(110), bpm: null, extraCollectors: [], compatMetrics: true, firstSeen: () => 1_700_000_000 });
    let ticks = 0;
    let rendering = true;
    const ticker = (async () => {
      while (rendering) {
        await immediate();
        ticks += 1;
      }
    })();
    const rendered = await renderRegistry(persistent.registry, { collection, sliceMs: 0 });
    const text = (await rendered.body('openmetrics', false)).toString('utf8');
    rendering = false;
    await ticker;
    // One yield per family after the first (sliceMs 0), collection and long-lived ones alike.
    expect(ticks).toBeGreaterThanOrEqual(collection.families.length + persistent.registry.getMetricsAsArray().length - 1);
    expect(countSamples(text)).toBeGreaterThan(3000);
  });

  it('stops between slices when aborted, leaving the registry usable', async () => {
    const registry = new Registry();
    new Counter({ name: 'a_total', help: 'a', registers: [registry] }).inc();
    new Histogram({ name: 'b_seconds', help: 'b', registers: [registry] }).observe(1);
    new Counter({ name: 'c_total', help: 'c', registers: [registry] }).inc();
    const ac = new AbortController();
    const p = renderText(registry, { openMetrics: true, sliceMs: 0, signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['a_total', 'b_seconds', 'c_total']);
    expect((await (await renderRegistry(registry)).body('openmetrics', false)).toString()).toContain('# TYPE a counter\na_total 1\n');
  });
});

describe('MetricsPipeline at node scale', () => {
  it('lets the event loop run while it builds and renders a 110-pod collection', async () => {
    const { MetricsPipeline } = await import('../../agent/metrics/pipeline.js');
    const { pino } = await import('pino');
    const pipeline = new MetricsPipeline({ compatMetrics: true, persistent: new PersistentMetrics({ defaultMetrics: false }), log: pino({ level: 'silent' }) });
    let ticks = 0;
    let running = true;
    const ticker = (async () => {
      while (running) {
        await immediate();
        ticks += 1;
      }
    })();
    const { metrics } = await pipeline.process(nodeScaleSnapshot(110));
    running = false;
    await ticker;
    expect(metrics.samples).toBeGreaterThan(5000);
    // A synchronous build and rendering let the ticker run about twice (between the awaits of process()); it runs
    // once per 4 ms slice of work (how many depends on the machine: the yields per family are checked above).
    expect(ticks).toBeGreaterThan(2);
  });
});
