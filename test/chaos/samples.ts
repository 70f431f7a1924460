/**
 * Shared fingerprint test samples: names as Chaos Mesh builds them (controllers/podnetworkchaos/netutils
 * CompressName), iptables-save text and ipset save text parsed by the production parsers, and the report
 * consistency check every scenario applies.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { ChaosReport } from '../../agent/chaos/types.js';
import { parseTcQdiscs } from '../../agent/netns/nsenter/tc.js';
import type { NetnsState, Qdisc } from '../../agent/netns/state.js';
import { iptables, listSet, netSet, state } from './builders.js';

export const EXP = 'web-p_3f2a9c1b7e4d5a_';
export const SET = 'web-p_1a2b3c4d5e6f7a';
export const TGT = `set_${SET}_tgt`;
export const SRC = `set_${SET}_src`;

export const FILTER_HEAD = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]`;


/**
 * What SetIptablesChains leaves for a PodNetworkChaos with tc entries only (initializeEnv: empty CHAOS-INPUT /
 * CHAOS-OUTPUT and the jumps to them), in the legacy backend chaos-daemon's image uses. The controller always sends
 * it before SetTcs, so every namespace holding Chaos Mesh's tc holds these chains.
 */
export const BASE_CHAINS = `${FILTER_HEAD}
:CHAOS-INPUT - [0:0]
:CHAOS-OUTPUT - [0:0]
-A INPUT -j CHAOS-INPUT
-A OUTPUT -j CHAOS-OUTPUT
COMMIT
`;

/** The fingerprint's sentences for BASE_CHAINS (scaffolding). */
export const BASE_FINDINGS = ['CHAOS-INPUT is empty (jumped to from INPUT)', 'CHAOS-OUTPUT is empty (jumped to from OUTPUT)'];

/** A namespace chaos-daemon has set up (BASE_CHAINS) with `partial` on top (its tc, ...). */
export function chaosDaemonState(partial: Partial<NetnsState> = {}): NetnsState {
  return state({ iptables: [iptables(BASE_CHAINS, 'legacy')], ...partial });
}

/** Target list:set of 21 members (20 nets + 1 net,port) and a source list:set of 3. */
export const PARTITION_SETS = [
  netSet(`net_${SET}_tgt`, 20),
  `create netport_${SET}_tgt hash:net,port family inet hashsize 1024 maxelem 65536`,
  `add netport_${SET}_tgt 10.9.0.0/16,tcp:80`,
  listSet(TGT, [`net_${SET}_tgt`, `netport_${SET}_tgt`]),
  netSet(`net_${SET}_src`, 3),
  listSet(SRC, [`net_${SET}_src`]),
].join('\n');


export const ACTIVE_PARTITION = `${FILTER_HEAD}
:CHAOS-INPUT - [0:0]
:CHAOS-OUTPUT - [0:0]
:INPUT/${EXP} - [0:0]
:OUTPUT/${EXP} - [0:0]
[10:600] -A INPUT -j CHAOS-INPUT
[20:1200] -A OUTPUT -j CHAOS-OUTPUT
[10:600] -A CHAOS-INPUT -j INPUT/${EXP}
[20:1200] -A CHAOS-OUTPUT -j OUTPUT/${EXP}
[3:180] -A INPUT/${EXP} -i eth0 -p tcp -m set --match-set ${SRC} src -m tcp --dport 8080 -j DROP
[7:420] -A OUTPUT/${EXP} -o eth0 -m set --match-set ${TGT} dst -j DROP
COMMIT
`;

export const KUBE_NFT = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:CNI-1f2e3d4c5b6a79880a1b2c3d - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A POSTROUTING -s 10.244.1.0/24 -j CNI-1f2e3d4c5b6a79880a1b2c3d
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A CNI-1f2e3d4c5b6a79880a1b2c3d -d 10.244.1.0/24 -j ACCEPT
COMMIT
${FILTER_HEAD}
:KUBE-FIREWALL - [0:0]
-A INPUT -j KUBE-FIREWALL
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
`;

/**
 * The CNI bandwidth plugin's tbf for a pod annotated 1 Mbit/s (plugins/meta/bandwidth createTBF: burst from the
 * annotation, limit = rate x 25 ms + burst), on the pod's host veth and on its `bwp` ifb alike.
 */
export const CNI_TBF = { rateBytesPerSecond: 125_000, burstBytes: 12_500, limitBytes: 15_625 };

/** A report's tbf details, [level, message], in the order tc printed the qdiscs. */
export function tbfDetails(r: ChaosReport): [string, string][] {
  return r.details.filter((d) => d.message.includes(' tbf ')).map((d) => [d.level, d.message]);
}

/**
 * What the fingerprint says of the CNI bandwidth plugin's two tbfs (CNI_TBF on a shaped pod's host veth, then on its
 * ifb) in the node's namespace without CHAOS-* chains: both foreign, each with its reason. The literal-state tests
 * (tc-attribution.test.ts) and the real-namespace one (cni-bandwidth.test.ts) expect the same.
 */
export function cniForeignTbfs(veth: string, ifb: string): [string, string][] {
  const tbf = 'root tbf limits rate to 1Mbit/s (burst 12500B, limit 15625B)';
  return [
    ['foreign', `foreign: ${veth} ${tbf}, not Chaos Mesh's: no CHAOS-INPUT/CHAOS-OUTPUT chains in this namespace (chaos-daemon creates them before any tc)`],
    ['foreign', `foreign: ${ifb} ${tbf}, the CNI bandwidth plugin's ifb (egress shaping of a pod), not Chaos Mesh's`],
  ];
}

export function expectConsistent(r: ChaosReport): void {
  expect(r.findings).toEqual(r.details.filter((d) => d.level !== 'foreign').map((d) => d.message));
  expect(r.kinds.length > 0).toBe(r.verdict === 'active');
}


/** Fixture text shared with the parsers' tests (test/fixtures). */
export const fixture = (path: string): string => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');

export function qdiscsOf(path: string): Qdisc[] {
  const { qdiscs, errors } = parseTcQdiscs(fixture(path));
  expect(errors).toEqual([]);
  return qdiscs;
}
