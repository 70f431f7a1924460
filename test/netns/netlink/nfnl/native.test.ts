import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativeTables } from '../../../../agent/netns/netlink/nfnl/native.js';
import { decodeRuleset } from '../../../../agent/netns/netlink/nfnl/nft-dump.js';
import { parseNftJson } from '../../../../agent/netns/nsenter/nft-json.js';
import { comparableTables } from './compare.js';
import { fixtureMessages, fixtureText } from './fixtures.js';

const decoded = (name: string) => decodeRuleset({
  tables: fixtureMessages(`nft/${name}.tables.nlmsg`),
  chains: fixtureMessages(`nft/${name}.chains.nlmsg`),
  rules: fixtureMessages(`nft/${name}.rules.nlmsg`),
});

describe('native nftables from captured dumps equal nft -j list ruleset of the same state', () => {
  it('inet, bridge, netdev, ip (non-xtables name) and arp tables with chains, rules, comments, counters', () => {
    const native = nativeTables(decoded('corpus'));
    const tools = parseNftJson(fixtureText('nft/corpus.nft.json'));
    expect(tools.errors).toEqual([]);
    expect(comparableTables(native)).toEqual(tools.tables);
    expect(native.map((t) => `${t.family} ${t.name}`)).toEqual(['inet chaos_native', 'bridge br_native', 'netdev nd_native', 'ip chaos_ip4', 'arp arp_t']);
    const inet = native[0]!;
    expect(inet.chains.map((c) => [c.name, c.type, c.hook, c.priority, c.policy])).toEqual([
      ['input', 'filter', 'input', 0, 'accept'],
      ['pre', 'filter', 'prerouting', -150, 'accept'],
      ['nat_out', 'nat', 'output', -100, 'accept'],
      ['post', 'nat', 'postrouting', 100, 'accept'],
      ['raw', 'filter', 'prerouting', -300, 'accept'],
      ['user', null, null, null, null],
    ]);
    expect(inet.chains.find((c) => c.name === 'user')!.rules).toEqual([
      { handle: 23, comment: 'counter', counters: { packets: 7, bytes: 700 }, expressions: [{ kind: 'counter', packets: 7, bytes: 700 }] },
    ]);
    expect(native[2]!.chains[0]).toMatchObject({ hook: 'ingress', devices: ['eth0'], policy: 'accept' });
    expect(native[1]!.chains[0]).toMatchObject({ hook: 'forward', policy: 'drop' });
  });

  it('a namespace with only iptables-nft tables has no native table on either side', () => {
    expect(nativeTables(decoded('chaos-mesh'))).toEqual([]);
    expect(parseNftJson(fixtureText('nft/chaos-mesh.nft.json'))).toEqual({ tables: [], errors: [] });
  });
});

describe('parseNftJson never throws', () => {
  it('reports unreadable input and objects, keeps the rest', () => {
    expect(parseNftJson('not json').errors[0]!.message).toMatch(/not JSON/);
    expect(parseNftJson('{"x":1}').errors[0]!.message).toMatch(/no "nftables" array/);
    const d = parseNftJson(JSON.stringify({ nftables: [
      { table: { family: 'inet', name: 't', handle: 1 } },
      { table: { family: 'weird', name: 'u', handle: 2 } },
      { chain: { family: 'inet', table: 't', name: 'c', handle: 1 } },
      { rule: { family: 'inet', table: 't', chain: 'c' } },
      { rule: { family: 'inet', table: 't', chain: 'c', handle: 3, expr: [{ counter: 'named' }, { counter: { packets: 1, bytes: 2 } }] } },
      5,
    ] }));
    expect(d.tables).toEqual([{ family: 'inet', name: 't', handle: 1, chains: [{ name: 'c', handle: 1, type: null, hook: null, priority: null, policy: null, devices: [], counters: null, rules: [{ handle: 3, comment: null, counters: { packets: 1, bytes: 2 } }] }] }]);
    expect(d.errors.map((e) => e.message)).toEqual([
      'nft -j list ruleset: line 1: table with unknown family weird',
      'nft -j list ruleset: line 1: rule without handle in chain c',
      'nft -j list ruleset: line 1: an element of "nftables" is not an object',
    ]);
  });

  it('arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const d = parseNftJson(JSON.stringify({ nftables: Array.isArray(v) ? v : [v] }));
      expect(Array.isArray(d.tables)).toBe(true);
    }), { numRuns: 500 });
  });
});
