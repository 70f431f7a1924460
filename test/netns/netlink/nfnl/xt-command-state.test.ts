import { describe, expect, it } from 'vitest';
import type { IpFamily } from '../../../../agent/netns/model/iptables.js';
import type { NftExpr } from '../../../../agent/netns/model/nftables.js';
import { renderRule } from '../../../../agent/netns/netlink/nfnl/iptables-nft.js';

/** Expression builders in the shapes the decoders produce (register numbers as iptables-nft uses them). */
const meta = (key: string, dreg = 1): NftExpr => ({ kind: 'meta', key, dreg, sreg: null });
const cmp = (data: string, op: 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' = 'eq', sreg = 1): NftExpr => ({ kind: 'cmp', sreg, op, data });
const payload = (base: 'network' | 'transport' | 'll', offset: number, len: number, dreg = 1): NftExpr => ({
  kind: 'payload', base, offset, len, dreg, sreg: null, csumType: null, csumOffset: null, csumFlags: null,
});
const bitwise = (mask: string, xor = '0'.repeat(mask.length)): NftExpr => ({ kind: 'bitwise', sreg: 1, dreg: 1, len: mask.length / 2, op: 'mask-xor', mask, xor, shift: null });
const verdict = (code: string, chain?: string): NftExpr => ({ kind: 'immediate', dreg: 0, data: { verdict: chain === undefined ? { code } : { code, chain } } });
const counter = (packets: number, bytes: number): NftExpr => ({ kind: 'counter', packets, bytes });
const hexs = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const tcp: NftExpr[] = [meta('l4proto'), cmp('06')];

function render(exprs: NftExpr[], opts: { family?: IpFamily; comment?: string } = {}) {
  const family = opts.family ?? 'ipv4';
  return renderRule(family, {
    family: family === 'ipv4' ? 'ip' : 'ip6', table: 'filter', chain: 'INPUT', handle: 1, position: null,
    expressions: exprs, compat: null, comment: opts.comment ?? null, badUserdata: false,
  }, { setName: () => null });
}

describe('iptables-nft command state: the text iptables-nft-save 1.8.9 prints', () => {
  it('interfaces: exact names, `+` prefixes, and `! -i +` from the impossible name INVAL/D', () => {
    expect(render([meta('iifname'), cmp(hexs('eth0\0')), verdict('accept')]).text).toBe('-i eth0 -j ACCEPT');
    expect(render([meta('oifname'), cmp(hexs('veth'), 'neq')]).text).toBe('! -o veth+');
    expect(render([meta('iifname'), cmp(hexs('INVAL/D\0'))]).text).toBe('! -i +');
    expect(render([meta('iifname'), cmp(hexs('abcdefghijklmno'))]).opaque).toEqual([expect.stringContaining('iptables cannot print')]);
  });

  it('addresses: prefix from the payload length, mask from bitwise (contiguous or not), inversion', () => {
    expect(render([payload('network', 12, 2), cmp('0a01'), verdict('drop')]).text).toBe('-s 10.1.0.0/16 -j DROP');
    expect(render([payload('network', 16, 4), bitwise('ffff0000'), cmp('0a010000', 'neq')]).text).toBe('! -d 10.1.0.0/16');
    expect(render([payload('network', 12, 4), bitwise('ff00ff00'), cmp('01000300')]).text).toBe('-s 1.0.3.0/255.0.255.0');
    expect(render([payload('network', 8, 8), cmp('20010db800000000')], { family: 'ipv6' }).text).toBe('-s 2001:db8::/64');
    expect(render([payload('network', 24, 16), cmp('ff020000000000000000000000000001')], { family: 'ipv6' }).text).toBe('-d ff02::1/128');
  });

  it('protocol, fragments, ports with every comparison iptables-nft reads back', () => {
    expect(render([meta('l4proto'), cmp('2f', 'neq')]).text).toBe('! -p gre');
    expect(render([payload('network', 6, 2), bitwise('ff1f'), cmp('0000', 'neq')]).text).toBe('-f');
    expect(render([payload('network', 6, 2), bitwise('ff1f'), cmp('0000', 'eq')]).text).toBe('! -f');
    expect(render([...tcp, payload('transport', 2, 2), cmp('03e8', 'lt')]).text).toBe('-p tcp -m tcp --dport 0:999');
    expect(render([...tcp, payload('transport', 2, 2), cmp('03e8', 'lte')]).text).toBe('-p tcp -m tcp --dport 0:1000');
    expect(render([...tcp, payload('transport', 2, 2), cmp('03e8', 'gt')]).text).toBe('-p tcp -m tcp --dport 1001:65535');
    expect(render([...tcp, payload('transport', 0, 2), cmp('03e8', 'gte')]).text).toBe('-p tcp -m tcp --sport 1000:65535');
    expect(render([...tcp, payload('transport', 0, 4), cmp('00010002', 'neq')]).text).toBe('-p tcp -m tcp ! --sport 1 ! --dport 2');
    expect(render([meta('l4proto'), cmp('11'), payload('transport', 0, 2), { kind: 'range', sreg: 1, op: 'neq', from: '0400', to: '0800' }]).text)
      .toBe('-p udp -m udp ! --sport 1024:2048');
    expect(render([...tcp, payload('transport', 13, 1), bitwise('12'), cmp('02', 'neq')]).text).toBe('-p tcp -m tcp ! --tcp-flags SYN,ACK SYN');
  });

  it('native mark, limit, icmp, pkttype, NFLOG, verdicts, TRACE, counters and the userdata comment (printed last)', () => {
    expect(render([meta('mark'), bitwise('ff000000'), cmp('10000000', 'neq'), verdict('return')]).text).toBe('-m mark ! --mark 0x10/0xff -j RETURN');
    expect(render([{ kind: 'limit', rate: 3, unit: 60, burst: 5, type: 'pkts', invert: false }]).text).toBe('-m limit --limit 3/min');
    expect(render([meta('l4proto'), cmp('01'), payload('transport', 0, 1), cmp('08')]).text).toBe('-p icmp -m icmp --icmp-type 8');
    expect(render([meta('pkttype'), cmp('01')]).text).toBe('-m pkttype --pkt-type broadcast');
    expect(render([verdict('goto', 'X')]).text).toBe('-g X');
    expect(render([verdict('jump', 'X')]).text).toBe('-j X');
    expect(render([{ kind: 'immediate', dreg: 1, data: { value: '01' } }, { kind: 'meta', key: 'nftrace', dreg: null, sreg: 1 }]).text).toBe('-j TRACE');
    expect(render([{ kind: 'log', group: 5, prefix: 'nf log', snaplen: 128, qthreshold: 3, level: null, flags: null }]).text)
      .toBe('-j NFLOG --nflog-prefix "nf log" --nflog-group 5 --nflog-size 128 --nflog-threshold 3');
    expect(render([{ kind: 'log', group: null, prefix: 'x', snaplen: null, qthreshold: null, level: 4, flags: null }]).opaque).toEqual(['log without a group (iptables-nft calls the table incompatible)']);
    const r = render([counter(5, 300), meta('iifname'), cmp(hexs('lo\0')), verdict('drop')], { comment: 'a "b" #c' });
    expect([r.text, r.counters, r.comment, r.opaque]).toEqual(['-i lo -m comment --comment "a \\"b\\" #c" -j DROP', { packets: 5, bytes: 300 }, 'a "b" #c', undefined]);
  });

  it('NFT_REG32_* registers alias iptables\' slots (REG32_05 is NFT_REG_2\'s slot, REG32_00 is NFT_REG_1\'s neighbour)', () => {
    expect(render([payload('network', 12, 4, 13), cmp('0a000001', 'eq', 2)]).text).toBe('-s 10.0.0.1/32');
    expect(render([payload('network', 12, 4, 8), cmp('0a000001', 'eq', 1)]).opaque).toEqual(['cmp on a register holding nothing']);
  });

  it('marks opaque, with a reason, what iptables-nft would refuse, ignore or print wrongly', () => {
    const reasons = (exprs: NftExpr[], family: IpFamily = 'ipv4') => render(exprs, { family }).opaque ?? [];
    expect(reasons([payload('network', 12, 4), { kind: 'lookup', set: 's', sreg: 1, dreg: null, setId: null, invert: false }])[0]).toMatch(/lookup in set s/);
    expect(reasons([{ kind: 'ct', key: 'state', dreg: 1, sreg: null, direction: null }])[0]).toMatch(/expression ct/);
    expect(reasons([{ kind: 'unknown', name: 'fib', raw: '' }])[0]).toMatch(/expression fib/);
    expect(reasons([verdict('accept'), verdict('drop')])).toEqual(['more than one verdict or target']);
    expect(reasons([verdict('continue')])).toEqual(['verdict continue']);
    expect(reasons([meta('iif'), cmp('02000000')])).toEqual(['meta iif']);
    expect(reasons([payload('network', 8, 1), cmp('40')])).toEqual(['network header offset 8']);
    expect(reasons([payload('network', 12, 4), bitwise('ffffff00', '00000001'), cmp('0a000000')])[0]).toMatch(/non-zero xor/);
    expect(reasons([meta('l4proto'), cmp('06', 'lt')])).toEqual(['meta l4proto compared with lt']);
    expect(reasons([payload('transport', 2, 2), cmp('0050')])).toEqual(['transport header of protocol 0']);
    expect(reasons([meta('l4proto'), cmp('3a'), payload('transport', 1, 1), cmp('00')], 'ipv6')).toEqual(['icmp6 code without a type']);
    expect(reasons([{ kind: 'limit', rate: 0, unit: 1, burst: 5, type: 'pkts', invert: false }])).toEqual(['limit with rate 0']);
    expect(reasons([{ kind: 'limit', rate: 1, unit: 1, burst: 5, type: 'bytes', invert: false }])[0]).toMatch(/incompatible/);
    expect(reasons([payload('ll', 0, 6), cmp('000000000000')])[0]).toMatch(/ll header bytes/);
    expect(reasons([{ kind: 'match', name: 'nosuchmatch', revision: 0, info: '' }])[0]).toMatch(/nosuchmatch/);
    expect(reasons([meta('iifname'), cmp(hexs('a\0')), meta('iifname'), cmp(hexs('b\0'))])).toEqual(['in interface matched twice']);
  });
});
