/**
 * The spec side of a bandwidth entry against the real `tc` and kernel: for each rate syntax a BandwidthSpec can
 * carry, the tbf chaos-daemon would install (`tc qdisc add ... tbf rate R burst BUFFER limit LIMIT`,
 * convertTbfToArgs) is created in a real namespace, after the CHAOS-INPUT / CHAOS-OUTPUT chains SetIptablesChains
 * always creates first, and read back by the agent's readers (tools and netlink); parseTcRate(R) must be the
 * rate the kernel holds, and the reconciliation must call the entry present (and a different rate a mismatch).
 * Bursts that tc's tick arithmetic rounds down by more than 8 B or 1% (12345 at 100mbps reads back 12200) are
 * present too.
 */
import { statSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import { normaliseExperiment, normalisePodNetworkChaos } from '../../agent/intent/normalise.js';
import { reconcilePod } from '../../agent/intent/reconcile.js';
import { parseTcRate } from '../../agent/intent/units.js';
import { IntentView } from '../../agent/intent/view.js';
import { createNetnsReader, type NetnsReader, type ReaderMode } from '../../agent/netns/read.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { experiment, podNetworkChaos } from '../helpers/chaos-mesh-crds.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';

const RATES = ['1000000', '8mbit', '1mbps', '100kbit', '2.5mbit', '1gbit', '10kbps', '1Mibit', '64000bps'];
/** Both readers: the tools (tc's JSON) and netlink (RTM_GETQDISC, TCA_TBF_PARMS / RATE64). */
const MODES: ReaderMode[] = ['nsenter', 'netlink'];

describeIntegration('BandwidthSpec rates against the real tc', { root: true, commands: ['nsenter', 'ip', 'tc', 'iptables-legacy'] }, () => {
  let ns: TestNetns;
  const readers = new Map<ReaderMode, NetnsReader>();
  beforeAll(async () => {
    ns = await createNetns('h12r');
    await ns.addPodInterface({ addr: '10.252.12.2/24' });
    await ns.startHolder();
    // SetIptablesChains (initializeEnv) runs before every SetTcs: without these chains a tbf is not Chaos Mesh's.
    await new ChaosMeshReplay(ns).setIptablesChains([]);
    for (const mode of MODES) {
      readers.set(mode, createNetnsReader({ reader: mode, netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 10_000, maxOutputBytes: 2 << 20, namespaceTimeoutMs: 30_000, procRoot: '/proc' }));
    }
  });
  afterAll(async () => {
    for (const r of readers.values()) await r.close();
    await destroyAll();
  });

  const read = (mode: ReaderMode) => readers.get(mode)!.read({ path: ns.path, inode: statSync(ns.path).ino, pid: ns.holderPid });
  const reconcile = (state: Awaited<ReturnType<typeof read>>, bandwidth: { rate: string; limit: number; buffer: number }) => reconcilePod({
    // The entry's NetworkChaos runs (an absent one would make the tbf a leftover of a deleted experiment).
    intent: new IntentView({
      network: [normalisePodNetworkChaos(podNetworkChaos('shop', 'api', { tcs: [{ type: 'bandwidth', source: 'shop/slow', bandwidth }] }))!], http: [], io: [],
      experiments: [normaliseExperiment('NetworkChaos', experiment('shop', 'slow', 'bandwidth', [{ id: 'shop/api' }]))!],
    }, { state: 'synced', syncAgeSeconds: 0, errors: [] }).pod('shop', 'api'),
    status: { state: 'synced', syncAgeSeconds: 0, errors: [] }, state, chaos: fingerprint(state), firstSeen: () => undefined, now: 0,
  }).entries.filter((e) => e.artefact === 'qdisc');

  // [rate, spec buffer, burst the kernel gives back]
  const BURSTS = [['100mbps', 12345, 12300], ['1gbps', 10000, 9000], ['300mbps', 10000, 9900], ['1mbit', 10000, 10000]] as const;
  it.each(MODES.flatMap((mode) => BURSTS.map((b) => [mode, ...b] as const)))('--reader %s, rate %s, buffer %d: the kernel gives back %d and the entry is present', async (mode, rate, buffer, back) => {
    await ns.exec(['tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'handle', '1:', 'tbf', 'rate', rate, 'burst', String(buffer), 'limit', '64000']);
    const state = await read(mode);
    expect(state.tc.qdiscs.find((q) => q.interface === 'eth0' && q.kind === 'tbf')!.tbf!.burstBytes).toBe(back);
    expect(reconcile(state, { rate, limit: 64000, buffer }).map((e) => [e.state, e.name])).toEqual([['present', 'eth0 root tbf']]);
  });

  it.each(MODES.flatMap((mode) => RATES.map((rate) => [mode, rate] as const)))('--reader %s, rate %s: the kernel holds parseTcRate(rate) bytes/s and the entry reconciles as present', async (mode, rate) => {
    await ns.exec(['tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'handle', '1:', 'tbf', 'rate', rate, 'burst', '32000', 'limit', '64000']);
    const state = await read(mode);
    expect(state.reader).toBe(mode);
    const tbf = state.tc.qdiscs.find((q) => q.interface === 'eth0' && q.kind === 'tbf')!;
    expect(tbf.tbf!.rateBytesPerSecond).toBe(parseTcRate(rate));
    const drift = (r: string) => reconcile(state, { rate: r, limit: 64000, buffer: 32000 });
    expect(drift(rate).map((e) => [e.state, e.name, e.detail])).toEqual([['present', 'eth0 root tbf', `eth0 root tbf as specified (bandwidth rate ${rate} limit 64000 buffer 32000)`]]);
    // Twice the rate in the spec: a mismatch on the rate only.
    const twice = `${parseTcRate(rate)! * 2}bps`;
    expect(drift(twice)[0]).toMatchObject({ state: 'mismatch', expected: { rateBytesPerSecond: parseTcRate(rate)! * 2 }, actual: { rateBytesPerSecond: parseTcRate(rate) } });
  });
});
