/**
 * The pure reconciliation on namespace states built from iptables-save / ipset save text (the production
 * parsers) and qdiscs, against intent normalised from Chaos Mesh-shaped objects: present, leftover (owner none,
 * active or inert, age from first seen), missing, mismatch (chain rules, ipset members, tbf rate, netem on the
 * iproute2-shaped fixture since this kernel has no netem), filtered traffic control ownership, DNSChaos through
 * its records, the finding owners and the drift series; and the cases where no claim may be made.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from '../../agent/chaos/types.js';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import type { IntentStatus, PodIntent } from '../../agent/intent/model.js';
import { normaliseExperiment, normalisePodNetworkChaos } from '../../agent/intent/normalise.js';
import type { PodDrift } from '../../agent/intent/drift.js';
import { driftCounts, reconcilePod, type ReconcileInput } from '../../agent/intent/reconcile.js';
import { networkSources } from '../../agent/intent/owners.js';
import { IntentView } from '../../agent/intent/view.js';
import { parseTcQdiscs } from '../../agent/netns/nsenter/tc.js';
import type { NetnsState } from '../../agent/netns/state.js';
import { chainName, ipsetName } from '../helpers/chaos-mesh.js';
import { experiment, partitionEntries, podNetworkChaos } from '../helpers/chaos-mesh-crds.js';
import { ipsets, iptables, link, qdisc, state, tbf, tcState } from '../chaos/builders.js';
import { chaosDaemonState } from '../chaos/samples.js';

const EXP = 'web-to-db';
const SRC = `shop/${EXP}`;
const CHAIN = chainName('OUTPUT', EXP);
const NET = ipsetName(EXP, 'net_tgt');
const NETPORT = ipsetName(EXP, 'netport_tgt');
const SET = ipsetName(EXP, 'set_tgt');
const SYNCED: IntentStatus = { state: 'synced', syncAgeSeconds: 0, errors: [] };
const NOW = 1_800_000_000;

const PARTITION_IPT = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:CHAOS-INPUT - [0:0]
:CHAOS-OUTPUT - [0:0]
:${CHAIN} - [0:0]
[0:0] -A INPUT -j CHAOS-INPUT
[0:0] -A OUTPUT -j CHAOS-OUTPUT
[0:0] -A CHAOS-OUTPUT -j ${CHAIN}
[0:0] -A ${CHAIN} -o eth0 -m set --match-set ${SET} dst,dst -j DROP
COMMIT
`;

const PARTITION_SETS = `create ${NET} hash:net family inet hashsize 1024 maxelem 65536
add ${NET} 10.9.9.9
create ${NETPORT} hash:net,port family inet hashsize 1024 maxelem 65536
create ${SET} list:set size 8
add ${SET} ${NET}
add ${SET} ${NETPORT}
create ${SET}old list:set size 8`;

function partitionState(extra: Partial<NetnsState> = {}): NetnsState {
  return state({ iptables: [iptables(PARTITION_IPT, 'legacy')], ipsets: ipsets(PARTITION_SETS), ...extra });
}

/**
 * The pod's intent from Chaos Mesh-shaped objects. As in a live cluster, every source the PodNetworkChaos names has
 * its NetworkChaos (running, no records) unless `experiments` gives it (with its records) or `absent` lists it.
 */
function intentOf(objects: { network?: unknown; experiments?: [string, unknown][]; absent?: string[] }, ns = 'shop', pod = 'web'): PodIntent {
  const network = objects.network === undefined ? [] : [normalisePodNetworkChaos(objects.network)!];
  const experiments = (objects.experiments ?? []).map(([kind, raw]) => normaliseExperiment(kind, raw)!);
  const given = new Set(experiments.filter((e) => e.kind === 'NetworkChaos').map((e) => `${e.namespace}/${e.name}`));
  for (const ref of network.flatMap(networkSources)) {
    if (given.has(ref) || objects.absent?.includes(ref)) continue;
    given.add(ref);
    const [ens = '', name = ''] = ref.split('/');
    experiments.push(normaliseExperiment('NetworkChaos', experiment(ens, name, 'partition', []))!);
  }
  return new IntentView({ network, http: [], io: [], experiments }, SYNCED).pod(ns, pod);
}

/** Counts with every state, the given ones set. */
const counts = (c: Partial<PodDrift['counts']>): PodDrift['counts'] => ({ present: 0, missing: 0, leftover: 0, mismatch: 0, stale: 0, pending: 0, failed: 0, ...c });

/** The drift series with a value (the others are the 0s of the pod's kinds). */
const nonZero = (d: PodDrift) => driftCounts(d).filter((c) => c.count > 0);

function run(s: NetnsState, intent: PodIntent, extra: Partial<ReconcileInput> = {}) {
  return reconcilePod({ intent, status: SYNCED, state: s, chaos: fingerprint(s), firstSeen: () => NOW - 600, now: NOW, ...extra });
}

const partitionIntent = (): PodIntent =>
  intentOf({ network: podNetworkChaos('shop', 'web', partitionEntries('shop', EXP, ['10.9.9.9'])), experiments: [['NetworkChaos', experiment('shop', EXP, 'partition', [{ id: 'shop/web' }])]] });

describe('partition', () => {
  it('replayed with its PodNetworkChaos: everything present, owned by the experiment, no drift series', () => {
    const d = run(partitionState(), partitionIntent());
    expect(d.status).toBe('reconciled');
    expect(d.entries.map((e) => [e.state, e.artefact, e.name, e.owners])).toEqual([
      ['present', 'chain', CHAIN, [SRC]],
      ['present', 'chain', 'CHAOS-INPUT', [SRC]],
      ['present', 'chain', 'CHAOS-OUTPUT', [SRC]],
      ['present', 'ipset', NET, [SRC]],
      ['present', 'ipset', NETPORT, [SRC]],
      ['present', 'ipset', SET, [SRC]],
      ['present', 'ipset', `${SET}old`, [SRC]],
    ]);
    // CHAOS-INPUT: chaos-daemon sets both base chains up on every apply; empty, so inert.
    expect(d.entries.find((e) => e.name === 'CHAOS-INPUT')).toMatchObject({ state: 'present', active: false, kinds: [] });
    expect(d.counts).toEqual(counts({ present: 7 }));
    expect(d.findings).toEqual([
      { finding: `${CHAIN} drops eth0 traffic to ipset ${SET} (list:set of 2 sets, 1 member)`, owners: [SRC] },
      { finding: 'CHAOS-INPUT is empty (jumped to from INPUT)', owners: [SRC] },
      { finding: `1 Chaos Mesh ipset no reachable rule uses: ${SET}old (list:set of 0 sets, 0 members)`, owners: [SRC] },
    ]);
    expect(d.kindOwners).toEqual({ partition: [SRC] });
    expect(nonZero(d)).toEqual([]);
    // Reconciled without drift: the pod's active kinds are exported with 0 (absent would mean "not reconciled").
    expect(driftCounts(d, ['partition'])).toEqual([
      { kind: 'partition', state: 'leftover', count: 0 }, { kind: 'partition', state: 'mismatch', count: 0 }, { kind: 'partition', state: 'missing', count: 0 },
    ]);
    expect(d.entries[0]).toMatchObject({ spec: `output chain on eth0 dropping ipset ${SET}`, kernel: '1 rule, from CHAOS-OUTPUT', where: 'legacy ipv4 filter' });
  });

  it('the experiment deleted but the chain left: leftover, owner none, active, aged from first seen', () => {
    const d = run(partitionState(), intentOf({}), { firstSeen: (k) => (k === 'partition' ? NOW - 3600 : undefined) });
    const chain = d.entries.find((e) => e.name === CHAIN)!;
    expect(chain).toMatchObject({ state: 'leftover', owners: [], active: true, kinds: ['partition'], firstSeen: NOW - 3600, ageSeconds: 3600, spec: null });
    expect(chain.detail).toBe(`${CHAIN} (1 rule) is in the kernel, but no PodNetworkChaos entry asks for it`);
    // The list:set the DROP rule matches is named by the finding: active too; its members are inert residue.
    expect(d.entries.find((e) => e.name === SET)).toMatchObject({ state: 'leftover', active: true, kinds: ['partition'] });
    expect(d.entries.find((e) => e.name === NET)).toMatchObject({ state: 'leftover', active: false, kinds: [], ageSeconds: null });
    expect(d.findings[0]!.owners).toEqual([]);
    expect(d.kindOwners).toEqual({ partition: [] });
    expect(nonZero(d)).toEqual([{ kind: 'partition', state: 'leftover', count: 2 }]);
  });

  it('recovered (CHAOS-* flushed) with no intent: only inert leftovers, no drift series', () => {
    const recovered = PARTITION_IPT.replace(`[0:0] -A CHAOS-OUTPUT -j ${CHAIN}\n`, '');
    const s = state({ iptables: [iptables(recovered, 'legacy')], ipsets: ipsets(PARTITION_SETS) });
    const d = run(s, intentOf({}));
    expect(d.entries.every((e) => e.state === 'leftover' && !e.active)).toBe(true);
    expect(nonZero(d)).toEqual([]);
  });

  it('a PodNetworkChaos entry with nothing in the kernel: missing', () => {
    const extra = partitionEntries('shop', 'web-to-cache', ['10.7.7.7']);
    const both = partitionEntries('shop', EXP, ['10.9.9.9']);
    const intent = intentOf({ network: podNetworkChaos('shop', 'web', { ipsets: [...both.ipsets, ...extra.ipsets], iptables: [...both.iptables, ...extra.iptables] }) });
    const d = run(partitionState(), intent);
    const missing = d.entries.filter((e) => e.state === 'missing');
    expect(missing.map((e) => [e.artefact, e.name, e.owners, e.kinds])).toEqual([
      ['chain', chainName('OUTPUT', 'web-to-cache'), ['shop/web-to-cache'], ['partition']],
      ['ipset', ipsetName('web-to-cache', 'net_tgt'), ['shop/web-to-cache'], ['partition']],
      ['ipset', ipsetName('web-to-cache', 'netport_tgt'), ['shop/web-to-cache'], ['partition']],
      ['ipset', ipsetName('web-to-cache', 'set_tgt'), ['shop/web-to-cache'], ['partition']],
    ]);
    expect(missing[0]!.detail).toBe(`${chainName('OUTPUT', 'web-to-cache')} (output chain on eth0 dropping ipset ${ipsetName('web-to-cache', 'set_tgt')}) is not in the kernel`);
    expect(nonZero(d)).toEqual([{ kind: 'partition', state: 'missing', count: 4 }]);
    // CHAOS-OUTPUT is owned by both experiments' entries.
    expect(d.entries.find((e) => e.name === 'CHAOS-OUTPUT')!.owners).toEqual(['shop/web-to-cache', SRC]);
  });

  it('chain rules or set members other than the spec: mismatch, saying what differs', () => {
    const unjumped = PARTITION_IPT.replace(`[0:0] -A CHAOS-OUTPUT -j ${CHAIN}\n`, '').replace(`-o eth0 -m set --match-set ${SET} dst,dst -j DROP`, `-o eth1 -m set --match-set ${SET} dst,dst -j DROP`);
    const sets = PARTITION_SETS.replace(`add ${NET} 10.9.9.9`, `add ${NET} 10.9.9.8\nadd ${NET} 10.1.0.0/16`);
    const d = run(state({ iptables: [iptables(unjumped, 'legacy')], ipsets: ipsets(sets) }), partitionIntent());
    expect(d.entries.find((e) => e.name === CHAIN)).toMatchObject({
      state: 'mismatch', kinds: ['partition'],
      detail: `${CHAIN}: CHAOS-OUTPUT does not jump to it; no DROP rule on eth0 for ipset ${SET} (spec: output chain on eth0 dropping ipset ${SET})`,
    });
    expect(d.entries.find((e) => e.name === NET)).toMatchObject({
      state: 'mismatch', detail: `ipset ${NET}: missing member 10.9.9.9; unexpected members 10.9.9.8, 10.1.0.0/16`,
      expected: { members: 1, type: 'hash:net' }, actual: { members: 2, type: 'hash:net' },
    });
    expect(nonZero(d)).toEqual([{ kind: 'partition', state: 'mismatch', count: 2 }]);
  });
});

describe('traffic control', () => {
  const tbfRoot = (rate: number) => tcState([tbf({ handle: '1:', parent: 'root' }, { rateBytesPerSecond: rate, burstBytes: 32000, limitBytes: 64000 })]);
  const bandwidthIntent = (rate: string) => intentOf({ network: podNetworkChaos('shop', 'api', { tcs: [{ type: 'bandwidth', source: 'shop/slow', bandwidth: { rate, limit: 64000, buffer: 32000 } }] }) }, 'shop', 'api');

  /** The qdisc entries (chaos-daemon's CHAOS-INPUT / CHAOS-OUTPUT are entries too: see the first test). */
  const qdiscEntries = (d: PodDrift) => d.entries.filter((e) => e.artefact === 'qdisc');

  it('a tbf as the spec says: present, and the finding is owned', () => {
    const d = run(chaosDaemonState({ tc: tbfRoot(125_000) }), bandwidthIntent('1mbit'));
    // The base chains chaos-daemon sets up with every apply belong to the tcs entry.
    expect(d.entries.map((e) => [e.state, e.artefact, e.name, e.owners])).toEqual([
      ['present', 'chain', 'CHAOS-INPUT', ['shop/slow']],
      ['present', 'chain', 'CHAOS-OUTPUT', ['shop/slow']],
      ['present', 'qdisc', 'eth0 root tbf', ['shop/slow']],
    ]);
    expect(qdiscEntries(d)[0]).toMatchObject({ state: 'present', artefact: 'qdisc', name: 'eth0 root tbf', owners: ['shop/slow'], kinds: ['bandwidth'], active: true });
    expect(d.findings).toEqual([
      { finding: 'eth0 root tbf limits rate to 1Mbit/s (burst 32000B, limit 64000B)', owners: ['shop/slow'] },
      { finding: 'CHAOS-INPUT is empty (jumped to from INPUT)', owners: ['shop/slow'] },
      { finding: 'CHAOS-OUTPUT is empty (jumped to from OUTPUT)', owners: ['shop/slow'] },
    ]);
  });

  it('a tbf rate changed by hand: mismatch with both values in base units', () => {
    const d = run(chaosDaemonState({ tc: tbfRoot(12_500) }), bandwidthIntent('1mbit'));
    expect(qdiscEntries(d)[0]).toMatchObject({
      state: 'mismatch', owners: ['shop/slow'], kinds: ['bandwidth'],
      expected: { rateBytesPerSecond: 125_000 }, actual: { rateBytesPerSecond: 12_500 },
      detail: 'eth0 root tbf: rateBytesPerSecond 12500 B/s in the kernel, 125000 B/s in the spec (spec: bandwidth rate 1mbit limit 64000 buffer 32000)',
    });
    expect(nonZero(d)).toEqual([{ kind: 'bandwidth', state: 'mismatch', count: 1 }]);
  });

  it('a tbf nobody asks for: leftover; a tcs entry with no qdisc: missing', () => {
    const left = run(chaosDaemonState({ tc: tbfRoot(125_000) }), intentOf({}, 'shop', 'api'));
    expect(qdiscEntries(left)[0]).toMatchObject({ state: 'leftover', owners: [], active: true, kinds: ['bandwidth'], ageSeconds: 600 });
    const miss = run(state(), bandwidthIntent('1mbit'));
    expect(miss.entries[0]).toMatchObject({ state: 'missing', name: 'eth0 tbf', owners: ['shop/slow'], kinds: ['bandwidth'], active: false, kernel: null });
    expect(nonZero(miss)).toEqual([{ kind: 'bandwidth', state: 'missing', count: 1 }]);
  });

  it('a tbf where chaos-daemon never ran (CNI bandwidth shaping: no CHAOS-* chains): no artefact, no leftover, no drift', () => {
    const none = run(state({ tc: tbfRoot(125_000) }), intentOf({}, 'shop', 'api'));
    expect(none.entries).toEqual([]);
    expect(nonZero(none)).toEqual([]);
    // With the root tbf moved to a CNI ifb in a namespace chaos-daemon did set up, likewise.
    const ifb = tcState([tbf({ iface: 'bwp1f0e9d8c7b6a', handle: '1:', parent: 'root' }, { rateBytesPerSecond: 125_000, burstBytes: 32000, limitBytes: 64000 })]);
    expect(qdiscEntries(run(chaosDaemonState({ tc: ifb }), intentOf({}, 'shop', 'api')))).toEqual([]);
  });

  describe('netem (fixture written from iproute2 q_netem.c: this kernel has no netem)', () => {
    const fixture = parseTcQdiscs(readFileSync(new URL('../fixtures/tc/netem-tbf-chain-qdisc.json', import.meta.url), 'utf8'));
    const s = chaosDaemonState({ tc: { qdiscs: fixture.qdiscs, classes: [], filters: [], errors: [] } });
    const netemSpec = (latency: string) => ({
      type: 'netem', source: 'shop/flaky', device: 'eth0',
      delay: { latency, jitter: '10ms', correlation: '25', reorder: { reorder: '20', correlation: '50', gap: 5 } },
      loss: { loss: '5', correlation: '10' }, duplicate: { duplicate: '1', correlation: '2' }, corrupt: { corrupt: '0.5', correlation: '3' }, rate: { rate: '1mbit' },
    });
    const bw = { type: 'bandwidth', source: 'shop/narrow', bandwidth: { rate: '8mbit', limit: 20000, buffer: 10240 } };
    const intent = (latency: string) => intentOf({ network: podNetworkChaos('shop', 'web', { tcs: [netemSpec(latency), bw] }) });

    it('the chain netem 1: -> tbf 2: as two tcs entries: both present, each finding owned by its experiment', () => {
      expect(fixture.errors).toEqual([]);
      const d = run(s, intent('100ms'));
      expect(qdiscEntries(d).map((e) => [e.state, e.name, e.owners])).toEqual([
        ['present', 'eth0 root netem', ['shop/flaky']],
        ['present', 'eth0 tbf 2: (parent 1:)', ['shop/narrow']],
      ]);
      expect(qdiscEntries(d)[0]!.kinds).toEqual(['bandwidth', 'corrupt', 'delay', 'duplicate', 'loss', 'reorder']);
      expect(d.kindOwners.delay).toEqual(['shop/flaky']);
      expect(d.kindOwners.bandwidth).toEqual(['shop/flaky', 'shop/narrow']);
    });

    it('a delay other than the spec: mismatch on delaySeconds only', () => {
      const d = run(s, intent('200ms'));
      const [netemEntry, tbfEntry] = qdiscEntries(d);
      expect(netemEntry).toMatchObject({ state: 'mismatch', expected: { delaySeconds: 0.2 }, actual: { delaySeconds: 0.1 } });
      expect(netemEntry!.detail).toBe('eth0 root netem: delaySeconds 100ms in the kernel, 200ms in the spec (spec: netem delay 200ms jitter 10ms correlation 25% reorder 20% gap 5 loss 5% (correlation 10%) duplicate 1% (correlation 2%) corrupt 0.5% (correlation 3%) rate 1mbit)');
      expect(tbfEntry!.state).toBe('present');
      expect(nonZero(d).filter((c) => c.state === 'mismatch').map((c) => c.kind)).toEqual(['bandwidth', 'corrupt', 'delay', 'duplicate', 'loss', 'reorder']);
    });
  });

  it('filtered bandwidth: the tbf under a CLASSIFY-fed class, TC-TABLES-0 and CHAOS-OUTPUT belong to the tcs entry', () => {
    const bset = ipsetName('slow-db', 'set_batgt');
    const ipt = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:CHAOS-OUTPUT - [0:0]
:TC-TABLES-0 - [0:0]
[0:0] -A OUTPUT -j CHAOS-OUTPUT
[0:0] -A CHAOS-OUTPUT -j TC-TABLES-0
[0:0] -A TC-TABLES-0 -o eth0 -m set --match-set ${bset} dst,dst -j CLASSIFY --set-class 0001:0004
COMMIT
`;
    const qd = [qdisc('htb', { handle: '1:', parent: 'root' }), tbf({ handle: '5:', parent: '1:4' }, { rateBytesPerSecond: 125_000, burstBytes: 32000, limitBytes: 64000 })];
    const s = state({ iptables: [iptables(ipt, 'legacy')], ipsets: ipsets(`create ${bset} list:set size 8`), tc: tcState(qd) });
    const intent = intentOf({ network: podNetworkChaos('shop', 'web', {
      ipsets: [{ name: bset, ipsetType: 'list:set', setNames: [], source: 'shop/slow-db' }],
      tcs: [{ type: 'bandwidth', source: 'shop/slow-db', ipset: bset, bandwidth: { rate: '1mbit', limit: 64000, buffer: 32000 } }],
    }) });
    const d = run(s, intent);
    expect(d.entries.map((e) => [e.state, e.artefact, e.name, e.owners])).toEqual([
      ['present', 'chain', 'CHAOS-OUTPUT', ['shop/slow-db']],
      ['present', 'chain', 'TC-TABLES-0', ['shop/slow-db']],
      ['present', 'ipset', bset, ['shop/slow-db']],
      ['present', 'qdisc', 'eth0 tbf 5: (parent 1:4)', ['shop/slow-db']],
    ]);
    expect(d.entries[1]!.kinds).toEqual([]);
    expect(d.entries[2]!.kinds).toEqual(['bandwidth']);
    // Without the tcs entry, the same layout is a leftover: the tbf, its CLASSIFY chain and the base chain.
    const left = run(s, intentOf({}));
    expect(left.entries.filter((e) => e.state === 'leftover').map((e) => e.name)).toEqual(['CHAOS-OUTPUT', 'TC-TABLES-0', bset, 'eth0 tbf 5: (parent 1:4)']);
    expect(left.entries.find((e) => e.name === 'eth0 tbf 5: (parent 1:4)')).toMatchObject({ active: true, kinds: ['bandwidth'] });
  });
});

describe('faults owned through experiment records', () => {
  // DNSChaos is read from the containers' roots (agent/proc): its active finding joins the network report.
  const dnsState = state();
  const dnsFinding = "container app: /etc/resolv.conf's nameservers (10.96.0.53) differ from its /etc/resolv.conf.chaos.bak (10.96.0.10)";
  const dnsReport: ChaosReport = { verdict: 'active', kinds: ['dns'], findings: [dnsFinding], details: [{ kind: 'dns', level: 'active', message: dnsFinding }] };
  const withDns = { chaos: dnsReport };
  const dnsChaos = (phase: 'Injected' | 'Not Injected') => ['DNSChaos', experiment('shop', 'bad-dns', 'error', [{ id: 'shop/web/app', phase }])] as [string, unknown];

  it('DNSChaos: state + Injected record = present; state alone = leftover; record alone = missing', () => {
    const present = run(dnsState, intentOf({ experiments: [dnsChaos('Injected')] }), withDns);
    expect(present.entries).toEqual([expect.objectContaining({ artefact: 'dns', state: 'present', owners: ['shop/bad-dns'], active: true, kinds: ['dns'] })]);
    expect(present.findings[0]!.owners).toEqual(['shop/bad-dns']);
    expect(present.kindOwners).toEqual({ dns: ['shop/bad-dns'] });
    const leftover = run(dnsState, intentOf({ experiments: [dnsChaos('Not Injected')] }), withDns);
    expect(leftover.entries[0]).toMatchObject({ state: 'leftover', owners: [], ageSeconds: 600 });
    const missing = run(state(), intentOf({ experiments: [dnsChaos('Injected')] }));
    expect(missing.entries[0]).toMatchObject({ state: 'missing', owners: ['shop/bad-dns'], active: false });
    expect(nonZero(missing)).toEqual([{ kind: 'dns', state: 'missing', count: 1 }]);
  });

  it('records of other pods and of other experiments do not count', () => {
    const other = ['DNSChaos', experiment('shop', 'bad-dns', 'error', [{ id: 'shop/webby/app' }, { id: 'shop2/web' }])] as [string, unknown];
    const d = run(dnsState, intentOf({ experiments: [other] }), withDns);
    expect(d.entries[0]).toMatchObject({ state: 'leftover', owners: [] });
  });
});

describe("the node's namespace (a host-network pod's entry with the node's state)", () => {
  it("the CNI bandwidth plugin's tbf on a pod's host veth is no Chaos Mesh artefact there; judged as a pod's namespace it was a leftover", () => {
    const veth = 'veth3c9a1e27';
    // chaos-daemon's chains, left for good by an earlier experiment on a host-network pod; a shaped pod's veth.
    const s = chaosDaemonState({
      links: [link(2, 'eth0', null), link(7, veth, 'veth', { link: 3, linkNetnsId: 4 })],
      tc: tcState([tbf({ iface: veth, handle: '1:', parent: 'root' }, { rateBytesPerSecond: 125_000, burstBytes: 12_500, limitBytes: 15_625 })]),
    });
    const intent = intentOf({});
    const node = reconcilePod({ intent, status: SYNCED, state: { ...s, hostNetwork: true }, chaos: fingerprint(s, { nodeNamespace: true }), firstSeen: () => NOW - 600, now: NOW });
    expect(node.entries.map((e) => [e.state, e.artefact, e.name, e.active])).toEqual([
      ['leftover', 'chain', 'CHAOS-INPUT', false], ['leftover', 'chain', 'CHAOS-OUTPUT', false],
    ]);
    expect(nonZero(node)).toEqual([]);
    expect(run(s, intent).entries.map((e) => [e.state, e.artefact, e.name, e.active])).toContainEqual(['leftover', 'qdisc', `${veth} root tbf`, true]);
  });
});

describe('no claim without knowledge', () => {
  it('an unread namespace, an unavailable or too old intent: status unknown, no entries', () => {
    const s = partitionState();
    const unread = reconcilePod({ intent: intentOf({}), status: SYNCED, state: s, chaos: { verdict: 'unknown', kinds: [], findings: ['not inspected: gone'], details: [] }, firstSeen: () => undefined, now: NOW });
    expect(unread).toMatchObject({ status: 'unknown', reason: 'the network namespace could not be read', entries: [] });
    expect(unread.findings).toEqual([{ finding: 'not inspected: gone', owners: [] }]);
    const unavailable = run(s, intentOf({}), { status: { state: 'unavailable', syncAgeSeconds: null, errors: ['podnetworkchaos: HTTP 403: forbidden'] } });
    expect(unavailable).toMatchObject({ status: 'unknown', reason: 'the Kubernetes API intent is not available', reasonErrors: ['podnetworkchaos: HTTP 403: forbidden'] });
    const stale = run(s, intentOf({}), { status: { state: 'stale', syncAgeSeconds: 301, errors: [] } });
    expect(stale).toMatchObject({ status: 'unknown', reason: 'the Kubernetes API intent is 301 s old (more than 300 s)' });
    const recent = run(s, intentOf({}), { status: { state: 'stale', syncAgeSeconds: 30, errors: [] } });
    expect(recent.status).toBe('reconciled');
    for (const d of [unread, unavailable, stale]) expect(driftCounts(d, ['partition'])).toEqual([]);
  });
});
