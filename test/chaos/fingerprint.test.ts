import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalHandle,
  fingerprint,
  formatRate,
  formatSeconds,
  isChaosIpsetName,
  primaryBackend,
  reachableChains,
} from '../../agent/chaos/fingerprint.js';
import type { ChaosReport } from '../../agent/chaos/types.js';
import { parseTcQdiscs } from '../../agent/netns/nsenter/tc.js';
import type { IptablesChain, IptablesDump, IptablesRule, NetnsState, Qdisc } from '../../agent/netns/state.js';
import {
  filter,
  filteredLayout,
  iptables,
  ipsets,
  listSet,
  netem,
  netSet,
  prio,
  qdisc,
  state,
  tbf,
  tcState,
} from './builders.js';

// Names as Chaos Mesh builds them (controllers/podnetworkchaos/netutils CompressName).
const EXP = 'web-p_3f2a9c1b7e4d5a_';
const SET = 'web-p_1a2b3c4d5e6f7a';
const TGT = `set_${SET}_tgt`;
const SRC = `set_${SET}_src`;

const FILTER_HEAD = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]`;

/** Target list:set of 21 members (20 nets + 1 net,port) and a source list:set of 3. */
const PARTITION_SETS = [
  netSet(`net_${SET}_tgt`, 20),
  `create netport_${SET}_tgt hash:net,port family inet hashsize 1024 maxelem 65536`,
  `add netport_${SET}_tgt 10.9.0.0/16,tcp:80`,
  listSet(TGT, [`net_${SET}_tgt`, `netport_${SET}_tgt`]),
  netSet(`net_${SET}_src`, 3),
  listSet(SRC, [`net_${SET}_src`]),
].join('\n');

const ACTIVE_PARTITION = `${FILTER_HEAD}
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

const KUBE_NFT = `*nat
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

function expectConsistent(r: ChaosReport): void {
  expect(r.findings).toEqual(r.details.filter((d) => d.level !== 'foreign').map((d) => d.message));
  expect(r.kinds.length > 0).toBe(r.verdict === 'active');
}

describe('fingerprint: partition (iptables + ipsets)', () => {
  it('reports both directions of an active Chaos Mesh partition, with set sizes, interface and ports', () => {
    const r = fingerprint(state({ iptables: [iptables(ACTIVE_PARTITION)], ipsets: ipsets(PARTITION_SETS) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['partition']);
    expect(r.findings).toEqual([
      `INPUT/${EXP} drops eth0 tcp traffic from ipset ${SRC} (3 members) with destination port 8080`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${TGT} (21 members)`,
    ]);
    expect(r.details.map((d) => [d.level, d.kind])).toEqual([
      ['active', 'partition'],
      ['active', 'partition'],
    ]);
    expectConsistent(r);
  });

  it('names REJECT, multiport ports, source ports and a missing set', () => {
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:OUTPUT/db_ - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -j OUTPUT/db_
-A OUTPUT/db_ -p tcp -m set --match-set set_db_tgt dst,dst -m multiport --dports 5432,6432 -j REJECT --reject-with icmp-port-unreachable
-A OUTPUT/db_ -p udp -m udp --sport 53 -j DROP
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)] }));
    expect(r.findings).toEqual([
      'OUTPUT/db_ rejects tcp traffic to ipset set_db_tgt (missing) with destination ports 5432,6432',
      'OUTPUT/db_ drops udp traffic with source port 53',
    ]);
    expect(r.kinds).toEqual(['partition']);
  });

  it('treats a DROP that matches a Chaos Mesh set straight from OUTPUT as partition (pre-1.0 layout)', () => {
    const old = 'web-p_1a2b3c4d5e6f7a8_tgt';
    const text = `${FILTER_HEAD}
-A OUTPUT -m set --match-set ${old} dst -j DROP
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)], ipsets: ipsets(netSet(old, 2)) }));
    expect(r.verdict).toBe('active');
    expect(r.findings).toEqual([`OUTPUT drops traffic to ipset ${old} (2 members)`]);
  });

  it('is not active when the OUTPUT -> CHAOS-OUTPUT jump was removed', () => {
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:OUTPUT/${EXP} - [0:0]
-A CHAOS-OUTPUT -j OUTPUT/${EXP}
-A OUTPUT/${EXP} -o eth0 -m set --match-set ${TGT} dst -j DROP
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)], ipsets: ipsets(PARTITION_SETS) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([
      'CHAOS-OUTPUT holds 1 rule but nothing jumps to it',
      `OUTPUT/${EXP} holds 1 rule but nothing reachable jumps to it (only CHAOS-OUTPUT)`,
      `5 Chaos Mesh ipsets no reachable rule uses: net_${SET}_tgt (hash:net, 20 members), ` +
        `netport_${SET}_tgt (hash:net,port, 1 member), ${TGT} (list:set, 21 members), ` +
        `net_${SET}_src (hash:net, 3 members), ${SRC} (list:set, 3 members)`,
    ]);
    expectConsistent(r);
  });

  it('is not active when an unconditional ACCEPT before the jump shadows it', () => {
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
-A OUTPUT -m comment --comment "allow all" -j ACCEPT
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -o eth0 -j DROP
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)] }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual(['CHAOS-OUTPUT holds 1 rule but nothing reachable jumps to it (only OUTPUT)']);
  });

  it('follows -g (goto) jumps and conditional terminal rules do not shadow', () => {
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -g CHAOS-OUTPUT
-A CHAOS-OUTPUT ! -o lo -j DROP
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)] }));
    expect(r.verdict).toBe('active');
    expect(r.findings).toEqual(['CHAOS-OUTPUT drops all non-lo traffic']);
  });

  it('calls a recovered partition scaffolding: empty chains + jumps, orphaned chain with rules, unused sets', () => {
    const text = `${FILTER_HEAD}
:CHAOS-INPUT - [0:0]
:CHAOS-OUTPUT - [0:0]
:OUTPUT/${EXP} - [0:0]
-A INPUT -j CHAOS-INPUT
-A OUTPUT -j CHAOS-OUTPUT
-A OUTPUT/${EXP} -o eth0 -m set --match-set ${TGT} dst -j DROP
-A OUTPUT/${EXP} -o eth0 -p tcp -m set --match-set ${TGT} dst -m tcp --dport 80 -j DROP
COMMIT
`;
    const sets = [PARTITION_SETS, listSet(`${TGT}old`, [])].join('\n');
    const r = fingerprint(state({ iptables: [iptables(text)], ipsets: ipsets(sets) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([
      'CHAOS-INPUT is empty (jumped to from INPUT)',
      'CHAOS-OUTPUT is empty (jumped to from OUTPUT)',
      `OUTPUT/${EXP} holds 2 rules but nothing jumps to it`,
      `6 Chaos Mesh ipsets no reachable rule uses: net_${SET}_tgt (hash:net, 20 members), ` +
        `netport_${SET}_tgt (hash:net,port, 1 member), ${TGT} (list:set, 21 members), ` +
        `net_${SET}_src (hash:net, 3 members), ${SRC} (list:set, 3 members), ${TGT}old (list:set, 0 members)`,
    ]);
    expect(r.details.every((d) => d.level === 'scaffolding' && d.kind === null)).toBe(true);
  });

  it('reports a reachable chaos chain that holds only inert rules as scaffolding', () => {
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -j RETURN
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)] }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      'CHAOS-OUTPUT holds 1 rule that neither drop nor classify traffic (RETURN; jumped to from OUTPUT)',
    ]);
  });
});

describe('fingerprint: backends and families', () => {
  it('flags chaos rules that only sit in the legacy backend while nft holds the kube rules', () => {
    const r = fingerprint(
      state({
        iptables: [iptables(KUBE_NFT, 'nft'), iptables(ACTIVE_PARTITION, 'legacy')],
        ipsets: ipsets(PARTITION_SETS),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['partition']);
    expect(r.findings).toEqual([
      `INPUT/${EXP} drops eth0 tcp traffic from ipset ${SRC} (3 members) with destination port 8080 (legacy backend)`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${TGT} (21 members) (legacy backend)`,
    ]);
    expect(r.details.filter((d) => d.level === 'foreign').map((d) => d.message)).toEqual([
      'foreign: 4 Kubernetes chains (KUBE-*)',
      'foreign: 1 CNI chain (CNI-*)',
    ]);
    expectConsistent(r);
  });

  it('picks the backend with most non-chaos rules as the one in use', () => {
    expect(primaryBackend([iptables(KUBE_NFT, 'nft'), iptables(ACTIVE_PARTITION, 'legacy')])).toBe('nft');
    expect(primaryBackend([iptables(KUBE_NFT, 'legacy'), iptables(ACTIVE_PARTITION, 'nft')])).toBe('legacy');
    expect(primaryBackend([iptables(ACTIVE_PARTITION, 'legacy')])).toBeNull();
  });

  it('marks IPv6 findings', () => {
    const r = fingerprint(state({ iptables: [iptables(ACTIVE_PARTITION, 'nft', 'ipv6')], ipsets: ipsets(PARTITION_SETS) }));
    expect(r.findings[1]).toBe(`OUTPUT/${EXP} drops eth0 traffic to ipset ${TGT} (21 members) (ipv6)`);
  });
});

describe('fingerprint: foreign state', () => {
  it('is clean for an untouched namespace', () => {
    const empty = fingerprint(state());
    expect(empty).toEqual({ verdict: 'clean', kinds: [], findings: [], details: [] });
    const policies = fingerprint(
      state({
        iptables: [iptables(`${FILTER_HEAD}\nCOMMIT\n`)],
        tc: tcState([qdisc('noqueue', { iface: 'lo', handle: '0:', parent: 'root' }), qdisc('fq_codel', { handle: '0:', parent: 'root' })]),
      }),
    );
    expect(policies).toEqual({ verdict: 'clean', kinds: [], findings: [], details: [] });
  });

  it('is clean with only kube-proxy / CNI / mesh rules and sets, which are reported as foreign details', () => {
    const istio = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_REDIRECT - [0:0]
:MYAPP-NAT - [0:0]
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`;
    const r = fingerprint(
      state({
        iptables: [iptables(KUBE_NFT), iptables(istio, 'nft', 'ipv6')],
        ipsets: ipsets(netSet('KUBE-LOOP-BACK', 2)),
        tc: tcState([qdisc('htb', { handle: '1:', parent: 'root' })]),
      }),
    );
    expect(r.verdict).toBe('clean');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([]);
    expect(r.details).toEqual([
      { level: 'foreign', kind: null, message: 'foreign: 4 Kubernetes chains (KUBE-*)' },
      { level: 'foreign', kind: null, message: 'foreign: 1 CNI chain (CNI-*)' },
      { level: 'foreign', kind: null, message: 'foreign: 2 Istio chains (ISTIO_*) (ipv6)' },
      { level: 'foreign', kind: null, message: 'foreign: 1 other user chain (MYAPP-NAT) (ipv6)' },
      { level: 'foreign', kind: null, message: 'foreign: eth0 root htb' },
      { level: 'foreign', kind: null, message: 'foreign: 1 other ipset (KUBE-LOOP-BACK)' },
    ]);
  });

  it('does not call a TPROXY outside the chaos chains (Istio TPROXY mode) http chaos', () => {
    const text = `*mangle
:PREROUTING ACCEPT [0:0]
:ISTIO_TPROXY - [0:0]
-A PREROUTING -p tcp -j ISTIO_TPROXY
-A ISTIO_TPROXY -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)], ipRules: ['32764:\tfrom all fwmark 0x539 lookup 133'] }));
    expect(r.verdict).toBe('clean');
    expect(r.findings).toEqual([]);
  });
});

describe('fingerprint: traffic control', () => {
  it('reports a root tbf as bandwidth', () => {
    const r = fingerprint(
      state({ tc: tcState([tbf({ handle: '1:', parent: 'root' }, { rateBytesPerSecond: 125_000, burstBytes: 10_240, limitBytes: 20_480 })]) }),
    );
    expect(r).toEqual({
      verdict: 'active',
      kinds: ['bandwidth'],
      findings: ['eth0 root tbf limits rate to 1Mbit/s (burst 10KiB, limit 20KiB)'],
      details: [
        {
          level: 'active',
          kind: 'bandwidth',
          kinds: ['bandwidth'],
          message: 'eth0 root tbf limits rate to 1Mbit/s (burst 10KiB, limit 20KiB)',
        },
      ],
    });
  });

  it('derives every netem kind from its fields, in human units', () => {
    const all = netem(
      { handle: '1:', parent: 'root' },
      {
        limit: 1000,
        delaySeconds: 0.1,
        jitterSeconds: 0.01,
        delayCorrelation: 0.25,
        loss: 0.05,
        lossCorrelation: 0.1,
        duplicate: 0.01,
        corrupt: 0.005,
        reorder: 0.25,
        reorderCorrelation: 0.5,
        gap: 5,
      },
    );
    const r = fingerprint(state({ tc: tcState([all]) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['corrupt', 'delay', 'duplicate', 'loss', 'reorder']);
    expect(r.findings).toEqual([
      'eth0 root netem delays 100ms ±10ms (25% correlation), loses 5% (10% correlation), duplicates 1%, ' +
        'corrupts 0.5%, reorders 25% (50% correlation), gap 5',
    ]);
    expect(r.details[0]!.kinds).toEqual(['delay', 'loss', 'duplicate', 'corrupt', 'reorder']);
  });

  it.each([
    [{ delaySeconds: 0.1, jitterSeconds: 0.01, delayCorrelation: 0.25, loss: 0.05 }, ['delay', 'loss'], 'delays 100ms ±10ms (25% correlation), loses 5%'],
    [{ jitterSeconds: 0.0005 }, ['delay'], 'delays 0ms ±500us'],
    [{ delaySeconds: 1.5 }, ['delay'], 'delays 1.5s'],
    [{ loss: 1 }, ['loss'], 'loses 100%'],
    [{ duplicate: 0.2 }, ['duplicate'], 'duplicates 20%'],
    [{ corrupt: 0.03, corruptCorrelation: 0.5 }, ['corrupt'], 'corrupts 3% (50% correlation)'],
    [{ delaySeconds: 0.01, reorder: 0.3 }, ['delay', 'reorder'], 'delays 10ms, reorders 30%'],
    [{ rateBytesPerSecond: 1_000_000, limit: 100 }, ['bandwidth'], 'limits rate to 8Mbit/s'],
    [{ delaySeconds: 0.02, rateBytesPerSecond: 125 }, ['bandwidth', 'delay'], 'delays 20ms, limits rate to 1Kbit/s'],
  ] as const)('netem %o -> %o', (opts, kinds, text) => {
    const r = fingerprint(state({ tc: tcState([netem({ handle: '1:', parent: 'root' }, opts)]) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(kinds);
    expect(r.findings).toEqual([`eth0 root netem ${text}`]);
  });

  it('calls a netem without any effect scaffolding', () => {
    const r = fingerprint(state({ tc: tcState([netem({ handle: '1:', parent: 'root' }, { limit: 1000, loss: 0 })]) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual(['eth0 root netem changes nothing (no delay, loss, duplicate, corrupt, reorder or rate)']);
  });

  it('reports a chained netem -> tbf (1: then 2:) on any interface', () => {
    const r = fingerprint(
      state({
        tc: tcState([
          netem({ iface: 'net1', handle: '1:', parent: 'root' }, { delaySeconds: 0.05 }),
          tbf({ iface: 'net1', handle: '2:', parent: '1:' }, { rateBytesPerSecond: 125_000, burstBytes: 10_240 }),
          netem({ handle: '1:', parent: 'root' }, { loss: 0.5 }),
          tbf({ handle: '2:', parent: '1:1' }, { rateBytesPerSecond: 12_500_000, peakrateBytesPerSecond: 25_000_000 }),
        ]),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth', 'delay', 'loss']);
    expect(r.findings).toEqual([
      'net1 root netem delays 50ms',
      'net1 tbf 2: (parent 1:) limits rate to 1Mbit/s (burst 10KiB)',
      'eth0 root netem loses 50%',
      'eth0 tbf 2: (parent 1:1) limits rate to 100Mbit/s (peakrate 200Mbit/s)',
    ]);
  });

  it('reports a tbf outside Chaos Mesh layouts as foreign, but every netem as chaos', () => {
    const r = fingerprint(
      state({
        tc: tcState([
          qdisc('htb', { handle: '1:', parent: 'root' }),
          tbf({ handle: '10:', parent: '1:10' }, { rateBytesPerSecond: 125_000 }),
          netem({ handle: '20:', parent: '1:20' }, { delaySeconds: 0.2 }),
        ]),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['delay']);
    expect(r.findings).toEqual(['eth0 netem 20: (parent 1:20) delays 200ms']);
    expect(r.details.filter((d) => d.level === 'foreign').map((d) => d.message)).toEqual([
      'foreign: eth0 root htb',
      "foreign: eth0 tbf 10: (parent 1:10) limits rate to 1Mbit/s, outside Chaos Mesh's layout",
    ]);
  });

  const TC_SET = `set_${SET}_netgt`;
  const TC_SETS = [netSet(`net_${SET}_netgt`, 2), listSet(TC_SET, [`net_${SET}_netgt`])].join('\n');
  const tcTables = (jump: boolean): string => `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:TC-TABLES-0 - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
${jump ? '-A CHAOS-OUTPUT -j TC-TABLES-0\n' : ''}-A TC-TABLES-0 -m set --match-set ${TC_SET} dst -j CLASSIFY --set-class 0001:0004
COMMIT
`;
  const filtered = (): Qdisc[] => [
    ...filteredLayout(1, 'root', 1),
    netem({ handle: '5:', parent: '1:4' }, { delaySeconds: 0.05 }),
  ];

  it('filtered layout (prio + sfq + netem) with a reachable TC-TABLES rule is active', () => {
    const r = fingerprint(state({ iptables: [iptables(tcTables(true))], ipsets: ipsets(TC_SETS), tc: tcState(filtered()) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['delay']);
    expect(r.findings).toEqual([
      `eth0 netem 5: (parent 1:4) delays 50ms for traffic to ipset ${TC_SET} (2 members), classified by TC-TABLES-0`,
    ]);
    expect(r.details.filter((d) => d.level === 'foreign')).toEqual([]);
  });

  it('filtered layout whose TC-TABLES chain nothing reaches is scaffolding', () => {
    const r = fingerprint(state({ iptables: [iptables(tcTables(false))], ipsets: ipsets(TC_SETS), tc: tcState(filtered()) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([
      'CHAOS-OUTPUT is empty (jumped to from OUTPUT)',
      'TC-TABLES-0 holds 1 rule but nothing jumps to it',
      "eth0 root prio with Chaos Mesh's priomap (4 bands) carries no active netem or tbf",
      'eth0 netem 5: (parent 1:4) delays 50ms, but nothing reachable classifies traffic into 1:4',
      `2 Chaos Mesh ipsets no reachable rule uses: net_${SET}_netgt (hash:net, 2 members), ${TC_SET} (list:set, 2 members)`,
    ]);
  });

  it('global netem chained into the filtered layout: the global part is active, the idle band is not', () => {
    // Chaos Mesh's example: root 1: netem, prio 2: (parent 1:), sfq 3: 4: 5:, filtered tbf 6: at 2:4.
    const qdiscs = [
      netem({ handle: '1:', parent: 'root' }, { delaySeconds: 0.05 }),
      ...filteredLayout(2, '1:', 1),
      tbf({ handle: '6:', parent: '2:4' }, { rateBytesPerSecond: 125_000 }),
    ];
    const r = fingerprint(state({ tc: tcState(qdiscs) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['delay']);
    expect(r.findings).toEqual([
      'eth0 root netem delays 50ms',
      "eth0 prio 2: (parent 1:) with Chaos Mesh's priomap (4 bands) carries no active netem or tbf",
      'eth0 tbf 6: (parent 2:4) limits rate to 1Mbit/s, but nothing reachable classifies traffic into 2:4',
    ]);
  });

  it('a tc filter that sends traffic to the band activates it', () => {
    const r = fingerprint(
      state({ tc: tcState(filtered(), [filter('eth0', '1:', '1:4')]) }),
    );
    expect(r.verdict).toBe('active');
    expect(r.findings).toEqual(['eth0 netem 5: (parent 1:4) delays 50ms for traffic a u32 filter on eth0 sends to 1:4']);
  });

  it('a reachable TC-TABLES rule classifying into a class without netem/tbf is scaffolding', () => {
    const r = fingerprint(state({ iptables: [iptables(tcTables(true))], ipsets: ipsets(TC_SETS), tc: tcState(filteredLayout(1, 'root', 1)) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      "eth0 root prio with Chaos Mesh's priomap (4 bands) carries no active netem or tbf",
      'TC-TABLES-0 classifies traffic into 1:4, but no netem or tbf qdisc sits under 1:4',
    ]);
  });
});

describe('fingerprint: HTTPChaos and DNSChaos', () => {
  const HTTP = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CHAOS_PROXY_OUTPUT - [0:0]
:CHAOS_PROXY_PREROUTING - [0:0]
:DIVERT - [0:0]
-A PREROUTING -p tcp -m socket -j DIVERT
-A PREROUTING -p tcp -m tcp --dport 30000:65535 -j CHAOS_PROXY_PREROUTING
-A OUTPUT -p tcp -m tcp --sport 30000:65535 -j CHAOS_PROXY_OUTPUT
-A CHAOS_PROXY_OUTPUT -m mark --mark 0xff -j RETURN
-A CHAOS_PROXY_OUTPUT -p tcp -j MARK --set-xmark 0x1/0xffffffff
-A CHAOS_PROXY_PREROUTING -m mark --mark 0xff -j RETURN
-A CHAOS_PROXY_PREROUTING -p tcp -j TPROXY --on-port 58080 --on-ip 0.0.0.0 --tproxy-mark 0x1/0xffffffff
-A DIVERT -j MARK --set-xmark 0x1/0xffffffff
-A DIVERT -j ACCEPT
COMMIT
`;
  const IP_RULE = '32765:\tfrom all fwmark 0x1 lookup 100';

  it('reports a reachable TPROXY in the chaos-tproxy chains as active http, with the fwmark ip rule', () => {
    const r = fingerprint(state({ iptables: [iptables(HTTP)], ipRules: [IP_RULE] }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['http']);
    expect(r.findings).toEqual([
      'mangle CHAOS_PROXY_PREROUTING diverts tcp traffic to a transparent proxy on port 58080 ' +
        '(TPROXY mark 0x1/0xffffffff); ip rule: 32765: from all fwmark 0x1 lookup 100',
    ]);
  });

  it('calls an empty DIVERT chain and a leftover ip rule scaffolding', () => {
    const text = `*mangle
:PREROUTING ACCEPT [0:0]
:DIVERT - [0:0]
-A PREROUTING -p tcp -m socket -j DIVERT
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)], ipRules: [IP_RULE] }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      'mangle DIVERT is empty (jumped to from PREROUTING)',
      'ip rule "32765: from all fwmark 0x1 lookup 100" (HTTPChaos routing) remains',
    ]);
  });

  it('calls DIVERT marking without any reachable TPROXY scaffolding', () => {
    const text = HTTP.replace('-A PREROUTING -p tcp -m tcp --dport 30000:65535 -j CHAOS_PROXY_PREROUTING\n', '');
    const r = fingerprint(state({ iptables: [iptables(text)] }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      'mangle CHAOS_PROXY_OUTPUT holds 2 rules (jumped to from OUTPUT) but no reachable TPROXY rule sends traffic to a proxy',
      'mangle DIVERT holds 2 rules (jumped to from PREROUTING) but no reachable TPROXY rule sends traffic to a proxy',
      'mangle CHAOS_PROXY_PREROUTING holds 2 rules but nothing jumps to it',
    ]);
  });

  it('reports a DNSChaos backup per container', () => {
    const r = fingerprint(state({ dnsChaos: [{ container: 'app', pid: 4242 }] }));
    expect(r).toEqual({
      verdict: 'active',
      kinds: ['dns'],
      findings: ['container app (pid 4242) has /etc/resolv.conf.chaos.bak: DNSChaos replaced its /etc/resolv.conf'],
      details: [
        {
          level: 'active',
          kind: 'dns',
          message: 'container app (pid 4242) has /etc/resolv.conf.chaos.bak: DNSChaos replaced its /etc/resolv.conf',
        },
      ],
    });
  });

  it('orders active findings before scaffolding and merges kinds across sources', () => {
    const r = fingerprint(
      state({
        iptables: [iptables(HTTP), iptables(`${FILTER_HEAD}\n:CHAOS-INPUT - [0:0]\n-A INPUT -j CHAOS-INPUT\nCOMMIT\n`)],
        tc: tcState([netem({ handle: '1:', parent: 'root' }, { loss: 0.1 })]),
        dnsChaos: [{ container: 'app', pid: 7 }],
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['dns', 'http', 'loss']);
    expect(r.details.map((d) => d.level)).toEqual(['active', 'active', 'active', 'scaffolding']);
    expect(r.findings[3]).toBe('CHAOS-INPUT is empty (jumped to from INPUT)');
  });
});

/** Fixture text shared with the parsers' tests (test/fixtures), parsed by the production parsers. */
const fixture = (path: string): string => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');
function qdiscsOf(path: string): Qdisc[] {
  const { qdiscs, errors } = parseTcQdiscs(fixture(path));
  expect(errors).toEqual([]);
  return qdiscs;
}

describe('fingerprint on parsed fixtures (test/fixtures)', () => {
  const FX_SET = 'set_web-p_1a2b3c4d5e6f7_tgt';
  const FX_NETGT = 'net_delay_0a1b2c3d4e5f60_netgt';
  const fxSets = (): NetnsState['ipsets'] => ipsets(fixture('ipset/chaos-partition.txt'));

  it('partition + filtered tc layout (prio 1:, sfq, netem 5: at 1:4 classified, tbf 6: at 1:5 not)', () => {
    const r = fingerprint(
      state({
        iptables: [iptables(fixture('iptables/chaos-tc-tables-nft-v4.txt'))],
        ipsets: fxSets(),
        tc: tcState(qdiscsOf('tc/prio-sfq-netem-filtered-qdisc.json')),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['delay', 'partition']);
    expect(r.findings).toEqual([
      `INPUT/${EXP} drops eth0 traffic from ipset ${FX_SET} (6 members)`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${FX_SET} (6 members)`,
      `OUTPUT/${EXP} drops eth0 tcp traffic not to ipset ${FX_NETGT} (1 member) with destination port 5432`,
      `eth0 netem 5: (parent 1:4) delays 300ms ±50ms (50% correlation) for eth0 traffic to ipset ${FX_NETGT} (1 member), classified by TC-TABLES-0`,
      'eth0 tbf 6: (parent 1:5) limits rate to 100Kbit/s (burst 1600B, limit 50000B), but nothing reachable classifies traffic into 1:5',
    ]);
    expect(r.details.filter((d) => d.level === 'foreign').map((d) => d.message)).toEqual(['foreign: 1 other ipset (v6_hosts)']);
  });

  it('recovered legacy dump: empty CHAOS-* chains, orphaned experiment chain, empty TC-TABLES-0, unused sets', () => {
    const r = fingerprint(
      state({ iptables: [iptables(fixture('iptables/chaos-recovered-legacy-v4.txt'), 'legacy')], ipsets: fxSets() }),
    );
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([
      'CHAOS-INPUT is empty (jumped to from INPUT)',
      'CHAOS-OUTPUT is empty (jumped to from OUTPUT)',
      `OUTPUT/${EXP} holds 1 rule but nothing jumps to it`,
      'TC-TABLES-0 is empty and nothing jumps to it',
      '4 Chaos Mesh ipsets no reachable rule uses: net_web-p_1a2b3c4d5e6f7_tgt (hash:net, 4 members), ' +
        `netport_web-p_1a2b3c4d5e6f7_tgt (hash:net,port, 2 members), ${FX_NETGT} (hash:net, 1 member), ${FX_SET} (list:set, 6 members)`,
    ]);
  });

  it('chaos only in the legacy backend, kube-proxy/CNI in nft', () => {
    const r = fingerprint(
      state({
        iptables: [iptables(fixture('iptables/kube-proxy-cni-nft-v4.txt')), iptables(fixture('iptables/chaos-partition-nft-v4.txt'), 'legacy')],
        ipsets: fxSets(),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['partition']);
    expect(r.findings).toEqual([
      `INPUT/${EXP} drops eth0 traffic from ipset ${FX_SET} (6 members) (legacy backend)`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${FX_SET} (6 members) (legacy backend)`,
      `OUTPUT/${EXP} drops eth0 tcp traffic not to ipset ${FX_NETGT} (1 member) with destination port 5432 (legacy backend)`,
    ]);
  });

  it('kube-proxy + CNI only: clean', () => {
    const r = fingerprint(state({ iptables: [iptables(fixture('iptables/kube-proxy-cni-nft-v4.txt'))] }));
    expect(r.verdict).toBe('clean');
    expect(r.findings).toEqual([]);
    expect(r.details.map((d) => d.message)).toEqual(['foreign: 6 Kubernetes chains (KUBE-*)', 'foreign: 1 CNI chain (CNI-*)']);
  });

  it('chained netem (every field) -> tbf', () => {
    const r = fingerprint(state({ tc: tcState(qdiscsOf('tc/netem-tbf-chain-qdisc.json')) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth', 'corrupt', 'delay', 'duplicate', 'loss', 'reorder']);
    expect(r.findings).toEqual([
      'eth0 root netem delays 100ms ±10ms (25% correlation), loses 5% (10% correlation), duplicates 1% (2% correlation), ' +
        'corrupts 0.5% (3% correlation), reorders 20% (50% correlation), gap 5, limits rate to 1Mbit/s',
      'eth0 tbf 2: (parent 1:) limits rate to 8Mbit/s (burst 10KiB, limit 20000B)',
    ]);
  });

  it('root tbf', () => {
    const r = fingerprint(state({ tc: tcState(qdiscsOf('tc/tbf-root-qdisc.json')) }));
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings).toEqual(['eth0 root tbf limits rate to 8Mbit/s (burst 10KiB, limit 20000B)']);
  });

  it('netem loss models and slots (kept raw by the parser) still count', () => {
    const r = fingerprint(state({ tc: tcState(qdiscsOf('tc/netem-loss-models-qdisc.json')) }));
    expect(r.kinds).toEqual(['delay', 'loss']);
    expect(r.findings).toEqual([
      'eth0 root netem releases packets in slots every 1ms-5ms, loses packets (4-state Markov loss model)',
      'eth1 root netem delays 200ms, loses packets (Gilbert-Elliott loss model)',
    ]);
  });

  it.each(['nft', 'legacy'] as const)('HTTPChaos DIVERT + PREROUTING TPROXY (%s)', (backend) => {
    const r = fingerprint(
      state({ iptables: [iptables(fixture(`iptables/httpchaos-mangle-${backend}-v4.txt`), backend)], ipRules: ['32765:\tfrom all fwmark 0x1 lookup 100'] }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['http']);
    expect(r.findings).toEqual([
      'mangle PREROUTING diverts eth0 tcp traffic with destination port 80 to a transparent proxy on port 58080 ' +
        '(TPROXY mark 0x1/0x1); ip rule: 32765: from all fwmark 0x1 lookup 100',
    ]);
  });
});

describe('fingerprint helpers', () => {
  it('reachableChains follows -j and -g from built-in chains and skips shadowed jumps', () => {
    const dump = iptables(`${FILTER_HEAD}
:A - [0:0]
:B - [0:0]
:C - [0:0]
:D - [0:0]
:E - [0:0]
-A INPUT -j A
-A A -g B
-A B -j RETURN
-A B -j C
-A OUTPUT -p tcp -j ACCEPT
-A OUTPUT -j E
-A D -j A
COMMIT
`);
    expect([...reachableChains(dump.tables[0]!)].sort()).toEqual(['A', 'B', 'E', 'FORWARD', 'INPUT', 'OUTPUT']);
  });

  it('recognises Chaos Mesh ipset names in both name layouts and the old ones', () => {
    for (const n of [TGT, `net_${SET}_nesrc`, `netport_${SET}_batgt`, `${TGT}old`, 'web-p_1a2b3c4d5e6f7_set_tgt', 'web_net_src', 'web-p_1a2b3c4d5e6f7a8_tgt']) {
      expect(isChaosIpsetName(n), n).toBe(true);
    }
    for (const n of ['KUBE-LOOP-BACK', 'cali40all-ipam-pools', 'set_web', 'net_x_other', 'my_set_tgtx']) {
      expect(isChaosIpsetName(n), n).toBe(false);
    }
  });

  it('formats units and handles', () => {
    expect(formatSeconds(0.1)).toBe('100ms');
    expect(formatSeconds(0.000_25)).toBe('250us');
    expect(formatSeconds(2)).toBe('2s');
    expect(formatRate(125_000)).toBe('1Mbit/s');
    expect(formatRate(125_000_000)).toBe('1Gbit/s');
    expect(formatRate(100)).toBe('800bit/s');
    expect(canonicalHandle('0001:0004')).toBe('1:4');
    expect(canonicalHandle('1:')).toBe('1:0');
    expect(canonicalHandle('a:1F')).toBe('a:1f');
    expect(canonicalHandle('root')).toBeNull();
  });

  it('fingerprints a realistic load (kube-proxy nft, partition, http, filtered layout) to the same report every time', () => {
    const s = state({
      iptables: [iptables(KUBE_NFT), iptables(ACTIVE_PARTITION, 'legacy'), iptables(HTTP_FOR_BENCH)],
      ipsets: ipsets(PARTITION_SETS),
      tc: tcState([...filteredLayout(1, 'root', 1), netem({ handle: '5:', parent: '1:4' }, { delaySeconds: 0.05 })]),
    });
    // Speed is measured by npm run bench, not here; this checks the result is a pure function of the state.
    const first = fingerprint(s);
    for (let i = 0; i < 20; i++) expect(fingerprint(s)).toEqual(first);
    expect(first.verdict).toBe('active');
    expect(first.kinds).toContain('partition');
  });
});

const HTTP_FOR_BENCH = `*mangle
:PREROUTING ACCEPT [0:0]
:DIVERT - [0:0]
-A PREROUTING -p tcp -m socket -j DIVERT
-A DIVERT -j MARK --set-xmark 0x1/0xffffffff
-A DIVERT -j ACCEPT
COMMIT
`;

// ---------------------------------------------------------------------------------------------
// Property test: never throws on arbitrary well-typed states; report invariants hold.

const chainNames = fc.constantFrom(
  'INPUT', 'OUTPUT', 'PREROUTING', 'CHAOS-INPUT', 'CHAOS-OUTPUT', `INPUT/${EXP}`, `OUTPUT/${EXP}`, 'TC-TABLES-0',
  'TC-TABLES-1', 'DIVERT', 'CHAOS_PROXY_PREROUTING', 'KUBE-SERVICES', 'CNI-x', 'X',
);
const setNames = fc.constantFrom(TGT, SRC, `net_${SET}_tgt`, 'KUBE-SET', 'missing', `${TGT}old`);
const targets = fc.oneof(
  chainNames,
  fc.constantFrom('ACCEPT', 'DROP', 'REJECT', 'RETURN', 'CLASSIFY', 'TPROXY', 'MARK'),
  fc.constant(null),
);
const handles = fc.constantFrom('1:', '2:', '3:', '5:', '1:4', '2:4', '1:1', 'ffff:', 'zz', '');
const ratio = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(0), fc.double());

const ruleArb: fc.Arbitrary<IptablesRule> = fc
  .record({
    target: targets,
    goto: fc.boolean(),
    conditional: fc.boolean(),
    iface: fc.option(fc.constantFrom('eth0', 'lo')),
    sets: fc.array(fc.record({ name: setNames, flags: fc.constantFrom('src', 'dst', 'dst,dst', ''), negated: fc.boolean() }), {
      maxLength: 2,
    }),
    dport: fc.option(fc.constantFrom('80', '80:90', '1,2')),
    cls: fc.constantFrom('--set-class 1:4', '--set-class 2:4', '--on-port 1 --tproxy-mark 0x1', '', '--set-class zz'),
  })
  .map((r) => ({
    text: `${r.conditional ? '-p tcp ' : ''}${r.target === null ? '' : `${r.goto ? '-g' : '-j'} ${r.target} ${r.cls}`}`,
    counters: null,
    target: r.target,
    goto: r.goto,
    targetOptions: r.cls,
    inInterface: null,
    outInterface: r.iface,
    protocol: r.conditional ? 'tcp' : null,
    source: null,
    destination: null,
    dport: r.dport,
    sport: null,
    matchSets: r.sets,
    comment: null,
    modules: r.sets.length > 0 ? ['set'] : [],
  }));

const chainArb: fc.Arbitrary<IptablesChain> = fc
  .record({ name: chainNames, builtin: fc.boolean(), rules: fc.array(ruleArb, { maxLength: 4 }) })
  .map((c) => ({ name: c.name, policy: c.builtin ? 'ACCEPT' : null, builtin: c.builtin, counters: null, rules: c.rules }));

const dumpArb: fc.Arbitrary<IptablesDump> = fc.record({
  backend: fc.constantFrom('legacy' as const, 'nft' as const),
  family: fc.constantFrom('ipv4' as const, 'ipv6' as const),
  tables: fc.array(fc.record({ name: fc.constantFrom('filter', 'mangle', 'nat'), chains: fc.array(chainArb, { maxLength: 6 }) }), {
    maxLength: 3,
  }),
  errors: fc.constant([]),
});

const qdiscArb: fc.Arbitrary<Qdisc> = fc
  .record({
    iface: fc.constantFrom('eth0', 'lo'),
    kind: fc.constantFrom('netem', 'tbf', 'prio', 'sfq', 'htb', 'noqueue'),
    handle: handles,
    parent: fc.oneof(fc.constant('root'), handles),
    delay: ratio,
    loss: ratio,
    rate: fc.option(fc.double()),
    priomap: fc.oneof(fc.constant<number[]>([1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]), fc.array(fc.integer({ min: -1, max: 5 }))),
  })
  .map((q) => ({
    interface: q.iface,
    kind: q.kind,
    handle: q.handle,
    parent: q.parent,
    root: q.parent === 'root',
    options: {},
    netem: q.kind === 'netem' ? { delaySeconds: q.delay, loss: q.loss, rateBytesPerSecond: q.rate ?? undefined } : undefined,
    tbf: q.kind === 'tbf' ? { rateBytesPerSecond: q.rate ?? undefined } : undefined,
    prio: q.kind === 'prio' ? { bands: 4, priomap: q.priomap } : undefined,
    stats: null,
  }));

const stateArb: fc.Arbitrary<NetnsState> = fc
  .record({
    iptables: fc.array(dumpArb, { maxLength: 3 }),
    sets: fc.array(
      fc.record({
        name: setNames,
        type: fc.constantFrom('hash:net', 'list:set'),
        members: fc.array(fc.oneof(setNames, fc.constant('10.0.0.0/8')), { maxLength: 3 }),
      }),
      { maxLength: 4 },
    ),
    qdiscs: fc.array(qdiscArb, { maxLength: 6 }),
    filters: fc.array(fc.record({ flowid: fc.option(handles), parent: handles }), { maxLength: 2 }),
    ipRules: fc.array(fc.constantFrom('32765: from all fwmark 0x1 lookup 100', 'garbage', ''), { maxLength: 2 }),
    dns: fc.array(fc.record({ container: fc.string({ maxLength: 5 }), pid: fc.nat() }), { maxLength: 2 }),
  })
  .map((s) =>
    state({
      iptables: s.iptables,
      ipsets: {
        sets: s.sets.map((x) => ({ name: x.name, type: x.type, optionsText: '', options: {}, members: x.members.map((v) => ({ value: v, options: '' })) })),
        errors: [],
      },
      tc: tcState(
        s.qdiscs,
        s.filters.map((f) => ({ ...filter('eth0', f.parent, 'x'), flowid: f.flowid })),
      ),
      ipRules: s.ipRules,
      dnsChaos: s.dns,
    }),
  );

describe('fingerprint properties', () => {
  it('never throws and keeps verdict, kinds, findings and details consistent', () => {
    fc.assert(
      fc.property(stateArb, (s) => {
        const r = fingerprint(s);
        const order = { active: 0, scaffolding: 1, foreign: 2 } as const;
        // kinds: sorted, unique, exactly the kinds of active details.
        expect(r.kinds).toEqual([...new Set(r.kinds)].sort());
        const activeKinds = new Set(r.details.filter((d) => d.level === 'active').flatMap((d) => [d.kind!, ...(d.kinds ?? [])]));
        expect(new Set(r.kinds)).toEqual(activeKinds);
        // Every active finding has a kind, so kinds are non-empty iff the verdict is active.
        expect(r.details.filter((d) => d.level === 'active').every((d) => d.kind !== null)).toBe(true);
        expect(r.kinds.length > 0).toBe(r.verdict === 'active');
        const levels = new Set(r.details.map((d) => d.level));
        expect(r.verdict).toBe(levels.has('active') ? 'active' : levels.has('scaffolding') ? 'scaffolding' : 'clean');
        // findings mirror the non-foreign details; details are ordered active, scaffolding, foreign.
        expect(r.findings).toEqual(r.details.filter((d) => d.level !== 'foreign').map((d) => d.message));
        const ranks = r.details.map((d) => order[d.level]);
        expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
        expect(r.details.every((d) => d.message.length > 0)).toBe(true);
        // Pure: same input, same output.
        expect(fingerprint(s)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});

describe('fingerprint: ipsets used by tc filters', () => {
  it('a set counts as used by a tc filter only when the filter names it as a whole token', () => {
    const sets = ipsets([netSet('net_abcde_tgt', 2), netSet('net_abcde_tgt2', 2)].join('\n'));
    const f = { ...filter('eth0', '1:', '1:4', 'basic'), options: { ematch: 'ipset(net_abcde_tgt2 dst)' } };
    const r = fingerprint(state({ ipsets: sets, tc: tcState([], [f]) }));
    // net_abcde_tgt2 is used by the filter; net_abcde_tgt (a prefix of it) is not, so it is reported unused.
    expect(r.findings).toEqual(['1 Chaos Mesh ipset no reachable rule uses: net_abcde_tgt (hash:net, 2 members)']);
  });
});
