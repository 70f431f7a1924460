import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEbtables, parseEbtablesRule } from '../../../agent/netns/nsenter/ebtables.js';

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/ebtables/${p}`, import.meta.url), 'utf8');
const DNAT = { '--to-dst': '0a:58:0a:f4:01:07', '--dnat-target': 'ACCEPT' };

describe('ebtables parser', () => {
  it('reads ebtables-nft-save -c (real capture)', () => {
    const d = parseEbtables(fixture('tproxy-dnat-nft-save.txt'), 'nft');
    expect(d.errors).toEqual([]);
    expect(d.tables.map((t) => [t.name, t.chains.map((c) => `${c.name}:${c.policy}:${c.builtin}:${c.rules.length}`)])).toEqual([
      ['nat', ['PREROUTING:ACCEPT:true:1', 'OUTPUT:ACCEPT:true:0', 'POSTROUTING:ACCEPT:true:0']],
    ]);
    expect(d.tables[0]!.chains[0]!.rules[0]).toEqual({
      text: '-i eth0 -j dnat --to-dst 0a:58:0a:f4:01:07 --dnat-target ACCEPT',
      counters: { packets: 0, bytes: 0 },
      inInterface: 'eth0',
      outInterface: null,
      logicalIn: null,
      logicalOut: null,
      protocol: null,
      negated: [],
      target: 'dnat',
      targetOptions: '--to-dst 0a:58:0a:f4:01:07 --dnat-target ACCEPT',
      targetArgs: DNAT,
    });
  });

  it('reads the -L --Lc listing into the same rules as the save format (real capture)', () => {
    const list = parseEbtables(fixture('tproxy-dnat-nft-list.txt'), 'nft');
    const save = parseEbtables(fixture('tproxy-dnat-nft-save.txt'), 'nft');
    expect(list.errors).toEqual([]);
    expect(list.tables).toEqual(save.tables);
  });

  it("reads ebtables-legacy's listing: several tables, user chains, negation after the option, counters right after options", () => {
    const d = parseEbtables(fixture('legacy-list-nat-broute.txt'), 'legacy');
    expect(d.errors).toEqual([]);
    expect(d.tables.map((t) => t.name)).toEqual(['nat', 'broute']);
    const nat = d.tables[0]!;
    expect(nat.chains.map((c) => [c.name, c.policy, c.builtin])).toEqual([
      ['PREROUTING', 'ACCEPT', true], ['OUTPUT', 'ACCEPT', true], ['POSTROUTING', 'ACCEPT', true], ['MYCHAIN', 'RETURN', false],
    ]);
    const [dnat, arp] = nat.chains[0]!.rules;
    expect(dnat).toMatchObject({ text: '-i eth0 -j dnat --to-dst a:58:a:f4:1:7 --dnat-target ACCEPT', counters: { packets: 42, bytes: 5120 }, target: 'dnat' });
    expect(arp).toMatchObject({ protocol: 'ARP', inInterface: 'eth0', negated: ['inInterface'], target: 'MYCHAIN', targetOptions: '' });
    expect(nat.chains[3]!.rules[0]).toMatchObject({ text: '-j DROP', target: 'DROP', counters: { packets: 3, bytes: 126 } });
    expect(d.tables[1]!.chains[0]!.rules[0]).toMatchObject({
      protocol: 'IPv4',
      target: 'redirect',
      targetArgs: { '--redirect-target': 'DROP' },
      counters: { packets: 7, bytes: 420 },
    });
  });

  it('reads ebtables-legacy-save suffix counters, listings without counters, and nft-style negation', () => {
    const d = parseEbtables('*nat\n:PREROUTING ACCEPT\n-A PREROUTING ! -i eth0 -j ACCEPT -c 5 300\n', 'legacy');
    expect(d.tables[0]!.chains[0]!.rules[0]).toMatchObject({ text: '! -i eth0 -j ACCEPT', counters: { packets: 5, bytes: 300 }, negated: ['inInterface'] });
    const l = parseEbtables('Bridge table: filter\n\nBridge chain: FORWARD, entries: 1, policy: DROP\n-o veth1 -j ACCEPT\n', 'legacy');
    expect(l.tables[0]!.chains[0]).toMatchObject({ policy: 'DROP', rules: [{ outInterface: 'veth1', counters: null, target: 'ACCEPT' }] });
  });

  it('reports unreadable lines with their number and goes on', () => {
    const d = parseEbtables('garbage before any table\n*nat\n:PREROUTING ACCEPT\n[1:2] -A PREROUTING -j ACCEPT\n', 'nft');
    expect(d.errors.map((e) => [e.line, e.message])).toEqual([[1, 'ebtables: line 1: not a table, chain or rule line']]);
    expect(d.tables[0]!.chains[0]!.rules).toHaveLength(1);
  });

  it('a rule without a target keeps target null; a dangling option is ignored', () => {
    expect(parseEbtablesRule('-i', null)).toMatchObject({ inInterface: null, target: null });
    expect(parseEbtablesRule('-j', null)).toMatchObject({ target: null, targetOptions: '' });
  });

  it('is total: arbitrary text gives a dump, never a throw', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('*nat', 'Bridge table: nat', ':PREROUTING ACCEPT', 'Bridge chain: X, entries: 1, policy: RETURN', '-A X -j', '[1:2] -A', ', pcnt = 1 -- bcnt = 2', '-A PREROUTING -i ! -j dnat --to-dst'),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('legacy' as const, 'nft' as const), (lines, backend) => {
        const d = parseEbtables(lines.join('\n'), backend);
        expect(d.backend).toBe(backend);
        for (const t of d.tables) for (const c of t.chains) for (const r of c.rules) expect(typeof r.text).toBe('string');
      }),
      { numRuns: 300 },
    );
  });
});
