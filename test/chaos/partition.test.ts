import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import { primaryBackend } from '../../agent/chaos/findings.js';
import { ipsets, iptables, listSet, netSet, state } from './builders.js';
import { ACTIVE_PARTITION, EXP, expectConsistent, FILTER_HEAD, KUBE_NFT, PARTITION_SETS, SET, SRC, TGT } from './samples.js';

describe('fingerprint: partition (iptables + ipsets)', () => {
  it('reports both directions of an active Chaos Mesh partition, with set sizes, interface and ports', () => {
    const r = fingerprint(state({ iptables: [iptables(ACTIVE_PARTITION)], ipsets: ipsets(PARTITION_SETS) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['partition']);
    expect(r.findings).toEqual([
      `INPUT/${EXP} drops eth0 tcp traffic from ipset ${SRC} (list:set of 1 set, 3 members) with destination port 8080`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${TGT} (list:set of 2 sets, 21 members)`,
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
        `netport_${SET}_tgt (hash:net,port, 1 member), ${TGT} (list:set of 2 sets, 21 members), ` +
        `net_${SET}_src (hash:net, 3 members), ${SRC} (list:set of 1 set, 3 members)`,
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
    expect(r.findings).toEqual(['CHAOS-OUTPUT drops all non-lo traffic (IPv4 only)']);
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
        `netport_${SET}_tgt (hash:net,port, 1 member), ${TGT} (list:set of 2 sets, 21 members), ` +
        `net_${SET}_src (hash:net, 3 members), ${SRC} (list:set of 1 set, 3 members), ${TGT}old (list:set of 0 sets, 0 members)`,
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
      `INPUT/${EXP} drops eth0 tcp traffic from ipset ${SRC} (list:set of 1 set, 3 members) with destination port 8080 (legacy backend)`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset ${TGT} (list:set of 2 sets, 21 members) (legacy backend)`,
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
    expect(r.findings[1]).toBe(`OUTPUT/${EXP} drops eth0 traffic to ipset ${TGT} (list:set of 2 sets, 21 members) (ipv6)`);
  });

  it("says a target-less chain drops all of its device's IPv4 traffic only (chaos-daemon runs iptables, never ip6tables)", () => {
    // iptables_server.go setIptablesChain with no ipsets: `-A <chain> -o <device> -j DROP -w 5`.
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:OUTPUT/${EXP} - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -j OUTPUT/${EXP}
-A OUTPUT/${EXP} -o eth0 -j DROP
COMMIT
`;
    const v4 = fingerprint(state({ iptables: [iptables(text, 'legacy')] }));
    expect(v4.verdict).toBe('active');
    expect(v4.findings).toEqual([`OUTPUT/${EXP} drops all eth0 traffic (IPv4 only)`]);
    // The same rule in both backends: the one not in use is annotated after it.
    const both = fingerprint(state({ iptables: [iptables(KUBE_NFT, 'nft'), iptables(text, 'legacy')] }));
    expect(both.findings).toEqual([`OUTPUT/${EXP} drops all eth0 traffic (IPv4 only) (legacy backend)`]);
    // Someone's ip6tables rule is not Chaos Mesh's doing, and says so by its own annotation.
    const v6 = fingerprint(state({ iptables: [iptables(text, 'nft', 'ipv6')] }));
    expect(v6.findings).toEqual([`OUTPUT/${EXP} drops all eth0 traffic (ipv6)`]);
    // A rule that names addresses or a protocol is not "all traffic": no claim on its scope is added.
    const tcp = fingerprint(state({ iptables: [iptables(text.replace('-o eth0 -j DROP', '-o eth0 -p tcp -j DROP'), 'legacy')] }));
    expect(tcp.findings).toEqual([`OUTPUT/${EXP} drops eth0 tcp traffic`]);
  });
});

describe('fingerprint: a partition whose target sets are empty', () => {
  // Chaos Mesh skips targets without a pod IP: the list:set and its members exist, empty, and the DROP rule is installed.
  const emptySets = [
    `create net_${SET}_tgt hash:net family inet hashsize 1024 maxelem 65536`,
    `create netport_${SET}_tgt hash:net,port family inet hashsize 1024 maxelem 65536`,
    listSet(TGT, [`net_${SET}_tgt`, `netport_${SET}_tgt`]),
    netSet(`net_${SET}_src`, 3),
    listSet(SRC, [`net_${SET}_src`]),
  ].join('\n');

  it('says the rule drops nothing now, and only the rule with members is active', () => {
    const r = fingerprint(state({ iptables: [iptables(ACTIVE_PARTITION)], ipsets: ipsets(emptySets) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['partition']);
    expect(r.findings).toEqual([
      `INPUT/${EXP} drops eth0 tcp traffic from ipset ${SRC} (list:set of 1 set, 3 members) with destination port 8080`,
      `OUTPUT/${EXP} would drop eth0 traffic to ipset ${TGT} (list:set of 2 sets, 0 members), but it matches an empty set: drops nothing now`,
    ]);
    expect(r.details[1]).toEqual({ level: 'scaffolding', kind: null, message: r.findings[1] });
    expectConsistent(r);
  });

  it('is scaffolding when every partition rule matches an empty set', () => {
    const text = ACTIVE_PARTITION.replace(/^.*INPUT\/\S+ -i eth0 -p tcp.*\n/m, '');
    const r = fingerprint(state({ iptables: [iptables(text)], ipsets: ipsets(emptySets) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings[0]).toBe(`OUTPUT/${EXP} would drop eth0 traffic to ipset ${TGT} (list:set of 2 sets, 0 members), but it matches an empty set: drops nothing now`);
  });

  it('a negated empty set matches everything: still active; a missing set is not called empty', () => {
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:OUTPUT/${EXP} - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -j OUTPUT/${EXP}
-A OUTPUT/${EXP} -o eth0 -m set ! --match-set ${TGT} dst -j REJECT
-A OUTPUT/${EXP} -o eth0 -m set --match-set set_gone_tgt dst -j DROP
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)], ipsets: ipsets(emptySets) }));
    expect(r.verdict).toBe('active');
    expect(r.findings.slice(0, 2)).toEqual([
      `OUTPUT/${EXP} rejects eth0 traffic not to ipset ${TGT} (list:set of 2 sets, 0 members)`,
      `OUTPUT/${EXP} drops eth0 traffic to ipset set_gone_tgt (missing)`,
    ]);
  });
});
