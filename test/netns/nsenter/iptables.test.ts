import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../agent/errors.js';
import { hasRules, parseIptablesSave, parseRuleText, tokenizeRule } from '../../../agent/netns/nsenter/iptables.js';
import type { IptablesChain, IptablesDump } from '../../../agent/netns/state.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/iptables/${name}`, import.meta.url), 'utf8');

function chain(d: IptablesDump, table: string, name: string): IptablesChain {
  const c = d.tables.find((t) => t.name === table)?.chains.find((ch) => ch.name === name);
  if (c === undefined) throw new Error(`no chain ${table}/${name}`);
  return c;
}

const EXP = 'web-p_3f2a9c1b7e4d5a_';
const SET = 'set_web-p_1a2b3c4d5e6f7_tgt';

describe('parseIptablesSave on real captures', () => {
  it('reads a Chaos Mesh partition (nft, IPv4): chains, policies, counters, match-sets', () => {
    const d = parseIptablesSave(fixture('chaos-partition-nft-v4.txt'), 'nft', 'ipv4');
    expect(d.errors).toEqual([]);
    expect(d.backend).toBe('nft');
    expect(d.family).toBe('ipv4');
    expect(d.tables.map((t) => t.name)).toEqual(['filter']);
    expect(d.tables[0]!.chains.map((c) => [c.name, c.policy, c.builtin])).toEqual([
      ['INPUT', 'ACCEPT', true],
      ['FORWARD', 'ACCEPT', true],
      ['OUTPUT', 'ACCEPT', true],
      ['CHAOS-INPUT', null, false],
      ['CHAOS-OUTPUT', null, false],
      [`INPUT/${EXP}`, null, false],
      [`OUTPUT/${EXP}`, null, false],
    ]);
    expect(chain(d, 'filter', 'INPUT').counters).toEqual({ packets: 0, bytes: 0 });
    const jump = chain(d, 'filter', 'OUTPUT').rules;
    expect(jump).toHaveLength(1);
    expect(jump[0]).toMatchObject({ text: '-j CHAOS-OUTPUT', target: 'CHAOS-OUTPUT', goto: false, counters: { packets: 340, bytes: 51200 } });

    const out = chain(d, 'filter', `OUTPUT/${EXP}`).rules;
    expect(out).toHaveLength(2);
    expect(out[0]).toEqual({
      text: `-o eth0 -m set --match-set ${SET} dst,dst -j DROP`,
      counters: { packets: 34, bytes: 2040 },
      target: 'DROP',
      goto: false,
      targetOptions: '',
      inInterface: null,
      outInterface: 'eth0',
      protocol: null,
      source: null,
      destination: null,
      dport: null,
      sport: null,
      matchSets: [{ name: SET, flags: 'dst,dst', negated: false }],
      comment: null,
      modules: ['set'],
      negated: [],
    });
    expect(out[1]).toMatchObject({
      counters: { packets: 0, bytes: 0 },
      outInterface: 'eth0',
      protocol: 'tcp',
      dport: '5432',
      modules: ['tcp', 'set'],
      matchSets: [{ name: 'net_delay_0a1b2c3d4e5f60_netgt', flags: 'dst', negated: true }],
      target: 'DROP',
    });
    const inp = chain(d, 'filter', `INPUT/${EXP}`).rules[0]!;
    expect(inp.inInterface).toBe('eth0');
    expect(inp.matchSets).toEqual([{ name: SET, flags: 'src,dst', negated: false }]);
    expect(inp.counters).toEqual({ packets: 12, bytes: 720 });
    expect(hasRules(d)).toBe(true);
  });

  it('reads TC-TABLES CLASSIFY rules with their target options', () => {
    const d = parseIptablesSave(fixture('chaos-tc-tables-nft-v4.txt'), 'nft', 'ipv4');
    expect(d.errors).toEqual([]);
    expect(chain(d, 'filter', 'CHAOS-OUTPUT').rules.map((r) => r.target)).toEqual([`OUTPUT/${EXP}`, 'TC-TABLES-0']);
    const [r] = chain(d, 'filter', 'TC-TABLES-0').rules;
    expect(r).toMatchObject({
      target: 'CLASSIFY',
      targetOptions: '--set-class 0001:0004',
      outInterface: 'eth0',
      matchSets: [{ name: 'net_delay_0a1b2c3d4e5f60_netgt', flags: 'dst', negated: false }],
      counters: { packets: 7, bytes: 420 },
    });
  });

  it('reads a recovered layout (legacy): empty CHAOS chains with jumps, orphaned chains', () => {
    const d = parseIptablesSave(fixture('chaos-recovered-legacy-v4.txt'), 'legacy', 'ipv4');
    expect(d.errors).toEqual([]);
    expect(chain(d, 'filter', 'CHAOS-INPUT').rules).toEqual([]);
    expect(chain(d, 'filter', 'CHAOS-OUTPUT').rules).toEqual([]);
    expect(chain(d, 'filter', 'TC-TABLES-0').rules).toEqual([]);
    expect(chain(d, 'filter', 'INPUT').rules[0]).toMatchObject({ target: 'CHAOS-INPUT', counters: { packets: 5000, bytes: 420000 } });
    expect(chain(d, 'filter', `OUTPUT/${EXP}`).rules[0]).toMatchObject({ target: 'DROP', counters: { packets: 34, bytes: 2040 } });
  });

  it.each(['legacy', 'nft'] as const)('reads the HTTPChaos mangle layout (%s): DIVERT, MARK, TPROXY', (backend) => {
    const d = parseIptablesSave(fixture(`httpchaos-mangle-${backend}-v4.txt`), backend, 'ipv4');
    expect(d.errors).toEqual([]);
    expect(d.tables.map((t) => t.name)).toEqual(['mangle', 'filter']);
    expect(chain(d, 'mangle', 'DIVERT')).toMatchObject({ policy: null, builtin: false });
    const pre = chain(d, 'mangle', 'PREROUTING').rules;
    expect(pre[0]).toMatchObject({ protocol: 'tcp', modules: ['socket'], target: 'DIVERT', counters: { packets: 88, bytes: 10560 } });
    expect(pre[1]).toMatchObject({
      inInterface: 'eth0',
      protocol: 'tcp',
      dport: '80',
      modules: ['tcp'],
      target: 'TPROXY',
      targetOptions: '--on-port 58080 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1',
      counters: { packets: 15, bytes: 900 },
    });
    expect(chain(d, 'mangle', 'DIVERT').rules.map((r) => [r.target, r.targetOptions])).toEqual([
      ['MARK', '--set-xmark 0x1/0xffffffff'],
      ['ACCEPT', ''],
    ]);
    expect(hasRules(d)).toBe(true);
  });

  it('both backends print the HTTPChaos layout identically', () => {
    const a = parseIptablesSave(fixture('httpchaos-mangle-legacy-v4.txt'), 'legacy', 'ipv4');
    const b = parseIptablesSave(fixture('httpchaos-mangle-nft-v4.txt'), 'nft', 'ipv4');
    expect(a.tables).toEqual(b.tables);
  });

  it('reads IPv6 (nft): escaped quotes in comments, multiport, addresses, REJECT options', () => {
    const d = parseIptablesSave(fixture('chaos-partition-nft-v6.txt'), 'nft', 'ipv6');
    expect(d.errors).toEqual([]);
    expect(d.family).toBe('ipv6');
    const [a, b] = chain(d, 'filter', `OUTPUT/${EXP}`).rules;
    expect(a).toMatchObject({
      destination: 'fd00:10:244:2::/64',
      outInterface: 'eth0',
      protocol: 'tcp',
      dport: '80,443',
      modules: ['multiport', 'comment'],
      comment: 'chaos "web" partition',
      target: 'DROP',
    });
    expect(b).toMatchObject({ matchSets: [{ name: 'v6_hosts', flags: 'dst', negated: false }], target: 'REJECT', targetOptions: '--reject-with icmp6-port-unreachable' });
  });

  it('reads IPv6 (legacy): a DROP policy, negated interface, chain counters', () => {
    const d = parseIptablesSave(fixture('host-policy-legacy-v6.txt'), 'legacy', 'ipv6');
    expect(d.errors).toEqual([]);
    expect(chain(d, 'filter', 'FORWARD')).toMatchObject({ policy: 'DROP', builtin: true, rules: [] });
    expect(chain(d, 'filter', 'OUTPUT').counters).toEqual({ packets: 1, bytes: 72 });
    expect(chain(d, 'filter', 'INPUT').rules[0]).toMatchObject({
      source: 'fe80::/10',
      inInterface: 'lo',
      negated: ['inInterface'],
      protocol: 'ipv6-icmp',
      target: 'ACCEPT',
      counters: { packets: 2, bytes: 160 },
    });
  });

  it('reads a kube-proxy / CNI host dump: three tables, goto, sports, DNAT, negated source', () => {
    const d = parseIptablesSave(fixture('kube-proxy-cni-nft-v4.txt'), 'nft', 'ipv4');
    expect(d.errors).toEqual([]);
    expect(d.tables.map((t) => [t.name, t.chains.length, t.chains.reduce((n, c) => n + c.rules.length, 0)])).toEqual([
      ['mangle', 5, 0],
      ['filter', 4, 4],
      ['nat', 10, 14],
    ]);
    const fwd = chain(d, 'filter', 'FORWARD').rules;
    expect(fwd[1]).toMatchObject({ protocol: 'tcp', sport: '1000:2000,3000', target: 'KUBE-FIREWALL', goto: true, modules: ['multiport'] });
    expect(chain(d, 'filter', 'KUBE-FIREWALL').rules[0]).toMatchObject({
      source: '127.0.0.0/8',
      destination: '127.0.0.0/8',
      negated: ['source'],
      comment: 'block incoming localnet connections',
      modules: ['comment', 'conntrack'],
      target: 'DROP',
    });
    const cni = chain(d, 'nat', 'CNI-4a1b2c3d4e5f60718293a4b5').rules;
    expect(cni.map((r) => [r.comment, r.target, r.destination, r.negated])).toEqual([
      ['name: "cbr0" id: "0123456789abcdef"', 'ACCEPT', '10.244.1.0/24', []],
      ['name: "cbr0" id: "0123456789abcdef"', 'MASQUERADE', '224.0.0.0/4', ['destination']],
    ]);
    expect(chain(d, 'nat', 'KUBE-SEP-6E7XQMQ4RAYOWTTM').rules[1]).toMatchObject({ target: 'DNAT', targetOptions: '--to-destination 10.244.0.3:53' });
    expect(chain(d, 'nat', 'KUBE-SERVICES').rules[0]).toMatchObject({
      destination: '10.96.0.10/32',
      protocol: 'udp',
      dport: '53',
      comment: 'kube-system/kube-dns:dns cluster IP',
      counters: { packets: 40, bytes: 2400 },
    });
  });

  it('skips the nft warning and Generated/Completed comments even when stderr was merged in', () => {
    const d = parseIptablesSave(fixture('nft-with-legacy-warning-merged.txt'), 'nft', 'ipv4');
    expect(d.errors).toEqual([]);
    expect(chain(d, 'filter', 'OUTPUT').rules.map((r) => r.text)).toEqual(['-o eth0 -j ACCEPT']);
  });
});

describe('parseIptablesSave on hand-made text', () => {
  it('keeps every readable line and reports each bad one with its 1-based line number', () => {
    const text = [
      '*filter', // 1
      ':INPUT ACCEPT [1:2]', // 2
      'garbage here', // 3
      ':CHAOS-OUTPUT - [0:0]', // 4
      '[3:4] -A INPUT -j CHAOS-OUTPUT', // 5
      '[x:4] -A INPUT -j DROP', // 6
      '[0:0] -A INPUT -m comment --comment "never closed -j DROP', // 7
      '[5:6] -A UNDECLARED -j DROP', // 8
      '[7:8] -A CHAOS-OUTPUT -o eth0 -j DROP', // 9
      'COMMIT', // 10
    ].join('\n');
    const d = parseIptablesSave(text, 'legacy', 'ipv4');
    expect(d.errors.map((e) => e.line)).toEqual([3, 6, 7, 8]);
    for (const e of d.errors) expect(e).toBeInstanceOf(ParseError);
    expect(d.errors[0]!.text).toBe('garbage here');
    expect(chain(d, 'filter', 'INPUT').rules.map((r) => r.target)).toEqual(['CHAOS-OUTPUT', null]);
    expect(chain(d, 'filter', 'INPUT').rules[1]!.modules).toEqual(['comment']);
    expect(chain(d, 'filter', 'UNDECLARED').rules[0]).toMatchObject({ target: 'DROP', counters: { packets: 5, bytes: 6 } });
    expect(chain(d, 'filter', 'CHAOS-OUTPUT').rules[0]).toMatchObject({ outInterface: 'eth0', counters: { packets: 7, bytes: 8 } });
  });

  it('reads output without -c (no counters), CRLF line ends, and reports a table cut off before COMMIT', () => {
    const d = parseIptablesSave('*nat\r\n:POSTROUTING ACCEPT\r\n-A POSTROUTING -o eth0 -j MASQUERADE\r\n', 'nft', 'ipv4');
    expect(d.errors.map((e) => [e.line, e.message])).toEqual([[1, 'iptables-save: line 1: table nat has no COMMIT (end of output)']]);
    expect(chain(d, 'nat', 'POSTROUTING')).toMatchObject({ policy: 'ACCEPT', counters: null });
    expect(chain(d, 'nat', 'POSTROUTING').rules[0]).toMatchObject({ counters: null, outInterface: 'eth0', target: 'MASQUERADE' });
  });

  it('reports rules outside a table and empty output as nothing', () => {
    expect(parseIptablesSave('', 'nft', 'ipv4')).toEqual({ backend: 'nft', family: 'ipv4', tables: [], errors: [] });
    const d = parseIptablesSave('-A INPUT -j DROP\n', 'nft', 'ipv4');
    expect(d.errors.map((e) => e.line)).toEqual([1]);
    expect(d.tables).toEqual([]);
  });

  it('hasRules: false for empty tables with ACCEPT policies, true for a DROP policy alone', () => {
    const empty = '*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
    expect(hasRules(parseIptablesSave(empty, 'legacy', 'ipv4'))).toBe(false);
    expect(hasRules(parseIptablesSave(empty.replace('OUTPUT ACCEPT', 'OUTPUT DROP'), 'legacy', 'ipv4'))).toBe(true);
    // Empty user chains alone change nothing.
    expect(hasRules(parseIptablesSave('*filter\n:CHAOS-INPUT - [0:0]\nCOMMIT\n', 'nft', 'ipv4'))).toBe(false);
  });

  it('tokenizer: quotes start mid-word, escapes, negation and match-set flags', () => {
    const { tokens, error } = tokenizeRule('-m comment --comment "a \\"b\\" \\\\c" ! -i lo');
    expect(error).toBeNull();
    expect(tokens.map((t) => t.value)).toEqual(['-m', 'comment', '--comment', 'a "b" \\c', '!', '-i', 'lo']);
    expect(tokenizeRule('--comment "open').error).toBe('unterminated quote at column 11');
    const { rule } = parseRuleText('! -p udp -m set ! --match-set s1 src,dst -m set --match-set s2 dst -g X');
    expect(rule).toMatchObject({
      protocol: 'udp',
      negated: ['protocol'],
      matchSets: [
        { name: 's1', flags: 'src,dst', negated: true },
        { name: 's2', flags: 'dst', negated: false },
      ],
      target: 'X',
      goto: true,
    });
  });
});

describe('parseIptablesSave properties', () => {
  it('never throws on arbitrary text; every error is a ParseError with a line inside the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const d = parseIptablesSave(s, 'nft', 'ipv4');
        const lines = s.split('\n').length;
        for (const e of d.errors) {
          expect(e).toBeInstanceOf(ParseError);
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.line).toBeLessThanOrEqual(lines);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on line soup made of iptables-save fragments', () => {
    const frag = fc.constantFrom('*filter', '*nat', 'COMMIT', ':INPUT ACCEPT [1:2]', ':X - [0:0]', ':Y', '[1:2] -A X -j DROP', '-A INPUT -i "eth0', '-A', '[', '[:] -A X', '# c', '! -m set --match-set', '');
    fc.assert(
      fc.property(fc.array(fc.oneof(frag, fc.string({ maxLength: 30 })), { maxLength: 40 }), (lines) => {
        const d = parseIptablesSave(lines.join('\n'), 'legacy', 'ipv6');
        for (const e of d.errors) expect(e).toBeInstanceOf(ParseError);
      }),
      { numRuns: 300 },
    );
  });

  it('one garbage line anywhere loses nothing else and is reported at its line', () => {
    const base = fixture('kube-proxy-cni-nft-v4.txt').split('\n');
    const clean = parseIptablesSave(base.join('\n'), 'nft', 'ipv4');
    const garbage = fc.string({ minLength: 1, maxLength: 40 }).filter((g) => {
      const t = g.trim();
      return t.length > 0 && !/[\n\r]/.test(g) && !/^[*:#[-]/.test(t) && t !== 'COMMIT';
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: base.length - 1 }), garbage, (at, g) => {
        const lines = [...base.slice(0, at), g, ...base.slice(at)];
        const d = parseIptablesSave(lines.join('\n'), 'nft', 'ipv4');
        expect(d.tables).toEqual(clean.tables);
        expect(d.errors.map((e) => e.line)).toEqual([at + 1]);
      }),
      { numRuns: 200 },
    );
  });

  it('parses a 5,000-rule dump completely (its speed is measured by npm run bench, not here)', () => {
    const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':CHAOS-OUTPUT - [0:0]'];
    for (let i = 0; i < 5000; i++) {
      lines.push(`[${i}:${i * 60}] -A CHAOS-OUTPUT -o eth0 -p tcp -m tcp --dport ${i % 65535} -m set --match-set set_${i} dst,dst -m comment --comment "rule ${i}" -j DROP`);
    }
    lines.push('COMMIT');
    const text = lines.join('\n');
    const d = parseIptablesSave(text, 'nft', 'ipv4');
    expect(d.errors).toEqual([]);
    expect(chain(d, 'filter', 'CHAOS-OUTPUT').rules).toHaveLength(5000);
    expect(chain(d, 'filter', 'CHAOS-OUTPUT').rules[4999]).toMatchObject({ dport: '4999', comment: 'rule 4999', counters: { packets: 4999, bytes: 299940 } });
  });
});

describeIntegration('parseIptablesSave against real iptables-save of both backends', { root: true, commands: ['ip', 'iptables-legacy-save', 'iptables-nft-save', 'ip6tables-nft-save'] }, () => {
  afterAll(async () => {
    await destroyAll();
  });

  it('reads what the kernel holds, per backend and family', async () => {
    const ns = await createNetns('h3ipt');
    await ns.exec(['iptables-nft', '-N', 'CHAOS-OUTPUT']);
    await ns.exec(['iptables-nft', '-c', '9', '99', '-A', 'OUTPUT', '-j', 'CHAOS-OUTPUT']);
    await ns.exec(['iptables-nft', '-A', 'CHAOS-OUTPUT', '-o', 'lo', '-m', 'comment', '--comment', 'x "y"', '-j', 'DROP']);
    await ns.exec(['iptables-legacy', '-P', 'FORWARD', 'DROP']);
    await ns.exec(['ip6tables-nft', '-A', 'INPUT', '!', '-i', 'lo', '-j', 'ACCEPT']);
    const nft = parseIptablesSave((await ns.exec(['iptables-nft-save', '-c'])).stdout, 'nft', 'ipv4');
    const legacy = parseIptablesSave((await ns.exec(['iptables-legacy-save', '-c'])).stdout, 'legacy', 'ipv4');
    const nft6 = parseIptablesSave((await ns.exec(['ip6tables-nft-save', '-c'])).stdout, 'nft', 'ipv6');
    for (const d of [nft, legacy, nft6]) expect(d.errors).toEqual([]);
    expect(chain(nft, 'filter', 'OUTPUT').rules[0]).toMatchObject({ target: 'CHAOS-OUTPUT', counters: { packets: 9, bytes: 99 } });
    expect(chain(nft, 'filter', 'CHAOS-OUTPUT').rules[0]).toMatchObject({ outInterface: 'lo', comment: 'x "y"', target: 'DROP' });
    expect(chain(legacy, 'filter', 'FORWARD').policy).toBe('DROP');
    expect(hasRules(legacy)).toBe(true);
    expect(chain(nft6, 'filter', 'INPUT').rules[0]).toMatchObject({ inInterface: 'lo', negated: ['inInterface'], target: 'ACCEPT' });
    await ns.destroy();
  });
});
