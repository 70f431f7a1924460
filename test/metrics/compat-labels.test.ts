/**
 * The compat label cache and the per-pod blocks (compat-labels.ts, compat-blocks.ts): over a sequence of
 * collections, each change to a pod's inputs between two of them, the exposition of a pipeline that keeps its
 * cache is byte for byte that of a fresh one (no history) on the same snapshot.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compatContainers } from '../../agent/metrics/compat.js';
import { CompatLabelCache } from '../../agent/metrics/compat-labels.js';
import { buildCollectionFamilies, renderRegistry } from '../../agent/metrics/registry.js';
import type { IptablesRule } from '../../agent/netns/state.js';
import type { PodReport, Snapshot } from '../../agent/snapshot.js';
import { samplesOf, valueOf } from '../helpers/metrics-lint.js';
import { chain, container, filterDump, podInfo, report, rule, snapshot } from './fixtures.js';

async function text(snap: Snapshot, cache?: CompatLabelCache, maxRulesPerPod?: number): Promise<string> {
  const collection = await buildCollectionFamilies({
    snapshot: snap, bpm: null, extraCollectors: [], compatMetrics: true, firstSeen: () => 1_700_000_000,
    ...(cache ? { compatCache: cache } : {}), ...(maxRulesPerPod !== undefined ? { maxRulesPerPod } : {}),
  });
  return (await (await renderRegistry(new Registry(), { collection })).body('openmetrics', false)).toString('utf8');
}

/** The cached rendering, checked against a fresh one. */
async function same(cache: CompatLabelCache, snap: Snapshot, maxRulesPerPod?: number): Promise<string> {
  const cached = await text(snap, cache, maxRulesPerPod);
  expect(cached).toBe(await text(snap, undefined, maxRulesPerPod));
  return cached;
}

interface PodSpec {
  name: string;
  containers: string[];
  chains: { name: string; policy: string | null; rules: [string, number, number | null][] }[];
}

function pod(spec: PodSpec): PodReport {
  const r = (text: string, packets: number, bytes: number | null): IptablesRule => {
    const x = rule(text, packets, bytes ?? 0);
    return bytes === null ? { ...x, counters: null } : x;
  };
  return report(podInfo('default', spec.name, spec.containers.map((c) => container(c, `id-${spec.name}-${c}`))), {
    iptables: [filterDump(spec.chains.map((c) => chain(c.name, c.policy, c.rules.map(([t, p, b]) => r(t, p, b)))))],
  });
}

const base = (): PodSpec => ({
  name: 'web-1',
  containers: ['app', 'sidecar'],
  chains: [
    { name: 'OUTPUT', policy: 'ACCEPT', rules: [['-j CHAOS-OUTPUT', 10, 600]] },
    { name: 'CHAOS-OUTPUT', policy: null, rules: [['-o eth0 -d 10.1.0.0/24 -j DROP', 5, 300], ['-o eth0 -d 10.2.0.0/24 -j DROP', 1, 60]] },
  ],
});

const RULE = { namespace: 'default', pod: 'web-1', container: 'app', table: 'filter', chain: 'CHAOS-OUTPUT', policy: '-' };

describe('compatContainers', () => {
  it('gives the running containers\' names distinct and sorted as [...new Set(names)].sort() does', () => {
    const name = fc.string({ unit: fc.constantFrom('a', 'B', 'b', 'é', '-', '1', '\u{1F600}'), maxLength: 3 });
    fc.assert(fc.property(fc.array(fc.tuple(name, fc.boolean()), { maxLength: 20 }), (cs) => {
      const r = report(podInfo('default', 'p', cs.map(([n, up], i) => container(n, `id-${i}`, up ? 'CONTAINER_RUNNING' : 'CONTAINER_EXITED'))));
      const running = cs.filter(([, up]) => up).map(([n]) => n);
      expect(compatContainers(r, true)).toEqual(running.length < 2 ? running : [...new Set(running)].sort());
      expect(compatContainers(r, false)).toEqual(['']);
    }));
  });
});

describe('compat label cache and blocks', () => {
  it('reuses entries while nothing changes, and every change between two collections shows in the next', async () => {
    const cache = new CompatLabelCache();
    const first = await same(cache, snapshot([pod(base())]));
    expect([cache.hits, cache.misses]).toEqual([0, 1]);
    expect(await same(cache, snapshot([pod(base())]))).toBe(first);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);

    // A counter moves: the block is rendered again with it (the labels are still reused).
    const moved = base();
    moved.chains[1]!.rules[0]![1] = 7;
    let t = await same(cache, snapshot([pod(moved)]));
    expect(valueOf(t, 'chaos_daemon_iptables_packets', { ...RULE, rule: '-o eth0 -d 10.1.0.0/24 -j DROP' })).toBe(7);
    expect(cache.hits).toBe(2);

    // The same number of rules, one replaced.
    const replaced = base();
    replaced.chains[1]!.rules[1] = ['-o eth0 -d 10.3.0.0/24 -j DROP', 1, 60];
    t = await same(cache, snapshot([pod(replaced)]));
    expect(samplesOf(t, 'chaos_daemon_iptables_packets').map((s) => s.labels.rule)).not.toContain('-o eth0 -d 10.2.0.0/24 -j DROP');
    expect(valueOf(t, 'chaos_daemon_iptables_packets', { ...RULE, rule: '-o eth0 -d 10.3.0.0/24 -j DROP' })).toBe(1);

    // A rule moved to another chain, a policy changed, counters gone, a container renamed, a container added.
    const changes: ((s: PodSpec) => void)[] = [
      (s) => s.chains[0]!.rules.push(s.chains[1]!.rules.pop()!),
      (s) => { s.chains[0]!.policy = 'DROP'; },
      (s) => { s.chains[1]!.rules[0]![2] = null; },
      (s) => { s.containers[1] = 'proxy'; },
      (s) => s.containers.push('zz'),
    ];
    for (const change of changes) {
      const s = base();
      change(s);
      await same(cache, snapshot([pod(s)]));
    }
    // Back to the first state: the same text as the first collection's.
    expect(await same(cache, snapshot([pod(base())]))).toBe(first);
  });

  it('follows --max-rules-per-pod (chaos chains first) and a pod listed twice (its series merge)', async () => {
    const cache = new CompatLabelCache();
    await same(cache, snapshot([pod(base())]));
    const capped = await same(cache, snapshot([pod(base())]), 2);
    expect(samplesOf(capped, 'chaos_daemon_iptables_packets').map((s) => s.labels.chain)).toEqual(['CHAOS-OUTPUT', 'CHAOS-OUTPUT', 'CHAOS-OUTPUT', 'CHAOS-OUTPUT']);
    const twice = await same(cache, snapshot([pod(base()), pod(base())]));
    expect(valueOf(twice, 'chaos_daemon_iptables_packets', { ...RULE, rule: '-o eth0 -d 10.1.0.0/24 -j DROP' })).toBe(10);
    await same(cache, snapshot([pod(base())]));
  });

  it('sums rules that map onto one series inside a pod, in the block as per series', async () => {
    const s = base();
    s.chains[1]!.rules.push(['-o eth0 -d 10.1.0.0/24 -j DROP', 2, 120]);
    const cache = new CompatLabelCache();
    await same(cache, snapshot([pod(s)]));
    const t = await same(cache, snapshot([pod(s)]));
    expect(valueOf(t, 'chaos_daemon_iptables_packets', { ...RULE, rule: '-o eth0 -d 10.1.0.0/24 -j DROP' })).toBe(7);
    expect(valueOf(t, 'chaos_daemon_iptables_packet_bytes', { ...RULE, rule: '-o eth0 -d 10.1.0.0/24 -j DROP' })).toBe(420);
  });

  it('drops the entries of pods gone for a collection', async () => {
    const cache = new CompatLabelCache();
    const other = { ...base(), name: 'web-2' };
    await same(cache, snapshot([pod(base()), pod(other)]));
    await same(cache, snapshot([pod(base())]));
    await same(cache, snapshot([pod(base())]));
    const misses = cache.misses;
    await same(cache, snapshot([pod(base()), pod(other)]));
    expect(cache.misses).toBe(misses + 1); // web-2 was built again
  });

  it('equals a fresh rendering over random sequences of collections', async () => {
    const texts = ['-j CHAOS-OUTPUT', '-o eth0 -j DROP', '! -i lo -j DROP', '-m comment --comment "a\\"b" -j DROP', '-d 10.0.0.0/8 -j ACCEPT'];
    const ruleArb = fc.tuple(fc.constantFrom(...texts), fc.nat(3), fc.option(fc.nat(3), { nil: null }));
    const chainArb = fc.record({ name: fc.constantFrom('OUTPUT', 'CHAOS-OUTPUT', 'KUBE'), policy: fc.constantFrom('ACCEPT', null), rules: fc.array(ruleArb, { maxLength: 4 }) });
    const podArb = fc.record({ name: fc.constantFrom('a', 'b', 'c'), containers: fc.uniqueArray(fc.constantFrom('app', 'side', ''), { maxLength: 2 }), chains: fc.array(chainArb, { maxLength: 3 }) });
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.array(podArb, { maxLength: 3 }), fc.constantFrom(undefined, 1, 3)), { minLength: 2, maxLength: 6 }), async (collections) => {
      const cache = new CompatLabelCache();
      for (const [pods, max] of collections) {
        await same(cache, snapshot(pods.map(pod)), max);
        // The same rules again with the first counter of each chain moved.
        const moved = pods.map((p) => ({ ...p, chains: p.chains.map((c) => ({ ...c, rules: c.rules.map(([t, pk, b], i): [string, number, number | null] => [t, i === 0 ? pk + 1 : pk, b]) })) }));
        await same(cache, snapshot(moved.map(pod)), max);
      }
    }), { numRuns: 150 });
  });
});
