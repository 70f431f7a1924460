import { describe, expect, it } from 'vitest';
import { iptablesNftDumps } from '../../../../agent/netns/netlink/nfnl/iptables-nft.js';
import { decodeRuleset } from '../../../../agent/netns/netlink/nfnl/nft-dump.js';
import { parseIptablesSave } from '../../../../agent/netns/nsenter/iptables.js';
import { fixtureMessages, fixtureSetNames, fixtureText } from './fixtures.js';

function decoded(name: string) {
  return decodeRuleset({
    tables: fixtureMessages(`nft/${name}.tables.nlmsg`),
    chains: fixtureMessages(`nft/${name}.chains.nlmsg`),
    rules: fixtureMessages(`nft/${name}.rules.nlmsg`),
  });
}

describe('iptables-nft tables from captured dumps equal what iptables-nft-save printed for the same state', () => {
  it('Chaos Mesh (nft backend): partition with ipsets, TC-TABLES CLASSIFY, HTTPChaos in mangle', () => {
    const rs = decoded('chaos-mesh');
    expect(rs.decodeErrors).toEqual([]);
    const { dumps, notes } = iptablesNftDumps(rs, fixtureSetNames('nft/chaos-mesh.setindex.json'));
    expect(notes).toEqual([]);
    expect(dumps.map((d) => d.family)).toEqual(['ipv4']);
    expect(dumps[0]).toEqual(parseIptablesSave(fixtureText('nft/chaos-mesh.iptables-nft-save.txt'), 'nft', 'ipv4'));
    const rules = dumps[0]!.tables.flatMap((t) => t.chains.flatMap((c) => c.rules));
    expect(rules.filter((r) => r.opaque)).toEqual([]);
    // The structured fields fingerprinting reads come out of the rendered text.
    const drop = rules.find((r) => r.matchSets.length > 0 && r.target === 'DROP')!;
    expect(drop.text).toBe('-o eth0 -m set --match-set web-p_7cc6421210d1f_set_tgt dst,dst -j DROP');
    expect(rules.find((r) => r.target === 'CLASSIFY')!.targetOptions).toBe('--set-class 0001:0004');
    expect(rules.find((r) => r.target === 'TPROXY')!.text).toBe('-p tcp -m tcp --dport 80 -j TPROXY --on-port 58080 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1');
  });

  it('every form iptables-nft translates natively (IPv4, IPv6), compat extensions, quoted and 255-byte comments', () => {
    const rs = decoded('corpus');
    expect(rs.decodeErrors).toEqual([]);
    const { dumps } = iptablesNftDumps(rs, fixtureSetNames('nft/corpus.setindex.json'));
    expect(dumps.map((d) => d.family)).toEqual(['ipv4', 'ipv6']);
    expect(dumps[0]).toEqual(parseIptablesSave(fixtureText('nft/corpus.iptables-nft-save.txt'), 'nft', 'ipv4'));
    expect(dumps[1]).toEqual(parseIptablesSave(fixtureText('nft/corpus.ip6tables-nft-save.txt'), 'nft', 'ipv6'));
    const count = dumps.flatMap((d) => d.tables.flatMap((t) => t.chains.flatMap((c) => c.rules))).length;
    expect(count).toBe(30);
  });

  it('leaves the native tables (inet, bridge, netdev, arp, ip chaos_ip4) out of the iptables dumps', () => {
    const { dumps } = iptablesNftDumps(decoded('corpus'), { setName: () => null });
    expect(dumps.flatMap((d) => d.tables.map((t) => t.name)).sort()).toEqual(['filter', 'filter']);
  });
});
