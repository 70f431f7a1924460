import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../agent/errors.js';
import type { NftExpr } from '../../../../agent/netns/model/nftables.js';
import { encodeAttr, encodeStrAttr } from '../../../../agent/netns/netlink/nfnl/nfgen.js';
import { decodeChain } from '../../../../agent/netns/netlink/nfnl/nft-chain.js';
import { decodeRuleset } from '../../../../agent/netns/netlink/nfnl/nft-dump.js';
import { decodeExpr } from '../../../../agent/netns/netlink/nfnl/nft-expr/index.js';
import { decodeGen } from '../../../../agent/netns/netlink/nfnl/nft-gen.js';
import { decodeRule, userdataComment } from '../../../../agent/netns/netlink/nfnl/nft-rule.js';
import { decodeTable } from '../../../../agent/netns/netlink/nfnl/nft-table.js';
import { fixtureMessages } from './fixtures.js';

const corpus = decodeRuleset({
  tables: fixtureMessages('nft/corpus.tables.nlmsg'),
  chains: fixtureMessages('nft/corpus.chains.nlmsg'),
  rules: fixtureMessages('nft/corpus.rules.nlmsg'),
});
const native = (chain: string, comment: string | null, nth = 0): NftExpr[] =>
  corpus.rules.filter((r) => r.family === 'inet' && r.chain === chain && r.comment === comment)[nth]!.expressions;
const xtRule = (chain: string, pred: (e: NftExpr[]) => boolean): NftExpr[] => corpus.rules.find((r) => r.family === 'ip' && r.chain === chain && pred(r.expressions))!.expressions;

describe('nf_tables messages captured on this machine', () => {
  it('NFT_MSG_NEWGEN carries the generation id', () => {
    const [gen] = fixtureMessages('nft/corpus.gen.nlmsg');
    expect(gen!.type).toBe((10 << 8) | 15);
    expect(decodeGen(gen!.payload)).toBeGreaterThan(0);
  });

  it('tables of every family, in kernel order, with handles', () => {
    expect(corpus.decodeErrors).toEqual([]);
    expect(corpus.tables.map((t) => `${t.family} ${t.name}`)).toEqual([
      'ip filter', 'ip6 filter', 'inet chaos_native', 'bridge br_native', 'netdev nd_native', 'ip chaos_ip4', 'arp arp_t',
    ]);
    expect(corpus.tables.every((t) => t.handle > 0)).toBe(true);
  });

  it('base chains with hook, priority, policy, type, devices; regular chains without', () => {
    const c = (family: string, name: string) => corpus.chains.find((x) => x.family === family && x.name === name)!;
    expect(c('inet', 'input')).toMatchObject({ hooknum: 1, hook: 'input', priority: 0, policy: 1, type: 'filter', devices: [] });
    expect(c('inet', 'raw')).toMatchObject({ hook: 'prerouting', priority: -300 });
    expect(c('inet', 'nat_out')).toMatchObject({ hook: 'output', priority: -100, type: 'nat' });
    expect(c('bridge', 'brfwd')).toMatchObject({ hook: 'forward', policy: 0 });
    expect(c('netdev', 'ingress')).toMatchObject({ hook: 'ingress', devices: ['eth0'] });
    expect(c('arp', 'in')).toMatchObject({ hook: 'input', priority: 0 });
    expect(c('inet', 'user')).toMatchObject({ hooknum: null, hook: null, priority: null, policy: null, type: null });
    expect(c('ip', 'INPUT')).toMatchObject({ table: 'filter', hooknum: 1, priority: 0, type: 'filter' });
  });

  it('rules: handles, userdata comments; the kernel does not dump NFTA_RULE_COMPAT', () => {
    const withComment = corpus.rules.filter((r) => r.family === 'inet' && r.comment !== null).map((r) => r.comment);
    expect(withComment).toEqual(['ct', 'lookup', 'range', 'limit', 'log', 'reject', 'socket', 'tproxy', 'redirect', 'dnat', 'masquerade', 'notrack', 'counter']);
    expect(corpus.rules.filter((r) => r.family === 'inet').map((r) => r.handle)).toEqual([8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
    expect(corpus.rules.every((r) => r.compat === null && !r.badUserdata)).toBe(true);
  });
});

describe('one decoder per expression, on captured bytes', () => {
  it('meta, cmp, payload, bitwise, immediate, counter, lookup', () => {
    expect(native('input', 'lookup')).toEqual([
      { kind: 'meta', key: 'l4proto', dreg: 1, sreg: null },
      { kind: 'cmp', sreg: 1, op: 'eq', data: '06' },
      { kind: 'payload', base: 'transport', offset: 2, len: 2, dreg: 1, sreg: null, csumType: null, csumOffset: null, csumFlags: null },
      { kind: 'lookup', set: '__set0', sreg: 1, dreg: null, setId: null, invert: false },
      { kind: 'counter', packets: 0, bytes: 0 },
      { kind: 'immediate', dreg: 0, data: { verdict: { code: 'accept' } } },
    ]);
    expect(native('user', 'counter')).toEqual([{ kind: 'counter', packets: 7, bytes: 700 }]);
    expect(native('input', 'range').slice(3, 5)).toEqual([
      { kind: 'cmp', sreg: 1, op: 'gte', data: '03e8' },
      { kind: 'cmp', sreg: 1, op: 'lte', data: '07d0' },
    ]);
  });

  it('ct with its bitwise mask, limit, log, reject (icmpx and tcp reset)', () => {
    expect(native('input', 'ct').slice(0, 2)).toEqual([
      { kind: 'ct', key: 'state', dreg: 1, sreg: null, direction: null },
      { kind: 'bitwise', sreg: 1, dreg: 1, len: 4, op: 'mask-xor', mask: '06000000', xor: '00000000', shift: null },
    ]);
    expect(native('input', 'limit')[0]).toEqual({ kind: 'limit', rate: 10, unit: 1, burst: 5, type: 'pkts', invert: false });
    expect(native('input', 'log')).toEqual([{ kind: 'log', group: 2, prefix: 'nft: ', snaplen: null, qthreshold: null, level: null, flags: null }]);
    expect(native('input', 'reject').at(-1)).toEqual({ kind: 'reject', type: 'icmpx', code: 1 });
    expect(native('input', null, 1).at(-1)).toEqual({ kind: 'reject', type: 'tcp-rst', code: null });
  });

  it('socket, meta set, tproxy, redir, nat, masq, notrack', () => {
    const socket = native('pre', 'socket');
    expect(socket[2]).toEqual({ kind: 'socket', key: 'transparent', dreg: 1, level: null });
    expect(socket.find((e) => e.kind === 'meta' && e.sreg !== null)).toEqual({ kind: 'meta', key: 'mark', dreg: null, sreg: 1 });
    expect(native('pre', 'tproxy').at(-1)).toEqual({ kind: 'tproxy', family: 2, addr: 1, port: 2 });
    expect(native('nat_out', 'redirect').at(-1)).toEqual({ kind: 'redir', protoMin: 1, protoMax: 1, flags: 2 });
    expect(native('nat_out', 'dnat').at(-1)).toEqual({ kind: 'nat', type: 'dnat', family: 2, addrMin: 1, addrMax: 1, protoMin: 2, protoMax: 2, flags: 3 });
    expect(native('post', 'masquerade').at(-1)).toEqual({ kind: 'masq', protoMin: null, protoMax: null, flags: null });
    expect(native('raw', 'notrack').at(-1)).toEqual({ kind: 'notrack' });
  });

  it('iptables-nft\'s compat match / target and port range', () => {
    const log = xtRule('OUTPUT', (x) => x.some((e) => e.kind === 'target'));
    expect(log.find((e) => e.kind === 'target')).toMatchObject({ kind: 'target', name: 'LOG', revision: 0 });
    expect(log.find((e) => e.kind === 'match')).toBeUndefined();
    const sport = xtRule('OUTPUT', (x) => x.some((e) => e.kind === 'range'));
    expect(sport.find((e) => e.kind === 'range')).toEqual({ kind: 'range', sreg: 1, op: 'eq', from: '03e8', to: '07d0' });
  });

  it('queue (not loadable on this kernel): bytes built field by field from nf_tables.h', () => {
    const data = Buffer.concat([
      encodeAttr(1, Buffer.from([0, 3])), // NFTA_QUEUE_NUM be16
      encodeAttr(2, Buffer.from([0, 2])), // NFTA_QUEUE_TOTAL be16
      encodeAttr(3, Buffer.from([0, 1])), // NFTA_QUEUE_FLAGS be16: NFT_QUEUE_FLAG_BYPASS
    ]);
    const elem = Buffer.concat([encodeStrAttr(1, 'queue'), encodeAttr(2, data, true)]);
    expect(decodeExpr(elem)).toEqual({ kind: 'queue', num: 3, total: 2, flags: 1, sregQnum: null });
    expect(decodeExpr(Buffer.concat([encodeStrAttr(1, 'fib'), encodeAttr(2, Buffer.from([8, 0, 1, 0, 0, 0, 0, 1]), true)])))
      .toEqual({ kind: 'unknown', name: 'fib', raw: '0800010000000001' });
  });
});

describe('rule userdata: libnftnl TLVs', () => {
  it('reads the NUL-terminated comment (type 0) among other TLVs; a malformed list is flagged', () => {
    expect(userdataComment(Buffer.from([1, 1, 9, 0, 3, 0x61, 0x62, 0]))).toEqual({ comment: 'ab', bad: false });
    expect(userdataComment(Buffer.from([0, 2, 0x61, 0x62]))).toEqual({ comment: null, bad: true });
    expect(userdataComment(Buffer.from([0, 9, 0x61]))).toEqual({ comment: null, bad: true });
    expect(userdataComment(Buffer.alloc(0))).toEqual({ comment: null, bad: false });
  });
});

describe('decoders are total: arbitrary or damaged bytes give a result or a DecodeError', () => {
  const total = (f: () => unknown): void => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
    }
  };
  const captured = fixtureMessages('nft/corpus.rules.nlmsg').map((m) => m.payload);

  it('arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const b = Buffer.from(bytes);
      for (const f of [decodeExpr, decodeTable, decodeChain, decodeRule, decodeGen, userdataComment]) total(() => f(b));
    }), { numRuns: 2000 });
  });

  it('captured rule messages with bytes overwritten or cut', () => {
    fc.assert(fc.property(
      fc.constantFrom(...captured),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat()),
      (payload, edits, cut) => {
        const b = Buffer.from(payload);
        for (const [at, v] of edits) b[at % b.length] = v;
        total(() => decodeRule(cut === null ? b : b.subarray(0, cut % (b.length + 1))));
      },
    ), { numRuns: 3000 });
  });
});
