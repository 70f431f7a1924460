/**
 * The CNI bandwidth plugin's shaping in a REAL namespace, read by the netlink reader and fingerprinted: it is not
 * Chaos Mesh's bandwidth chaos. The node namespace (what host-network pods are fingerprinted on) gets what
 * plugins/meta/bandwidth ifb_creator.go creates for a pod with both annotations: a root tbf (handle 1:) on the host
 * veth, an ingress qdisc on it with a u32 filter (classid 1:1, mirred egress redirect) to the ifb `bwp<12 hex>`, and
 * a root tbf on the ifb. Against it, a pod namespace where chaos-daemon's bandwidth action is replayed
 * (SetIptablesChains, then the root tbf) is active bandwidth with the same reader; and a node namespace that holds
 * chaos-daemon's chains and tbf on eth0 (a host-network pod's experiment) still leaves a pod's host veth's tbf foreign.
 */
import { afterAll, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import { createNetnsReader } from '../../agent/netns/read.js';
import type { NetnsState } from '../../agent/netns/state.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';
import { BASE_FINDINGS, cniForeignTbfs, tbfDetails } from './samples.js';

const reader = createNetnsReader({
  reader: 'netlink', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 2 << 20,
  namespaceTimeoutMs: 20_000, procRoot: '/proc',
});

async function read(ns: TestNetns): Promise<NetnsState> {
  return reader.read({ path: ns.path, inode: null, pid: ns.holderPid });
}

const VETH = 'veth5d1c0a9e';
const IFB = 'bwp7e3f0a1b2c4d';

describeIntegration('CNI bandwidth shaping vs Chaos Mesh bandwidth, real tc, netlink reader', { root: true, commands: ['ip', 'tc', 'iptables-legacy'] }, () => {
  afterAll(async () => {
    try {
      await destroyAll();
    } finally {
      await reader.close();
    }
  });

  it("the node namespace with a shaped pod's host veth and bwp ifb: clean, both tbfs foreign, none active", async () => {
    const node = await createNetns('h9c');
    await node.startHolder();
    // The pod end of the veth stays in this namespace: only the host end's qdiscs matter here.
    await node.exec(['ip', 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', 'podside0']);
    await node.exec(['ip', 'link', 'add', IFB, 'type', 'ifb']);
    for (const d of [VETH, 'podside0', IFB]) await node.exec(['ip', 'link', 'set', d, 'up']);
    // createTBF: rate and burst from the annotations (1 Mbit/s), limit = rate * 25 ms + burst.
    const tbfArgs = ['tbf', 'rate', '1mbit', 'burst', '12500', 'limit', '15625'];
    await node.exec(['tc', 'qdisc', 'add', 'dev', VETH, 'root', 'handle', '1:', ...tbfArgs]);
    await node.exec(['tc', 'qdisc', 'add', 'dev', VETH, 'handle', 'ffff:', 'ingress']);
    await node.exec(['tc', 'filter', 'add', 'dev', VETH, 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0',
      'classid', '1:1', 'action', 'mirred', 'egress', 'redirect', 'dev', IFB]);
    await node.exec(['tc', 'qdisc', 'add', 'dev', IFB, 'root', 'handle', '1:', ...tbfArgs]);

    const state = await read(node);
    expect(state.reader).toBe('netlink');
    expect(state.tc.qdiscs.filter((q) => q.kind === 'tbf').map((q) => q.interface).sort()).toEqual([IFB, VETH].sort());
    expect(state.tc.filters.map((f) => [f.interface, f.flowid, f.actions])).toContainEqual([VETH, '1:1', ['mirred']]);
    const r = fingerprint(state);
    expect(r.verdict).toBe('clean');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([]);
    expect(tbfDetails(r)).toEqual(cniForeignTbfs(VETH, IFB));
  });

  it("the node namespace where chaos-daemon left its CHAOS-* chains: a pod's host veth keeps its tbf foreign, chaos-daemon's on eth0 is bandwidth", async () => {
    const node = await createNetns('h9d');
    const pod = await createNetns('h9e');
    await node.startHolder();
    // The node's uplink (this kernel has no dummy links: a veth whose peer stays here), and a host-network pod's
    // bandwidth experiment on it (chaos-daemon's default device).
    await node.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'uplinkpeer0']);
    for (const d of ['eth0', 'uplinkpeer0']) await node.exec(['ip', 'link', 'set', d, 'up']);
    await new ChaosMeshReplay(node).bandwidth({ rate: 1_000_000, burst: 32_000, limit: 64_000 });
    // Then a shaped pod: its veth's other end is the pod's eth0, and the CNI bandwidth plugin's tbf goes on the host end.
    await node.exec(['ip', 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name]);
    await node.exec(['ip', 'link', 'set', VETH, 'up']);
    await node.exec(['tc', 'qdisc', 'add', 'dev', VETH, 'root', 'handle', '1:', 'tbf', 'rate', '1mbit', 'burst', '12500', 'limit', '15625']);

    const state = await read(node);
    expect(state.links?.find((l) => l.name === VETH)).toMatchObject({ kind: 'veth', linkNetnsId: expect.any(Number) });
    const r = fingerprint(state, { nodeNamespace: true });
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings).toEqual(['eth0 root tbf limits rate to 1Mbit/s (burst 32000B, limit 64000B)', ...BASE_FINDINGS]);
    expect(tbfDetails(r).filter(([level]) => level === 'foreign')).toEqual([
      ['foreign', `foreign: ${VETH} root tbf limits rate to 1Mbit/s (burst 12500B, limit 15625B), the host end of a pod's veth in the node's namespace (where the CNI bandwidth plugin shapes pods), not Chaos Mesh's: chaos-daemon puts a host-network pod's tc on the device its experiment names (eth0 by default)`],
    ]);
  });

  it("a pod namespace after chaos-daemon's bandwidth action (SetIptablesChains, then the root tbf): active bandwidth", async () => {
    const pod = await createNetns('h9p');
    await pod.addPodInterface({ addr: '10.79.1.7/24' });
    await pod.startHolder();
    await new ChaosMeshReplay(pod).bandwidth({ rate: 1_000_000, burst: 32_000, limit: 64_000 });
    const r = fingerprint(await read(pod));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings).toEqual(['eth0 root tbf limits rate to 1Mbit/s (burst 32000B, limit 64000B)', ...BASE_FINDINGS]);
  });
});
