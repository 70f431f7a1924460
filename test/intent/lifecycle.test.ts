/**
 * The PodNetworkChaos' owners and apply state in the pure reconciliation (lifecycle.ts, owners.ts), on literal
 * Chaos Mesh objects:
 * - owners: a running NetworkChaos keeps its entries present with no drift; an absent one (force-deleted: the
 *   finalizer dropped without recovery), one being deleted or one stopped (desiredPhase Stop) makes its kernel
 *   state a leftover named after it and counted, once seen so for the grace (no memory: at once), and its entries
 *   with nothing in the kernel stale (not drift); base chains shared with a running experiment stay present;
 * - apply state: generation > observedGeneration makes the differences pending (not drift) until the pending limit;
 *   status.failedMessage with the generation observed makes them failed, with the message, counted as failed;
 * - the condition keys and their first-seen clock the `serve` source keeps.
 */
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import type { Draft } from '../../agent/collect/draft.js';
import { loadConfig } from '../../agent/config.js';
import { kubeCollector } from '../../agent/intent/collector.js';
import { emptyCounts, type PodDrift } from '../../agent/intent/drift.js';
import { countsText } from '../../agent/intent/format.js';
import type { IntentStatus } from '../../agent/intent/model.js';
import { normaliseExperiment, normalisePodNetworkChaos } from '../../agent/intent/normalise.js';
import { advanceSince, conditionKeys, ownerKey, pendingKey, SinceTracker } from '../../agent/intent/owners.js';
import { driftCounts, reconcilePod, type ReconcileInput } from '../../agent/intent/reconcile.js';
import { lifecycleLimits } from '../../agent/intent/setup.js';
import { silentLogger } from '../../agent/log.js';
import { IntentView, networkChaosByRef, type SinceLookup } from '../../agent/intent/view.js';
import type { NetnsState } from '../../agent/netns/state.js';
import type { PodReport } from '../../agent/snapshot.js';
import { iptables, tbf, tcState } from '../chaos/builders.js';
import { chaosDaemonState } from '../chaos/samples.js';

const SYNCED: IntentStatus = { state: 'synced', syncAgeSeconds: 0, errors: [] };
const NOW = 1_800_000_000;
const SLOW = 'shop/slow';

/** A PodNetworkChaos as Chaos Mesh writes it: one bandwidth entry per source given (eth0 first, then eth1...). */
function pnc(sources: string[], gen: { generation: number; observedGeneration: number; failedMessage?: string } = { generation: 2, observedGeneration: 2 }) {
  return {
    metadata: { namespace: 'shop', name: 'api', generation: gen.generation },
    spec: { tcs: sources.map((source, i) => ({ type: 'bandwidth', source, device: `eth${i}`, bandwidth: { rate: '1mbit', limit: 64000, buffer: 32000 } })) },
    status: { observedGeneration: gen.observedGeneration, ...(gen.failedMessage ? { failedMessage: gen.failedMessage } : {}) },
  };
}

/** A NetworkChaos with a record for shop/api; `desiredPhase` Run unless given; `deletionTimestamp` when deleting. */
function networkChaos(name: string, o: { desiredPhase?: 'Run' | 'Stop'; deleting?: boolean } = {}) {
  return {
    metadata: { namespace: 'shop', name, ...(o.deleting ? { deletionTimestamp: '2027-01-15T08:00:00Z' } : {}) },
    spec: { action: 'bandwidth' },
    status: { experiment: { desiredPhase: o.desiredPhase ?? 'Run', containerRecords: [{ id: 'shop/api', selectorKey: '.', phase: 'Injected', injectedCount: 1, recoveredCount: 0 }] } },
  };
}

/**
 * The kernel: a root tbf (1mbit) on each device named, with the CHAOS-INPUT / CHAOS-OUTPUT chains chaos-daemon's
 * SetIptablesChains always leaves before its SetTcs (without them a tbf is not Chaos Mesh's: tc-tree.ts).
 */
function tbfs(...devices: string[]): NetnsState {
  return chaosDaemonState({ tc: tcState(devices.map((iface) => tbf({ iface, handle: '1:', parent: 'root' }, { rateBytesPerSecond: 125_000, burstBytes: 32000, limitBytes: 64000 }))) });
}

function run(kernel: NetnsState, network: unknown, experiments: unknown[], since?: SinceLookup, extra: Partial<ReconcileInput> = {}): PodDrift {
  const view = new IntentView({ network: [normalisePodNetworkChaos(network)!], http: [], io: [], experiments: experiments.map((e) => normaliseExperiment('NetworkChaos', e)!) }, SYNCED, since);
  return reconcilePod({ intent: view.pod('shop', 'api'), status: SYNCED, state: kernel, chaos: fingerprint(kernel), firstSeen: () => NOW - 7200, now: NOW, ...extra });
}

/**
 * run() on tbfs(), the drift of its qdiscs only. The base chains chaos-daemon leaves there (CHAOS-INPUT / CHAOS-OUTPUT,
 * empty, no jump) are checked to be inert whatever the owners (chains, never active, no kind, so never in the drift
 * series), then left out of `entries` and `counts`: the assertions that use this are about the tbfs.
 */
function runTbfs(kernel: NetnsState, network: unknown, experiments: unknown[], since?: SinceLookup, extra: Partial<ReconcileInput> = {}): PodDrift {
  const d = run(kernel, network, experiments, since, extra);
  for (const e of d.entries) if (e.artefact !== 'qdisc') expect(e).toMatchObject({ artefact: 'chain', active: false, kinds: [] });
  const entries = d.entries.filter((e) => e.artefact === 'qdisc');
  expect(driftCounts({ ...d, entries }, ['bandwidth'])).toEqual(driftCounts(d, ['bandwidth']));
  const counts = emptyCounts();
  for (const e of entries) counts[e.state]++;
  return { ...d, entries, counts };
}

/** `since` seeing every condition since `t`. */
const seenAt = (t: number): SinceLookup => () => t;
const nonZero = (d: PodDrift) => driftCounts(d, ['bandwidth']).filter((c) => c.count > 0);
const ABSENT = `NetworkChaos ${SLOW} no longer exists`;

describe('owners: the NetworkChaos each entry names', () => {
  it('running: the tbf is present, owned, and the pod exports 0 drift', () => {
    const d = runTbfs(tbfs('eth0'), pnc([SLOW]), [networkChaos('slow')], seenAt(NOW - 3600));
    expect(d.entries.map((e) => [e.state, e.name, e.owners, e.active])).toEqual([['present', 'eth0 root tbf', [SLOW], true]]);
    expect(d.kindOwners).toEqual({ bandwidth: [SLOW] });
    expect(driftCounts(d, ['bandwidth'])).toEqual([
      { kind: 'bandwidth', state: 'leftover', count: 0 }, { kind: 'bandwidth', state: 'mismatch', count: 0 }, { kind: 'bandwidth', state: 'missing', count: 0 },
    ]);
  });

  it('absent (force-deleted) past the grace: the tbf is a leftover named after it, active, aged, counted', () => {
    const d = runTbfs(tbfs('eth0'), pnc([SLOW]), [], seenAt(NOW - 60));
    expect(d.entries).toHaveLength(1);
    expect(d.entries[0]).toMatchObject({ state: 'leftover', name: 'eth0 root tbf', owners: [SLOW], active: true, kinds: ['bandwidth'], firstSeen: NOW - 7200, ageSeconds: 7200 });
    expect(d.entries[0]!.detail).toBe(`eth0 root tbf is in the kernel for PodNetworkChaos shop/api's entry, but ${ABSENT} (seen so for 60 s): it was deleted without recovering its entries (a forced delete removes the finalizer without recovery)`);
    expect(d.entries[0]!.expected).toBeUndefined();
    expect(d.counts).toMatchObject({ leftover: 1, present: 0 });
    expect(nonZero(d)).toEqual([{ kind: 'bandwidth', state: 'leftover', count: 1 }]);
    // The finding names the experiment whose entry still asks for it (chaos_daemon_injection_active{experiment}).
    expect(d.findings[0]!.owners).toEqual([SLOW]);
  });

  it('absent within the grace: still present (one informer may lag the other); leftover from the grace on', () => {
    expect(runTbfs(tbfs('eth0'), pnc([SLOW]), [], seenAt(NOW - 29)).entries[0]!.state).toBe('present');
    expect(nonZero(runTbfs(tbfs('eth0'), pnc([SLOW]), [], seenAt(NOW - 29)))).toEqual([]);
    expect(runTbfs(tbfs('eth0'), pnc([SLOW]), [], seenAt(NOW - 30)).entries[0]!.state).toBe('leftover');
    // The grace is an input: 120 s keeps a 60 s absence present.
    expect(runTbfs(tbfs('eth0'), pnc([SLOW]), [], seenAt(NOW - 60), { ownerGraceSeconds: 120 }).entries[0]!.state).toBe('present');
  });

  it('absent without memory (a one-shot list, NetworkChaos listed after PodNetworkChaos): leftover at once, no age claimed', () => {
    const d = runTbfs(tbfs('eth0'), pnc([SLOW]), []);
    expect(d.entries[0]).toMatchObject({ state: 'leftover', owners: [SLOW], active: true });
    expect(d.entries[0]!.detail).toContain(`but ${ABSENT}: it was deleted without recovering`);
  });

  it('being deleted (deletionTimestamp) or stopped (desiredPhase Stop) past the grace: leftover, saying which', () => {
    const deleting = runTbfs(tbfs('eth0'), pnc([SLOW]), [networkChaos('slow', { deleting: true, desiredPhase: 'Stop' })], seenAt(NOW - 45));
    expect(deleting.entries[0]).toMatchObject({ state: 'leftover', owners: [SLOW], active: true });
    expect(deleting.entries[0]!.detail).toContain(`but NetworkChaos ${SLOW} is being deleted (seen so for 45 s) and has not recovered its entries`);
    const paused = runTbfs(tbfs('eth0'), pnc([SLOW]), [networkChaos('slow', { desiredPhase: 'Stop' })], seenAt(NOW - 600));
    expect(paused.entries[0]).toMatchObject({ state: 'leftover', owners: [SLOW] });
    expect(paused.entries[0]!.detail).toContain(`but NetworkChaos ${SLOW} is stopped (desiredPhase Stop: paused or its duration over) (seen so for 10 min) and has not recovered its entries`);
    expect(nonZero(paused)).toEqual([{ kind: 'bandwidth', state: 'leftover', count: 1 }]);
    // A pause being recovered right now (within the grace) is not drift.
    expect(runTbfs(tbfs('eth0'), pnc([SLOW]), [networkChaos('slow', { desiredPhase: 'Stop' })], seenAt(NOW - 2)).entries[0]!.state).toBe('present');
  });

  it('gone, and nothing in the kernel: stale, not drift (chaos-daemon would install it again)', () => {
    const d = runTbfs(tbfs(), pnc([SLOW]), [networkChaos('slow', { desiredPhase: 'Stop' })], seenAt(NOW - 60));
    expect(d.entries.map((e) => [e.state, e.name, e.owners, e.kinds, e.active])).toEqual([['stale', 'eth0 tbf', [SLOW], [], false]]);
    expect(d.entries[0]!.detail).toBe(`PodNetworkChaos shop/api still lists eth0 tbf (bandwidth rate 1mbit limit 64000 buffer 32000), but NetworkChaos ${SLOW} is stopped (desiredPhase Stop: paused or its duration over) (seen so for 60 s) and has not recovered its entries; it is not in the kernel, and chaos-daemon would install it again on the next apply of that PodNetworkChaos`);
    expect(d.counts).toMatchObject({ stale: 1, missing: 0 });
    expect(nonZero(d)).toEqual([]);
    // The same with the owner running: missing, counted.
    expect(nonZero(runTbfs(tbfs(), pnc([SLOW]), [networkChaos('slow')], seenAt(NOW - 60)))).toEqual([{ kind: 'bandwidth', state: 'missing', count: 1 }]);
  });

  it('two experiments on the pod, one force-deleted: its tbf is a leftover; the base chains, shared with the running one, stay present', () => {
    const base = iptables('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:CHAOS-INPUT - [0:0]\n:CHAOS-OUTPUT - [0:0]\n' +
      '[0:0] -A INPUT -j CHAOS-INPUT\n[0:0] -A OUTPUT -j CHAOS-OUTPUT\nCOMMIT\n', 'legacy');
    const kernel = { ...tbfs('eth0', 'eth1'), iptables: [base] };
    const d = run(kernel, pnc([SLOW, 'shop/gone']), [networkChaos('slow')], seenAt(NOW - 60));
    expect(d.entries.map((e) => [e.state, e.name, e.owners])).toEqual([
      ['present', 'CHAOS-INPUT', ['shop/gone', SLOW]],
      ['present', 'CHAOS-OUTPUT', ['shop/gone', SLOW]],
      ['present', 'eth0 root tbf', [SLOW]],
      ['leftover', 'eth1 root tbf', ['shop/gone']],
    ]);
    expect(nonZero(d)).toEqual([{ kind: 'bandwidth', state: 'leftover', count: 1 }]);
    // Both gone: the base chains are inert leftovers (not counted), the tbfs active ones.
    const both = run(kernel, pnc([SLOW, 'shop/gone']), [], seenAt(NOW - 60));
    expect(both.entries.map((e) => [e.state, e.name, e.active])).toEqual([
      ['leftover', 'CHAOS-INPUT', false], ['leftover', 'CHAOS-OUTPUT', false], ['leftover', 'eth0 root tbf', true], ['leftover', 'eth1 root tbf', true],
    ]);
    expect(nonZero(both)).toEqual([{ kind: 'bandwidth', state: 'leftover', count: 2 }]);
  });
});

describe('apply state: generation, observedGeneration, failedMessage', () => {
  it('generation > observedGeneration: the differences are pending, not drift; what agrees stays present', () => {
    // Stopped: Chaos Mesh cleared the entry (generation 3), chaos-daemon has not removed the tbf yet.
    const stop = runTbfs(tbfs('eth0'), pnc([], { generation: 3, observedGeneration: 2 }), [networkChaos('slow', { desiredPhase: 'Stop' })], seenAt(NOW - 1));
    expect(stop.entries.map((e) => [e.state, e.name, e.owners, e.active])).toEqual([['pending', 'eth0 root tbf', [], true]]);
    expect(stop.entries[0]!.detail).toBe('eth0 root tbf is in the kernel, but no PodNetworkChaos tcs entry asks for it (pending: PodNetworkChaos shop/api generation 3 is not applied yet, observed 2)');
    expect(stop.counts).toMatchObject({ pending: 1, leftover: 0 });
    expect(nonZero(stop)).toEqual([]);
    // Started: the entry is written (generation 2, never observed), the tbf not yet installed on eth1.
    const start = runTbfs(tbfs('eth0'), { ...pnc([SLOW, SLOW], { generation: 2, observedGeneration: 1 }), status: {} }, [networkChaos('slow')], seenAt(NOW - 1));
    expect(start.entries.map((e) => [e.state, e.name])).toEqual([['present', 'eth0 root tbf'], ['pending', 'eth1 tbf']]);
    expect(nonZero(start)).toEqual([]);
    expect(countsText(start.counts)).toBe('0 leftover, 0 missing, 0 mismatch, 1 present, 1 pending');
  });

  it('pending longer than the limit: drift again, saying since when', () => {
    const d = runTbfs(tbfs('eth0'), pnc([], { generation: 3, observedGeneration: 2 }), [], seenAt(NOW - 200));
    expect(d.entries[0]!.state).toBe('leftover');
    expect(d.entries[0]!.detail).toBe('eth0 root tbf is in the kernel, but no PodNetworkChaos tcs entry asks for it (PodNetworkChaos shop/api generation 3 has not been applied for 3 min: observed 2)');
    expect(nonZero(d)).toEqual([{ kind: 'bandwidth', state: 'leftover', count: 1 }]);
    expect(runTbfs(tbfs('eth0'), pnc([], { generation: 3, observedGeneration: 2 }), [], seenAt(NOW - 200), { pendingLimitSeconds: 300 }).entries[0]!.state).toBe('pending');
  });

  it('the last apply failed (failedMessage, generation observed): failed with the message, counted as failed', () => {
    const msg = 'failed to apply for pod shop/api: rpc error: code = Unavailable desc = connection refused';
    const d = runTbfs(tbfs('eth0'), pnc([], { generation: 3, observedGeneration: 3, failedMessage: msg }), [], seenAt(NOW - 1));
    expect(d.entries.map((e) => [e.state, e.name, e.active, e.kinds])).toEqual([['failed', 'eth0 root tbf', true, ['bandwidth']]]);
    expect(d.entries[0]!.detail).toBe(`eth0 root tbf is in the kernel, but no PodNetworkChaos tcs entry asks for it (chaos-daemon's last apply of PodNetworkChaos shop/api generation 3 failed: ${msg})`);
    expect(driftCounts(d, ['bandwidth'])).toEqual([
      { kind: 'bandwidth', state: 'failed', count: 1 },
      { kind: 'bandwidth', state: 'leftover', count: 0 }, { kind: 'bandwidth', state: 'mismatch', count: 0 }, { kind: 'bandwidth', state: 'missing', count: 0 },
    ]);
    // An entry that did not get installed: failed too; nothing differing: no failed series.
    const miss = runTbfs(tbfs(), pnc([SLOW], { generation: 2, observedGeneration: 2, failedMessage: msg }), [networkChaos('slow')], seenAt(NOW - 1));
    expect(miss.entries.map((e) => [e.state, e.name])).toEqual([['failed', 'eth0 tbf']]);
    expect(nonZero(miss)).toEqual([{ kind: 'bandwidth', state: 'failed', count: 1 }]);
    const ok = runTbfs(tbfs('eth0'), pnc([SLOW], { generation: 2, observedGeneration: 2, failedMessage: msg }), [networkChaos('slow')], seenAt(NOW - 1));
    expect(ok.entries.map((e) => e.state)).toEqual(['present']);
    expect(driftCounts(ok, ['bandwidth']).map((c) => c.state)).toEqual(['leftover', 'mismatch', 'missing']);
  });

  it('a newer generation after a failed apply: pending, quoting the failure', () => {
    const d = runTbfs(tbfs('eth0'), pnc([], { generation: 4, observedGeneration: 3, failedMessage: 'rpc error: connection refused' }), [], seenAt(NOW - 1));
    expect(d.entries[0]!.state).toBe('pending');
    expect(d.entries[0]!.detail).toMatch(/\(pending: PodNetworkChaos shop\/api generation 4 is not applied yet, observed 3; the previous apply failed: rpc error: connection refused\)$/);
  });

  it('a force-deleted owner\'s leftover stays a leftover while another change is pending (that apply keeps its entry)', () => {
    const d = runTbfs(tbfs('eth0'), pnc([SLOW], { generation: 5, observedGeneration: 4 }), [], seenAt(NOW - 60));
    expect(d.entries.map((e) => [e.state, e.owners])).toEqual([['leftover', [SLOW]]]);
    expect(nonZero(d)).toEqual([{ kind: 'bandwidth', state: 'leftover', count: 1 }]);
  });
});

describe('the conditions the serve source tracks', () => {
  const network = [
    normalisePodNetworkChaos(pnc(['shop/gone', 'shop/paused', 'shop/del', SLOW]))!,
    normalisePodNetworkChaos({ ...pnc([SLOW], { generation: 7, observedGeneration: 6 }), metadata: { namespace: 'shop', name: 'db', generation: 7 } })!,
  ];
  const experiments = [networkChaos('slow'), networkChaos('paused', { desiredPhase: 'Stop' }), networkChaos('del', { deleting: true })].map((e) => normaliseExperiment('NetworkChaos', e)!);

  it('keys: owners absent, deleting, stopped (not running ones), and pending PodNetworkChaos objects', () => {
    expect(conditionKeys(network, networkChaosByRef(experiments)).sort()).toEqual([
      ownerKey('shop/del', 'deleting'), ownerKey('shop/gone', 'absent'), ownerKey('shop/paused', 'stopped'), pendingKey('shop', 'db'),
    ].sort());
  });

  it('first-seen times: kept while seen, forgotten when not; the view hands them to each pod', () => {
    const a = advanceSince(new Map(), ['x', 'y'], 100);
    const b = advanceSince(a, ['y', 'z'], 130);
    expect([...b]).toEqual([['y', 100], ['z', 130]]);
    const t = new SinceTracker();
    t.observe(conditionKeys(network, networkChaosByRef(experiments)), NOW - 50);
    t.observe(conditionKeys(network, networkChaosByRef(experiments)), NOW);
    const view = new IntentView({ network, http: [], io: [], experiments }, SYNCED, (k) => t.since(k) ?? NOW);
    expect(view.pod('shop', 'api').owners).toEqual([
      { ref: 'shop/del', condition: 'deleting', since: NOW - 50 },
      { ref: 'shop/gone', condition: 'absent', since: NOW - 50 },
      { ref: 'shop/paused', condition: 'stopped', since: NOW - 50 },
      { ref: SLOW, condition: 'running', since: null },
    ]);
    expect(view.pod('shop', 'api').networkPendingSince).toBeNull();
    expect(view.pod('shop', 'db').networkPendingSince).toBe(NOW - 50);
    // The owner comes back (re-created): its clock stops; gone again later, it starts anew.
    t.observe([], NOW + 10);
    expect(t.since(ownerKey('shop/gone', 'absent'))).toBeUndefined();
  });
});

describe("serve's --intent-owner-grace and --intent-pending-limit reach the reconciliation (kube collector)", () => {
  /** One collection's kube step for shop/api, every condition seen `ago` seconds before now, with serve's flags. */
  async function collect(argv: string[], network: unknown, experiments: unknown[], ago: number) {
    const now = Date.now() / 1000;
    const view = new IntentView({ network: [normalisePodNetworkChaos(network)!], http: [], io: [], experiments: experiments.map((e) => normaliseExperiment('NetworkChaos', e)!) }, SYNCED, () => now - ago);
    const kernel = tbfs('eth0');
    const report = { namespace: 'shop', name: 'api', ...kernel, chaos: fingerprint(kernel) } as unknown as PodReport;
    const draft = { reports: new Map([['shop/api', report]]) } as unknown as Draft;
    const health = { up: true, syncAgeSeconds: 0, resources: [], from: 'test', server: 'https://test' };
    const c = kubeCollector({ source: { view: () => view, health: () => health }, lifecycle: lifecycleLimits(loadConfig(['serve', ...argv])) });
    expect(await c.collect(draft, { deadline: Date.now() + 5000, log: silentLogger() })).toEqual({ success: true });
    return report.drift!.entries.filter((e) => e.artefact === 'qdisc').map((e) => e.state);
  }

  it('owner grace: an owner absent for 60 s makes a leftover with the default 30s, not with --intent-owner-grace 90s', async () => {
    expect(await collect([], pnc([SLOW]), [], 60)).toEqual(['leftover']);
    expect(await collect(['--intent-owner-grace', '90s'], pnc([SLOW]), [], 60)).toEqual(['present']);
    expect(await collect(['--intent-owner-grace', '45s'], pnc([SLOW]), [], 60)).toEqual(['leftover']);
  });

  it('pending limit: a generation unapplied for 200 s is drift again with the default 2m, still pending with --intent-pending-limit 5m', async () => {
    const unapplied = pnc([], { generation: 3, observedGeneration: 2 });
    expect(await collect([], unapplied, [], 200)).toEqual(['leftover']);
    expect(await collect(['--intent-pending-limit', '5m'], unapplied, [], 200)).toEqual(['pending']);
    expect(await collect(['--intent-pending-limit=150s'], unapplied, [], 200)).toEqual(['leftover']);
  });
});
