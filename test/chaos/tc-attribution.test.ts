/**
 * Whose tbf is it: Chaos Mesh's bandwidth chaos, the CNI bandwidth plugin's shaping, or a user's own tc. Literal
 * NetnsState, pure fingerprint.
 *
 * Facts (chaos-mesh@608b61e, containernetworking/plugins):
 * - controllers/podnetworkchaos/controller.go Reconcile calls SetIptables before SetTcs, and
 *   pkg/chaosdaemon/iptables_server.go initializeEnv creates CHAOS-INPUT / CHAOS-OUTPUT on every call: a namespace
 *   holding Chaos Mesh's tc holds them.
 * - pkg/chaosdaemon/tc_server.go installs no tc filter: its only classifiers are TC-TABLES-<i> CLASSIFY rules
 *   (`-o <device>`).
 * - plugins/meta/bandwidth: a root tbf (handle 1:) on the pod's host veth (ingress shaping), and for egress an
 *   ingress qdisc ffff: on that veth with a u32 filter (classid 1:1, mirred redirect) to an ifb `bwp` + 12 hex
 *   digits that holds another root tbf 1:. On the node, that is the namespace host-network pods share.
 */
import { describe, expect, it } from 'vitest';
import { applyCompleteness } from '../../agent/chaos/completeness.js';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import type { TcFilter } from '../../agent/netns/state.js';
import { filter, filteredLayout, ipsets, iptables, link, listSet, netem, netSet, qdisc, route, state, tbf, tcState } from './builders.js';
import {
  BASE_CHAINS, BASE_FINDINGS, chaosDaemonState, CNI_TBF, cniForeignTbfs, expectConsistent, FILTER_HEAD, KUBE_NFT, SET, tbfDetails,
} from './samples.js';

const IFB = 'bwp1f0e9d8c7b6a';
const VETH = 'veth3c9a1e27';
/** The CNI bandwidth plugin's qdiscs and filter for one pod with both annotations, on the node. */
const cniLayout = () =>
  tcState(
    [
      tbf({ iface: VETH, handle: '1:', parent: 'root' }, CNI_TBF),
      qdisc('ingress', { iface: VETH, handle: 'ffff:', parent: 'ingress' }),
      tbf({ iface: IFB, handle: '1:', parent: 'root' }, CNI_TBF),
    ],
    [{ ...filter(VETH, 'ffff:', '1:1'), protocol: 'all', actions: ['mirred'] } satisfies TcFilter],
  );

describe('tbf attribution: CNI bandwidth plugin', () => {
  it("the node's namespace (kube-proxy rules, no CHAOS-* chains) with a shaped pod's veth and bwp ifb: clean, both tbfs foreign", () => {
    const r = fingerprint(state({ iptables: [iptables(KUBE_NFT)], tc: cniLayout() }));
    expectConsistent(r);
    expect(r.verdict).toBe('clean');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([]);
    expect(tbfDetails(r)).toEqual(cniForeignTbfs(VETH, IFB));
  });

  it("a bwp ifb's tbf stays foreign even where chaos-daemon left its chains (a host-network pod hit once)", () => {
    const r = fingerprint(chaosDaemonState({ tc: tcState([tbf({ iface: IFB, handle: '1:', parent: 'root' }, CNI_TBF)]) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual(BASE_FINDINGS);
  });
});

describe("tbf attribution: the node's namespace, where chaos-daemon left its CHAOS-* chains (a host-network pod hit once)", () => {
  // chaos-daemon never deletes CHAOS-INPUT / CHAOS-OUTPUT, and puts tc only on the device the experiment names (eth0
  // by default: tc_server.go groupRulesAccordingToDevices), never on a pod's veth, where the CNI puts its tbf.
  const CHAOS_TBF = { rateBytesPerSecond: 125_000, burstBytes: 32_000, limitBytes: 64_000 };
  const CHAOS_FINDING = 'root tbf limits rate to 1Mbit/s (burst 32000B, limit 64000B)';
  const podVeth = link(7, VETH, 'veth', { link: 3, linkNetnsId: 4 });
  const nodeState = (uplink: string, partial: Parameters<typeof chaosDaemonState>[0] = {}) => {
    const cni = cniLayout();
    return chaosDaemonState({
      links: [link(1, 'lo', null), uplink === 'eth0' ? link(2, 'eth0', null) : link(2, uplink, 'veth', { link: 9, linkNetnsId: 0 }), podVeth, link(8, IFB, 'ifb')],
      routes: [route('default', uplink, '192.168.1.1')],
      tc: tcState([tbf({ iface: uplink, handle: '1:', parent: 'root' }, CHAOS_TBF), ...cni.qdiscs], cni.filters),
      ...partial,
    });
  };
  const vethReason = "the host end of a pod's veth in the node's namespace (where the CNI bandwidth plugin shapes pods), not Chaos Mesh's: chaos-daemon puts a host-network pod's tc on the device its experiment names (eth0 by default)";
  const foreignVeth = (reason: string): [string, string] => ['foreign', `foreign: ${VETH} root tbf limits rate to 1Mbit/s (burst 12500B, limit 15625B), ${reason}`];
  const [, foreignIfb] = cniForeignTbfs(VETH, IFB);

  it("the shaped pod's veth keeps its tbf foreign; chaos-daemon's tbf on eth0 is bandwidth", () => {
    const s = nodeState('eth0');
    const r = fingerprint(s, { nodeNamespace: true });
    expectConsistent(r);
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings).toEqual([`eth0 ${CHAOS_FINDING}`, ...BASE_FINDINGS]);
    expect(tbfDetails(r).filter(([level]) => level === 'foreign')).toEqual([foreignVeth(vethReason), foreignIfb]);
    // Judged as a pod's namespace, the same veth tbf would be Chaos Mesh's: only the node's namespace knows better.
    expect(fingerprint(s).findings).toContain(`${VETH} root tbf limits rate to 1Mbit/s (burst 12500B, limit 15625B)`);
  });

  it("the node's uplink is a veth when the node is a container (kind): the one with the default route is not a pod's", () => {
    const r = fingerprint(nodeState('uplink0'), { nodeNamespace: true });
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings).toEqual([`uplink0 ${CHAOS_FINDING}`, ...BASE_FINDINGS]);
    expect(tbfDetails(r).filter(([level]) => level === 'foreign')).toEqual([foreignVeth(vethReason), foreignIfb]);
  });

  it('links not read: no tbf but eth0\'s is attributed, and the namespace reads unknown unless eth0 proves active', () => {
    const unread = "not attributed to Chaos Mesh: in the node's namespace a tbf on the host end of a pod's veth is the CNI bandwidth plugin's, and the links that would tell were not read completely";
    const sources = [{ source: 'links' as const, status: 'failed' as const, reason: 'exit', message: 'EPERM' }, { source: 'tc' as const, status: 'complete' as const }];
    const r = fingerprint(nodeState('eth0', { links: undefined, routes: undefined, sources }), { nodeNamespace: true });
    expect(r.kinds).toEqual(['bandwidth']);
    expect(tbfDetails(r).filter(([level]) => level === 'foreign')).toEqual([foreignVeth(unread), foreignIfb]);
    const noEth0 = nodeState('eth0', { links: undefined, routes: undefined, sources });
    noEth0.tc = { ...noEth0.tc, qdiscs: noEth0.tc.qdiscs.filter((q) => q.interface !== 'eth0') };
    const idle = fingerprint(noEth0, { nodeNamespace: true });
    expect([idle.verdict, idle.findings]).toEqual(['scaffolding', BASE_FINDINGS]);
    expect(applyCompleteness(idle, sources).verdict).toBe('unknown');
  });
});

describe('tbf attribution: iptables not read', () => {
  it('a root tbf whose namespace\'s IPv4 iptables was not read completely: not claimed either way, and unknown', () => {
    const s = state({
      tc: tcState([tbf({ handle: '1:', parent: 'root' }, { rateBytesPerSecond: 125_000 })]),
      sources: [{ source: 'iptables-legacy-ipv4', status: 'failed', reason: 'exit', message: 'EPERM' }, { source: 'tc', status: 'complete' }],
    });
    const r = fingerprint(s);
    expect(r.verdict).toBe('clean'); // the fingerprint alone; completeness (collect/report.ts) then makes it unknown
    expect(r.details.map((d) => [d.level, d.message])).toEqual([
      ['foreign', 'foreign: eth0 root tbf limits rate to 1Mbit/s, not attributed to Chaos Mesh: its CHAOS-INPUT/CHAOS-OUTPUT chains would be in iptables, which was not read completely'],
    ]);
    expect(applyCompleteness(r, s.sources!).verdict).toBe('unknown');
  });
});

describe("tbf attribution: Chaos Mesh's own layouts stay active", () => {
  it('bandwidth without a target: root tbf on eth0 after SetIptablesChains([]) -> active bandwidth', () => {
    const r = fingerprint(chaosDaemonState({ tc: tcState([tbf({ handle: '1:', parent: 'root' }, { rateBytesPerSecond: 125_000, burstBytes: 32_000, limitBytes: 64_000 })]) }));
    expectConsistent(r);
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings).toEqual(['eth0 root tbf limits rate to 1Mbit/s (burst 32000B, limit 64000B)', ...BASE_FINDINGS]);
  });

  it('bandwidth with a target: prio + sfq, tbf on band 4, TC-TABLES-0 `-o eth0` CLASSIFY from CHAOS-OUTPUT -> active bandwidth', () => {
    const tcSet = `set_${SET}_batgt`;
    const sets = ipsets([netSet(`net_${SET}_batgt`, 2), listSet(tcSet, [`net_${SET}_batgt`])].join('\n'));
    const chains = `${FILTER_HEAD}
:CHAOS-INPUT - [0:0]
:CHAOS-OUTPUT - [0:0]
:TC-TABLES-0 - [0:0]
-A INPUT -j CHAOS-INPUT
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -j TC-TABLES-0
-A TC-TABLES-0 -o eth0 -m set --match-set ${tcSet} dst,dst -j CLASSIFY --set-class 0001:0004
COMMIT
`;
    const qdiscs = [...filteredLayout(1, 'root', 1), tbf({ handle: '5:', parent: '1:4' }, { rateBytesPerSecond: 125_000 })];
    const r = fingerprint(state({ iptables: [iptables(chains, 'legacy')], ipsets: sets, tc: tcState(qdiscs) }));
    expectConsistent(r);
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings[0]).toBe(`eth0 tbf 5: (parent 1:4) limits rate to 1Mbit/s for eth0 traffic to ipset ${tcSet} (list:set of 1 set, 2 members), classified by TC-TABLES-0`);
    // The same CLASSIFY rule written for eth1 feeds nothing on eth0: the tbf is Chaos Mesh's, but idle.
    const eth1 = fingerprint(state({ iptables: [iptables(chains.replace('-o eth0', '-o eth1'), 'legacy')], ipsets: sets, tc: tcState(qdiscs) }));
    expect(eth1.verdict).toBe('scaffolding');
    expect(eth1.findings).toContain('eth0 tbf 5: (parent 1:4) limits rate to 1Mbit/s, but nothing reachable classifies traffic into 1:4');
  });
});

describe('tbf attribution: tc filters are never Chaos Mesh evidence', () => {
  const userTc = () =>
    tcState(
      [qdisc('htb', { handle: '1:', parent: 'root' }), tbf({ handle: '10:', parent: '1:10' }, { rateBytesPerSecond: 125_000, burstBytes: 12_500 })],
      [filter('eth0', '1:', '1:10')],
    );
  const foreignTbf = (reason: string) => `foreign: eth0 tbf 10: (parent 1:10) limits rate to 1Mbit/s (burst 12500B), ${reason}`;

  it("a user's htb + u32 filter + tbf leaf in a pod: clean, the tbf foreign", () => {
    const r = fingerprint(state({ tc: userTc() }));
    expect(r.verdict).toBe('clean');
    expect(r.findings).toEqual([]);
    expect(r.details.map((d) => d.message)).toEqual([
      'foreign: eth0 root htb',
      foreignTbf("not Chaos Mesh's: no CHAOS-INPUT/CHAOS-OUTPUT chains in this namespace (chaos-daemon creates them before any tc)"),
    ]);
  });

  it('the same in a pod chaos-daemon has set up: the filter still does not make the tbf Chaos Mesh\'s', () => {
    const r = fingerprint(chaosDaemonState({ tc: userTc() }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual(BASE_FINDINGS);
    expect(r.details.filter((d) => d.level === 'foreign').map((d) => d.message)).toEqual([
      'foreign: eth0 root htb',
      foreignTbf("outside Chaos Mesh's layout"),
    ]);
  });

  it("a filter on eth1 does not feed a band of eth0's prio; one on eth0's ingress neither; one on eth0's prio does", () => {
    const layout = () => [...filteredLayout(1, 'root', 1), netem({ handle: '5:', parent: '1:4' }, { delaySeconds: 0.1 })];
    const idle = 'eth0 netem 5: (parent 1:4) delays 100ms, but nothing reachable classifies traffic into 1:4';
    const other = fingerprint(chaosDaemonState({ tc: tcState(layout(), [filter('eth1', '1:', '1:4')]) }));
    expect(other.verdict).toBe('scaffolding');
    expect(other.findings).toContain(idle);
    const ingress = fingerprint(chaosDaemonState({ tc: tcState(layout(), [filter('eth0', 'ffff:', '1:4')]) }));
    expect(ingress.verdict).toBe('scaffolding');
    expect(ingress.findings).toContain(idle);
    const own = fingerprint(chaosDaemonState({ tc: tcState(layout(), [filter('eth0', '1:', '1:4')]) }));
    expect(own.verdict).toBe('active');
    expect(own.findings[0]).toBe('eth0 netem 5: (parent 1:4) delays 100ms for traffic a u32 filter on eth0 sends to 1:4');
  });

  it('a filter on eth1 does not make a tbf on eth0 Chaos Mesh\'s, nor the CLASSIFY of an eth1 rule', () => {
    const eth0Leaf = tcState(
      [qdisc('htb', { handle: '1:', parent: 'root' }), tbf({ handle: '10:', parent: '1:10' }, { rateBytesPerSecond: 125_000 })],
      [filter('eth1', '1:', '1:10')],
    );
    const r = fingerprint(state({ iptables: [iptables(BASE_CHAINS, 'legacy')], tc: eth0Leaf }));
    expect(r.kinds).toEqual([]);
    expect(r.details.filter((d) => d.level === 'foreign').map((d) => d.message)).toContain(
      "foreign: eth0 tbf 10: (parent 1:10) limits rate to 1Mbit/s, outside Chaos Mesh's layout",
    );
  });
});
