/**
 * The per-pod series through a runtime outage (containerd killed: its pods and their injections keep running, the
 * agent cannot list them): the tracker keeps the injections of pods absent from a collection whose runtime listing
 * failed, and the metrics built from such a snapshot keep exporting them as last read.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { PodDrift } from '../../agent/intent/drift.js';
import { emptyCounts } from '../../agent/intent/drift.js';
import { InjectionTracker } from '../../agent/metrics/injection-tracker.js';
import { buildCollectionFamilies, LineCaches, renderRegistry } from '../../agent/metrics/registry.js';
import type { RuntimeStatus } from '../../agent/runtime/types.js';
import type { CollectorResult, PodReport, Snapshot } from '../../agent/snapshot.js';
import { lintExposition, samplesOf } from '../helpers/metrics-lint.js';
import { chaos, chaosPod, cleanPod, container, podInfo, report, runtimeUp, sandboxStopped, snapshot } from './fixtures.js';

const KUBE: Snapshot['kube'] = { up: true, syncAgeSeconds: 0, resources: [], from: 'test', server: 'https://k8s:6443' };

/** web-1 reconciled: its partition a leftover of a deleted experiment, delay owned by chaos/slow. */
function reconciled(): PodReport {
  const drift: PodDrift = {
    status: 'reconciled', counts: { ...emptyCounts(), leftover: 1, present: 1 }, findings: [],
    entries: [
      { artefact: 'chain', name: 'OUTPUT/web_2f9c1d3a4b5e6f_', where: 'nft ipv4 filter', owners: ['chaos/gone'], state: 'leftover', kinds: ['partition'], active: true, detail: 'left over', spec: null, kernel: 'DROP' },
      { artefact: 'qdisc', name: 'eth0 root netem', where: 'eth0', owners: ['chaos/slow'], state: 'present', kinds: ['delay'], active: true, detail: 'as intended', spec: 'delay 100ms', kernel: 'delay 100ms' },
    ],
    kindOwners: { partition: ['chaos/gone'], delay: ['chaos/slow'] },
  };
  return { ...chaosPod(), chaos: chaos('active', ['delay', 'partition']), drift };
}

/** A collection while containerd is down: nothing listed, the runtime collector failed. */
function outage(startedAt: number): Snapshot {
  return snapshot([], {
    startedAt, kube: KUBE,
    runtimes: [runtimeUp({ up: false, error: 'connect ENOENT /run/containerd/containerd.sock' })],
    collectors: [{ collector: 'runtime', success: false, seconds: 0.01, error: 'no container runtime reachable' }, { collector: 'netns', success: true, seconds: 0 }],
  });
}

const PER_POD = ['chaos_daemon_injection_active', 'chaos_daemon_injection_first_seen_timestamp_seconds', 'chaos_daemon_pod_verdict', 'chaos_daemon_pod_errors', 'chaos_daemon_pod_truncated', 'chaos_daemon_injection_drift'];

/** The web-1 (or `pod`) series of the per-pod families, as `name{labels} value` strings. */
function webSeries(text: string, pod = 'web-1'): string[] {
  return PER_POD.flatMap((name) => samplesOf(text, name).filter((s) => s.labels.pod === pod)
    .map((s) => `${name}{${Object.entries(s.labels).filter(([k]) => k !== 'namespace' && k !== 'pod').map(([k, v]) => `${k}=${v}`).join(',')}} ${s.value}`));
}

/** web-1's injection series as reconciled(), first seen at 100. */
const INJECTION = [
  'chaos_daemon_injection_active{kind=delay,experiment=chaos/slow} 1',
  'chaos_daemon_injection_active{kind=partition,experiment=chaos/gone} 1',
  'chaos_daemon_injection_first_seen_timestamp_seconds{kind=delay} 100',
  'chaos_daemon_injection_first_seen_timestamp_seconds{kind=partition} 100',
];
/** web-1's drift series as reconciled(). */
const DRIFT = [
  'chaos_daemon_injection_drift{kind=delay,state=leftover} 0', 'chaos_daemon_injection_drift{kind=delay,state=missing} 0',
  'chaos_daemon_injection_drift{kind=delay,state=mismatch} 0', 'chaos_daemon_injection_drift{kind=partition,state=leftover} 1',
  'chaos_daemon_injection_drift{kind=partition,state=missing} 0', 'chaos_daemon_injection_drift{kind=partition,state=mismatch} 0',
];
const verdict = (v: string): string[] => ['active', 'clean', 'scaffolding', 'unknown'].map((x) => `chaos_daemon_pod_verdict{verdict=${x}} ${x === v ? 1 : 0}`);

/** Observes each snapshot with one tracker and builds its metrics as the pipeline does: the events and the text. */
function collector(): (snap: Snapshot) => Promise<{ text: string; events: string[] }> {
  const tracker = new InjectionTracker();
  const caches = new LineCaches();
  return async (snap) => {
    const events = tracker.observe(snap).map((e) => `${e.event} ${e.pod} ${e.kind}${e.reason ? ` ${e.reason}` : ''}`);
    const collection = await buildCollectionFamilies({
      snapshot: snap, bpm: null, extraCollectors: [], compatMetrics: true, lineCaches: caches,
      firstSeen: (ns, pod, kind) => tracker.firstSeen(ns, pod, kind), held: tracker.held,
    });
    return { text: (await (await renderRegistry(new Registry(), { collection })).body('prometheus', false)).toString('utf8'), events };
  };
}

describe('per-pod series through a runtime outage', () => {
  it('keeps injection_active, first_seen and drift of the pods held, reads them unknown without errors, and carries on seamlessly', async () => {
    const collect = collector();

    const before = await collect(snapshot([reconciled(), cleanPod()], { startedAt: 100, kube: KUBE }));
    expect(before.events).toEqual(['injection_started web-1 delay', 'injection_started web-1 partition']);
    expect(webSeries(before.text).sort()).toEqual([...INJECTION, ...verdict('active'), 'chaos_daemon_pod_errors{} 0', ...DRIFT].sort());

    // Two collections with containerd down: the same injection and drift series, values and labels; the pod reads
    // unknown (not read) and has no errors series; a pod holding no injection (dns-1) has no series at all.
    for (const at of [200, 300]) {
      const down = await collect(outage(at));
      expect(down.events).toEqual([]);
      expect(webSeries(down.text).sort()).toEqual([...INJECTION, ...verdict('unknown'), ...DRIFT].sort());
      expect(samplesOf(down.text, 'chaos_daemon_pod_verdict').filter((s) => s.labels.pod === 'dns-1')).toEqual([]);
      expect(samplesOf(down.text, 'chaos_daemon_scrape_collector_success').map((s) => [s.labels.collector, s.value])).toEqual([['runtime', 0], ['netns', 1]]);
      expect(lintExposition(down.text)).toEqual([]);
    }

    // containerd back, the pod read again: no end, no start, the same first-seen times.
    const back = await collect(snapshot([reconciled(), cleanPod()], { startedAt: 400, kube: KUBE }));
    expect(back.events).toEqual([]);
    expect(webSeries(back.text).sort()).toEqual(webSeries(before.text).sort());
    // A listing that works again and no longer shows the pod: it is gone, its series with it.
    const gone = await collect(snapshot([cleanPod()], { startedAt: 500, kube: KUBE }));
    expect(gone.events).toEqual(['injection_ended web-1 delay pod_gone', 'injection_ended web-1 partition pod_gone']);
    expect(webSeries(gone.text)).toEqual([]);
  });

  it('holds nothing when the listing worked: an absent pod is gone', () => {
    const tracker = new InjectionTracker();
    tracker.observe(snapshot([reconciled()]), 100);
    tracker.observe(outage(200));
    expect(tracker.held.map((h) => [h.pod, h.kinds])).toEqual([['web-1', ['delay', 'partition']]]);
    tracker.observe(snapshot([]), 300);
    expect(tracker.held).toEqual([]);
  });
});

describe('per-pod series of a pod listed whose read failed (verdict unknown)', () => {
  /** web-1 listed, its namespace read failed (a tool timed out): nothing read, nothing reconciled. */
  const unread = (): PodReport => ({
    ...reconciled(), chaos: chaos('unknown'), errors: ['tc: killed after 5000 ms (timeout)'],
    drift: { status: 'unknown', reason: 'the network namespace could not be read', counts: emptyCounts(), entries: [], findings: [], kindOwners: {} },
  });

  it('keeps its injection and drift series with its verdict unknown and its errors; not once its sandbox is gone', async () => {
    const collect = collector();
    await collect(snapshot([reconciled(), cleanPod()], { startedAt: 100, kube: KUBE }));
    for (const at of [200, 300]) {
      const failed = await collect(snapshot([unread(), cleanPod()], { startedAt: at, kube: KUBE }));
      expect(failed.events).toEqual([]);
      expect(webSeries(failed.text).sort()).toEqual([...INJECTION, ...verdict('unknown'), 'chaos_daemon_pod_errors{} 1', ...DRIFT].sort());
      expect(lintExposition(failed.text)).toEqual([]);
    }
    const read = await collect(snapshot([reconciled(), cleanPod()], { startedAt: 400, kube: KUBE }));
    expect(read.events).toEqual([]);
    expect(webSeries(read.text).sort()).toEqual([...INJECTION, ...verdict('active'), 'chaos_daemon_pod_errors{} 0', ...DRIFT].sort());

    // Its sandbox stopped with its containers, its namespace gone (not read, nothing resolved): the injections end,
    // nothing is held.
    const dead: PodReport = { ...sandboxStopped(unread()), netns: null, errors: [], sources: [] };
    const gone = await collect(snapshot([dead, cleanPod()], { startedAt: 500, kube: KUBE }));
    expect(gone.events).toEqual(['injection_ended web-1 delay sandbox_not_ready', 'injection_ended web-1 partition sandbox_not_ready']);
    expect(webSeries(gone.text).sort()).toEqual(verdict('unknown').sort());
  });
});

describe('per-pod series on a node with two runtimes, one of them failing', () => {
  const DOCKER = 'unix:///var/run/docker.sock';
  /** shop/cart, listed through Docker, under a loss injection. */
  const cart = (): PodReport => report(podInfo('shop', 'cart', [container('app', 'c-cart')], { runtime: 'docker', endpoint: DOCKER }), { chaos: chaos('active', ['loss']) });
  const docker = (extra: Partial<RuntimeStatus>): RuntimeStatus => runtimeUp({ endpoint: DOCKER, protocol: 'docker', runtime: 'docker', version: '24.0.7', apiVersion: '1.43', criApi: undefined, ...extra });
  const runtimeCollector = (success: boolean): CollectorResult[] => [{ collector: 'runtime', success, seconds: 0.01 }, { collector: 'netns', success: true, seconds: 0.1 }];
  const cartHeld = [
    'chaos_daemon_injection_active{kind=loss,experiment=} 1', 'chaos_daemon_injection_first_seen_timestamp_seconds{kind=loss} 100', ...verdict('unknown'),
  ];

  it('holds the pods of the runtime whose listing failed, while the other runtime\'s absent pods are gone', async () => {
    const collect = collector();
    const both = await collect(snapshot([cart(), reconciled()], { startedAt: 100, runtimes: [runtimeUp(), docker({})] }));
    expect(both.events).toEqual(['injection_started cart loss', 'injection_started web-1 delay', 'injection_started web-1 partition']);

    // Docker down, containerd answering (the collector succeeds): cart is held, as through a whole outage.
    const down = await collect(snapshot([reconciled()], { startedAt: 200, runtimes: [runtimeUp(), docker({ up: false, error: 'connect ENOENT /var/run/docker.sock' })], collectors: runtimeCollector(true) }));
    expect(down.events).toEqual([]);
    expect(webSeries(down.text, 'cart').sort()).toEqual(cartHeld.sort());
    expect(lintExposition(down.text)).toEqual([]);

    // Docker up but its listing failing (the collector fails) while containerd's complete listing no longer shows
    // web-1: web-1 is gone, cart still held.
    const failing = await collect(snapshot([], { startedAt: 300, runtimes: [runtimeUp(), docker({ listError: 'GET /containers/json: HTTP 500' })], collectors: runtimeCollector(false) }));
    expect(failing.events).toEqual(['injection_ended web-1 delay pod_gone', 'injection_ended web-1 partition pod_gone']);
    expect(webSeries(failing.text, 'cart').sort()).toEqual(cartHeld.sort());

    // Docker lists it again: the same injection, first seen at 100; then a complete listing without it: gone.
    const back = await collect(snapshot([cart()], { startedAt: 400, runtimes: [runtimeUp(), docker({})] }));
    expect(back.events).toEqual([]);
    expect(webSeries(back.text, 'cart')).toContain('chaos_daemon_injection_first_seen_timestamp_seconds{kind=loss} 100');
    expect((await collect(snapshot([], { startedAt: 500, runtimes: [runtimeUp(), docker({})] }))).events).toEqual(['injection_ended cart loss pod_gone']);
  });

  it('follows a pod listed through another endpoint (cri-dockerd and Docker list the same sandboxes)', () => {
    const tracker = new InjectionTracker();
    const CRI_DOCKERD = 'unix:///run/cri-dockerd.sock';
    const viaCri = (): PodReport => { const r = cart(); return { ...r, pod: { ...r.pod!, endpoint: CRI_DOCKERD } }; };
    const runtimes = (dockerUp: boolean, criUp: boolean): RuntimeStatus[] => [docker({ up: dockerUp }), docker({ endpoint: CRI_DOCKERD, protocol: 'cri', runtime: 'docker', up: criUp })];
    tracker.observe(snapshot([cart()], { runtimes: runtimes(true, true) }), 100);
    expect(tracker.observe(snapshot([viaCri()], { runtimes: runtimes(true, true) }), 200)).toEqual([]);
    // cri-dockerd down, Docker up without it: the endpoint it was last listed through failed, it is held.
    expect(tracker.observe(snapshot([], { runtimes: runtimes(true, false) }), 300)).toEqual([]);
    expect(tracker.held.map((h) => [h.pod, h.kinds])).toEqual([['cart', ['loss']]]);
    expect(tracker.observe(snapshot([], { runtimes: runtimes(true, true) }), 400).map((e) => e.reason)).toEqual(['pod_gone']);
  });
});
