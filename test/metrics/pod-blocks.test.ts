/**
 * The lines kept across collections (pod-blocks.ts for the injection and qdisc families, compat-blocks.ts for the
 * ipset / tcs families, container-stats.ts for the containers' lines): the same snapshot rendered twice, and
 * every change to one input a kept line is made from, rendered by a pipeline that keeps its caches, is byte for
 * byte the rendering of fresh caches (no history) on the same snapshot, in both formats. Each change must also
 * change the text: a cache that served the kept line would then differ from the fresh rendering.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CompatLabelCache } from '../../agent/metrics/compat-labels.js';
import { buildCollectionFamilies, LineCaches, renderRegistry } from '../../agent/metrics/registry.js';
import type { Qdisc } from '../../agent/netns/state.js';
import type { PodDrift } from '../../agent/intent/drift.js';
import type { Snapshot } from '../../agent/snapshot.js';
import { valueOf } from '../helpers/metrics-lint.js';
import { chaosPod, cleanPod, qdisc, snapshot, stats } from './fixtures.js';

interface Caches {
  compat: CompatLabelCache;
  lines: LineCaches;
}

const fresh = (): Caches => ({ compat: new CompatLabelCache(), lines: new LineCaches() });

interface Input {
  snap: Snapshot;
  firstSeen?: number;
  maxRulesPerPod?: number;
}

async function render(input: Input, caches: Caches): Promise<string[]> {
  const collection = await buildCollectionFamilies({
    snapshot: input.snap, bpm: null, extraCollectors: [], compatMetrics: true,
    firstSeen: () => input.firstSeen ?? 1_700_000_000,
    compatCache: caches.compat, lineCaches: caches.lines,
    ...(input.maxRulesPerPod !== undefined ? { maxRulesPerPod: input.maxRulesPerPod } : {}),
  });
  const m = await renderRegistry(new Registry(), { collection });
  return [(await m.body('openmetrics', false)).toString('utf8'), (await m.body('prometheus', false)).toString('utf8')];
}

/** The kept caches' rendering, checked against fresh caches' in both formats; returns the OpenMetrics text. */
async function same(caches: Caches, input: Input): Promise<string> {
  const kept = await render(input, caches);
  expect(kept).toEqual(await render(input, fresh()));
  return kept[0]!;
}

const base = (): Snapshot => snapshot([chaosPod(), cleanPod()]);
const WEB = { namespace: 'default', pod: 'web-1' };

function eth0Netem(s: Snapshot): Qdisc {
  return s.pods[0]!.tc.qdiscs.find((q) => q.kind === 'netem')!;
}

/** One input of a kept line changed each: name and the changed input. */
const changes: [string, () => Input][] = [
  ['verdict', () => { const s = base(); s.pods[0]!.chaos = { ...s.pods[0]!.chaos, verdict: 'unknown' }; return { snap: s }; }],
  ['errors', () => { const s = base(); s.pods[1]!.errors = ['tc: timeout']; return { snap: s }; }],
  ['a source cut', () => { const s = base(); s.pods[0]!.sources = s.pods[0]!.sources.map((x) => (x.source === 'iptables-nft-ipv4' ? { ...x, status: 'truncated' as const } : x)); return { snap: s }; }],
  ['the ipset source failed', () => { const s = base(); s.pods[0]!.sources = s.pods[0]!.sources.map((x) => (x.source === 'ipset' ? { ...x, status: 'failed' as const } : x)); return { snap: s }; }],
  ['the tc source failed', () => { const s = base(); s.pods[1]!.sources = s.pods[1]!.sources.map((x) => (x.source === 'tc' ? { ...x, status: 'failed' as const } : x)); return { snap: s }; }],
  ['a namespace not read', () => { const s = base(); s.pods[1]!.sources = []; return { snap: s }; }],
  ['rules cut', () => ({ snap: base(), maxRulesPerPod: 3 })],
  ['a kind gone', () => { const s = base(); const c = s.pods[0]!.chaos; s.pods[0]!.chaos = { ...c, kinds: c.kinds.filter((k) => k !== 'loss') }; return { snap: s }; }],
  ['an owner', () => {
    const s = base();
    s.pods[0]!.drift = { status: 'reconciled', counts: {}, entries: [], findings: [], kindOwners: { delay: ['default/slow'] } } as unknown as PodDrift;
    return { snap: s };
  }],
  ['first seen', () => ({ snap: base(), firstSeen: 1_700_000_123 })],
  ['a netem parameter', () => { const s = base(); eth0Netem(s).netem = { ...eth0Netem(s).netem!, delaySeconds: 0.2 }; return { snap: s }; }],
  ['a tbf parameter', () => { const s = base(); const q = s.pods[0]!.tc.qdiscs.find((x) => x.kind === 'tbf')!; q.tbf = { ...q.tbf!, burstBytes: 20000 }; return { snap: s }; }],
  ['a qdisc counter', () => { const s = base(); eth0Netem(s).stats = { ...eth0Netem(s).stats!, packets: 701 }; return { snap: s }; }],
  ['a qdisc handle', () => { const s = base(); eth0Netem(s).handle = '3:'; return { snap: s }; }],
  ['a qdisc added', () => { const s = base(); s.pods[1]!.tc.qdiscs.push(qdisc('eth0', 'netem', '1:', 'root', { netem: { loss: 0.1 }, stats: stats({ drops: 3 }) })); return { snap: s }; }],
  ['an iptables byte counter', () => { const s = base(); const r = s.pods[0]!.iptables[0]!.tables[0]!.chains[4]!.rules[0]!; r.counters = { ...r.counters!, bytes: 360 }; return { snap: s }; }],
  ['an iptables packet counter', () => { const s = base(); const r = s.pods[0]!.iptables[0]!.tables[0]!.chains[4]!.rules[0]!; r.counters = { ...r.counters!, packets: 6 }; return { snap: s }; }],
  ['an ipset member', () => { const s = base(); s.pods[0]!.ipsets.sets[1]!.members.push({ value: '10.0.2.0/24', options: '' }); return { snap: s }; }],
  ['container cpu', () => { const s = base(); s.containerStats[0]!.cpuSeconds = 12.75; return { snap: s }; }],
  ['container memory', () => { const s = base(); s.containerStats[0]!.memoryWorkingSetBytes = 2097152; return { snap: s }; }],
  ['container renamed', () => { const s = base(); s.pods[0]!.pod!.containers[0]!.name = 'main'; return { snap: s }; }],
  ['pod renamed', () => { const s = base(); s.pods[1]!.name = 'dns-2'; s.pods[1]!.pod = { ...s.pods[1]!.pod!, name: 'dns-2' }; return { snap: s }; }],
];

describe('lines kept across collections', () => {
  it('reuses every pod\'s lines for the same snapshot, and each changed input shows in the next collection', async () => {
    const caches = fresh();
    const first = await same(caches, { snap: base() });
    expect(await same(caches, { snap: base() })).toBe(first);
    expect([caches.lines.injection.hits, caches.lines.qdisc.hits]).toEqual([2, 2]);
    expect(valueOf(first, 'chaos_daemon_netem_delay_seconds', { ...WEB, interface: 'eth0', handle: '1:' })).toBe(0.1);

    for (const [what, change] of changes) {
      const changed = await same(caches, change());
      expect(changed, what).not.toBe(first);
      // And back: the kept lines are those of the changed collection, the text must be the first one's again.
      expect(await same(caches, { snap: base() }), what).toBe(first);
    }
  });

  it('keeps a pod listed twice to its first listing, as before', async () => {
    const caches = fresh();
    const s = base();
    const twice = { ...s, pods: [...s.pods, { ...chaosPod(), chaos: { ...chaosPod().chaos, verdict: 'unknown' as const } }] };
    await same(caches, { snap: twice });
    const t = await same(caches, { snap: twice });
    expect(valueOf(t, 'chaos_daemon_pod_verdict', { ...WEB, verdict: 'active' })).toBe(1);
  });

  it('equals fresh caches over random sequences of collections', async () => {
    const podArb = fc.record({
      verdict: fc.constantFrom('clean' as const, 'active' as const, 'unknown' as const),
      delay: fc.constantFrom(0.1, 0.2, NaN),
      packets: fc.nat(3),
      cpu: fc.constantFrom(1, 2, -0, 0),
      errors: fc.nat(2),
      present: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(podArb, podArb), { minLength: 2, maxLength: 6 }), async (collections) => {
      const caches = fresh();
      for (const [a, b] of collections) {
        const s = base();
        const web = s.pods[0]!;
        web.chaos = { ...web.chaos, verdict: a.verdict };
        eth0Netem(s).netem = { ...eth0Netem(s).netem!, delaySeconds: a.delay };
        eth0Netem(s).stats = { ...eth0Netem(s).stats!, packets: a.packets };
        web.errors = Array.from({ length: a.errors }, () => 'x');
        s.containerStats[0]!.cpuSeconds = a.cpu;
        s.pods[1]!.errors = Array.from({ length: b.errors }, () => 'y');
        s.pods[1]!.tc.qdiscs[1]!.stats = stats({ packets: b.packets });
        if (!b.present) s.pods.pop();
        await same(caches, { snap: s });
      }
    }), { numRuns: 40 });
  });
});
