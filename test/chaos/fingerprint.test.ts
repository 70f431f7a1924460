import { describe, expect, it } from 'vitest';
import type { NetnsState } from '../../agent/netns/state.js';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import { filter, iptables, ipsets, netem, netSet, qdisc, state, tcState } from './builders.js';
import { ACTIVE_PARTITION, BASE_FINDINGS, chaosDaemonState, FILTER_HEAD, fixture, KUBE_NFT, PARTITION_SETS, qdiscsOf, EXP, SET, TGT, SRC } from './samples.js';

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
      `INPUT/${EXP} drops eth0 traffic from ipset ${FX_SET} (list:set of 2 sets, 6 members)`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${FX_SET} (list:set of 2 sets, 6 members)`,
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
        `netport_web-p_1a2b3c4d5e6f7_tgt (hash:net,port, 2 members), ${FX_NETGT} (hash:net, 1 member), ${FX_SET} (list:set of 2 sets, 6 members)`,
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
      `INPUT/${EXP} drops eth0 traffic from ipset ${FX_SET} (list:set of 2 sets, 6 members) (legacy backend)`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${FX_SET} (list:set of 2 sets, 6 members) (legacy backend)`,
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
    const r = fingerprint(chaosDaemonState({ tc: tcState(qdiscsOf('tc/netem-tbf-chain-qdisc.json')) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth', 'corrupt', 'delay', 'duplicate', 'loss', 'reorder']);
    expect(r.findings).toEqual([
      'eth0 root netem delays 100ms ±10ms (25% correlation), loses 5% (10% correlation), duplicates 1% (2% correlation), ' +
        'corrupts 0.5% (3% correlation), reorders 20% (50% correlation), gap 5, limits rate to 1Mbit/s',
      'eth0 tbf 2: (parent 1:) limits rate to 8Mbit/s (burst 10KiB, limit 20000B)',
      ...BASE_FINDINGS,
    ]);
  });

  it('root tbf', () => {
    const r = fingerprint(chaosDaemonState({ tc: tcState(qdiscsOf('tc/tbf-root-qdisc.json')) }));
    expect(r.kinds).toEqual(['bandwidth']);
    expect(r.findings).toEqual(['eth0 root tbf limits rate to 8Mbit/s (burst 10KiB, limit 20000B)', ...BASE_FINDINGS]);
    // The same tbf where chaos-daemon never ran (no CHAOS-* chains) is someone else's shaping: foreign, clean.
    const other = fingerprint(state({ tc: tcState(qdiscsOf('tc/tbf-root-qdisc.json')) }));
    expect(other.verdict).toBe('clean');
    expect(other.details.map((d) => d.level)).toEqual(['foreign']);
  });

  it('netem loss models and slots count', () => {
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

describe('fingerprint: ipsets used by tc filters', () => {
  it('a set counts as used by a tc filter only when the filter names it (its typed matchSets)', () => {
    const sets = ipsets([netSet('net_abcde_tgt', 2), netSet('net_abcde_tgt2', 2)].join('\n'));
    const f = { ...filter('eth0', '1:', '1:4', 'basic'), options: { ematch: 'ipset(net_abcde_tgt2 dst)' }, matchSets: ['net_abcde_tgt2'] };
    const r = fingerprint(state({ ipsets: sets, tc: tcState([], [f]) }));
    // net_abcde_tgt2 is used by the filter; net_abcde_tgt (a prefix of it) is not, so it is reported unused.
    expect(r.findings).toEqual(['1 Chaos Mesh ipset no reachable rule uses: net_abcde_tgt (hash:net, 2 members)']);
  });
});

describe('fingerprint: the residue of a failed injection (ipsets alone)', () => {
  // The controller flushes ipsets before it sets chains; when SetIptablesChains fails (no legacy iptables, an IPv6
  // target) only the sets remain, with no table at all.
  it('is scaffolding, not clean', () => {
    const r = fingerprint(state({ ipsets: ipsets(PARTITION_SETS) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([
      `5 Chaos Mesh ipsets no reachable rule uses: net_${SET}_tgt (hash:net, 20 members), ` +
        `netport_${SET}_tgt (hash:net,port, 1 member), ${TGT} (list:set of 2 sets, 21 members), ` +
        `net_${SET}_src (hash:net, 3 members), ${SRC} (list:set of 1 set, 3 members)`,
    ]);
  });

  it('foreign sets alone stay clean', () => {
    expect(fingerprint(state({ ipsets: ipsets(netSet('KUBE-LOOP-BACK', 2)) })).verdict).toBe('clean');
  });
});

describe('fingerprint: findings from other sources join the report', () => {
  it('merges FingerprintContext.extra (processes, mounts, DNS) into verdict, kinds and order', () => {
    const r = fingerprint(state({ iptables: [iptables(`${FILTER_HEAD}\n:CHAOS-INPUT - [0:0]\n-A INPUT -j CHAOS-INPUT\nCOMMIT\n`)] }), {
      extra: [{ level: 'active', kind: 'dns', message: 'container app: resolv.conf nameserver 10.96.0.99 differs from the backup' }],
    });
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['dns']);
    expect(r.findings).toEqual(['container app: resolv.conf nameserver 10.96.0.99 differs from the backup', 'CHAOS-INPUT is empty (jumped to from INPUT)']);
  });
});

describe('fingerprint: purity', () => {
  it('fingerprints a realistic load (kube-proxy nft, partition, http, netem) to the same report every time', () => {
    const http = `*mangle
:PREROUTING ACCEPT [0:0]
:DIVERT - [0:0]
-A PREROUTING -p tcp -m socket -j DIVERT
-A DIVERT -j MARK --set-xmark 0x1/0xffffffff
-A DIVERT -j ACCEPT
COMMIT
`;
    const s = state({
      iptables: [iptables(KUBE_NFT), iptables(ACTIVE_PARTITION, 'legacy'), iptables(http)],
      ipsets: ipsets(PARTITION_SETS),
      tc: tcState([netem({ handle: '1:', parent: 'root' }, { delaySeconds: 0.05 }), qdisc('noqueue', { iface: 'lo', handle: '0:', parent: 'root' })]),
    });
    // Speed is measured by npm run bench, not here; this checks the result is a pure function of the state.
    const first = fingerprint(s);
    for (let i = 0; i < 20; i++) expect(fingerprint(s)).toEqual(first);
    expect(first.verdict).toBe('active');
    expect(first.kinds).toEqual(['delay', 'partition']);
  });
});
