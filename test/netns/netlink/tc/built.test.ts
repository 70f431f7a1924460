/**
 * tc decoders on messages built field by field from the uapi structs, for what this kernel cannot create (netem,
 * prio, sfq, basic filters with ematches, eBPF filters, 64-bit rates), checked against the tools reader's parse of
 * tc output for the same objects (the hand-written fixtures follow iproute2 6.1's print code).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Qdisc } from '../../../../agent/netns/model/tc.js';
import { decodeClass } from '../../../../agent/netns/netlink/tc/class.js';
import { decodeFilter } from '../../../../agent/netns/netlink/tc/filter.js';
import { decodeNetem } from '../../../../agent/netns/netlink/tc/netem.js';
import { DEFAULT_PSCHED, parsePsched, printG, tickToTime, xmitSize } from '../../../../agent/netns/netlink/tc/psched.js';
import { decodeQdisc } from '../../../../agent/netns/netlink/tc/qdisc.js';
import { parseTcFilters, parseTcQdiscs } from '../../../../agent/netns/nsenter/tc.js';
import { hexLines, withoutOptions } from '../fixtures.js';
import { filterInfo, nla, pct, ratespec, s32, s64, stats2, str, tcMessage, u32, u64 } from './build.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/tc/${name}`, import.meta.url), 'utf8');
const ifname = (ix: number): string => ({ 1: 'lo', 2: 'eth0', 3: 'eth1' })[ix] ?? `if${ix}`;
const UINT32_MAX = 0xffffffff;
const TICKS_PER_US = 15.625;
const H = (maj: number, min = 0): number => ((maj << 16) | min) >>> 0;
const ROOT = 0xffffffff;

interface NetemSpec {
  limit: number;
  delayUs?: number;
  jitterUs?: number;
  corr?: [number, number, number];
  loss?: number;
  duplicate?: number;
  gap?: number;
  reorder?: [number, number];
  corrupt?: [number, number];
  rate?: number;
  rate64?: bigint;
  ecn?: boolean;
  gi?: [number, number, number, number, number];
  ge?: [number, number, number, number];
  slot?: { min: bigint; max: bigint; packets: number; bytes: number; distDelay?: bigint; distJitter?: bigint };
  /** Leave out LATENCY64 / JITTER64 (a kernel before 4.15): the 32-bit tick values are all there is. */
  no64?: boolean;
}

/** netem's TCA_OPTIONS in the order sch_netem.c netem_dump writes it. */
function netemOptions(n: NetemSpec): Buffer {
  const ticks = (us: number | undefined): number => Math.round((us ?? 0) * TICKS_PER_US);
  const parts = [u32(ticks(n.delayUs), n.limit, n.loss ?? 0, n.gap ?? 0, n.duplicate ?? 0, ticks(n.jitterUs))];
  if (!n.no64) parts.push(nla(10, s64(BigInt((n.delayUs ?? 0) * 1000))), nla(11, s64(BigInt((n.jitterUs ?? 0) * 1000))));
  parts.push(nla(1, u32(...(n.corr ?? [0, 0, 0]))), nla(3, u32(...(n.reorder ?? [0, 0]))), nla(4, u32(...(n.corrupt ?? [0, 0]))));
  if (n.rate64 !== undefined) parts.push(nla(8, u64(n.rate64)));
  parts.push(nla(6, Buffer.concat([u32(n.rate ?? 0), s32(0), u32(0), s32(0)])));
  if (n.ecn) parts.push(nla(7, u32(1)));
  if (n.gi) parts.push(nla(5, nla(1, u32(...n.gi))));
  if (n.ge) parts.push(nla(5, nla(2, u32(...n.ge))));
  if (n.slot) {
    const s = n.slot;
    parts.push(nla(12, Buffer.concat([s64(s.min), s64(s.max), s32(s.packets, s.bytes), s64(s.distDelay ?? 0n), s64(s.distJitter ?? 0n)])));
  }
  parts.push(nla(14, u64(0x1234_5678_9abc_def0n)));
  return Buffer.concat(parts);
}

const prioOptions = (bands: number, priomap: number[]): Buffer => Buffer.concat([s32(bands), Buffer.from(priomap)]);
/** struct tc_sfq_qopt_v1: v0 (quantum, perturb, limit, divisor, flows), depth, headdrop, red limit (0), `red` = [qth_min, qth_max, Wlog, max_P], stats. */
const sfqV1 = (v: { quantum: number; limit: number; divisor: number; flows: number; depth: number; perturb?: number; headdrop?: number; red?: [number, number, number, number] }): Buffer =>
  Buffer.concat([
    u32(v.quantum), s32(v.perturb ?? 0), u32(v.limit, v.divisor, v.flows, v.depth, v.headdrop ?? 0, 0, v.red?.[0] ?? 0, v.red?.[1] ?? 0),
    Buffer.from([v.red?.[2] ?? 0, 0, 0, 0]), u32(v.red?.[3] ?? 0), Buffer.alloc(24),
  ]);
/** tbf's TCA_OPTIONS: TCA_TBF_PARMS (tc_tbf_qopt with buffer/mtu in ticks) and the 64-bit rates when given. */
function tbfOptions(t: { rate: number; burst: number; limit: number; peak?: number; mtu?: number; rate64?: bigint; prate64?: bigint }): Buffer {
  const rate = t.rate64 !== undefined ? Number(t.rate64) : t.rate;
  const buffer = Math.round((t.burst / rate) * 1e6 * TICKS_PER_US);
  const mtu = t.peak ? Math.round(((t.mtu ?? 0) / (t.prate64 !== undefined ? Number(t.prate64) : t.peak)) * 1e6 * TICKS_PER_US) : 0;
  const parms = Buffer.concat([ratespec(Math.min(rate, UINT32_MAX)), ratespec(Math.min(t.peak ?? 0, UINT32_MAX)), u32(t.limit, buffer, mtu)]);
  const parts = [nla(1, parms)];
  if (t.rate64 !== undefined) parts.push(nla(4, u64(t.rate64)));
  if (t.prate64 !== undefined) parts.push(nla(5, u64(t.prate64)));
  return Buffer.concat(parts);
}

const statsOf = (q: Qdisc) => stats2(q.stats!);
const toolsQdiscs = (name: string): Qdisc[] => {
  const r = parseTcQdiscs(fixture(name));
  expect(r.errors).toEqual([]);
  return r.qdiscs;
};
const decoded = (payload: Buffer): Qdisc => decodeQdisc(payload, ifname);

describe('psched conversions as iproute2 does them', () => {
  it('reads /proc/net/psched like tc_core_init, and this machine has the kernel-wide default', () => {
    expect(parsePsched('000003e8 00000040 000f4240 3b9aca00\n')).toEqual({ tickInUsec: 15.625, clockFactor: 1 });
    expect(parsePsched(readFileSync('/proc/net/psched', 'utf8'))).toEqual(DEFAULT_PSCHED);
    // clock_res of 1e9: iproute2's compatibility hack takes t2us as us2t (1 tick per usec * 1000).
    expect(parsePsched('000003e8 00000040 3b9aca00 3b9aca00')).toEqual({ tickInUsec: 1000, clockFactor: 1000 });
    expect(parsePsched('garbage')).toBeNull();
  });

  it('truncates as C does, and prints floats with %g precision', () => {
    expect(tickToTime(160000)).toBe(10240);
    expect(tickToTime(23)).toBe(1); // 1.472 us
    expect(xmitSize(125000, 1280000)).toBe(10240);
    expect(xmitSize(3000, 1000)).toBe(0); // 64 us at 3000 B/s = 0.19 B
    expect([printG(0.123456789), printG(1234567), printG(0.05), printG(0)]).toEqual([0.123457, 1234570, 0.05, 0]);
  });
});

describe('netem (every field, from struct tc_netem_qopt and the TCA_NETEM_* attributes)', () => {
  it('the Chaos Mesh chain: every field as tc prints it, and the same qdisc as the tools reader parses it', () => {
    const tools = toolsQdiscs('netem-tbf-chain-qdisc.json').find((q) => q.kind === 'netem')!;
    const options = netemOptions({
      limit: 1000, delayUs: 100_000, jitterUs: 10_000, corr: [pct(0.25), pct(0.1), pct(0.02)], loss: pct(0.05), duplicate: pct(0.01),
      reorder: [pct(0.2), pct(0.5)], gap: 5, corrupt: [pct(0.005), pct(0.03)], rate: 125000,
    });
    const q = decoded(tcMessage({ ifindex: 2, handle: H(1), parent: ROOT, info: 2, kind: 'netem', options, stats: statsOf(tools) }));
    expect(withoutOptions([q])).toEqual(withoutOptions([tools]));
    expect(q.options).toMatchObject({ latency64: 100_000_000, seed: '123456789abcdef0', qopt: { limit: 1000, gap: 5 } });
  });

  it('loss models (4-state and Gilbert-Elliott), slot, ecn: as the tools reader parses tc output for them', () => {
    const tools = toolsQdiscs('netem-loss-models-qdisc.json');
    const a = decoded(tcMessage({
      ifindex: 2, handle: H(1), parent: ROOT, kind: 'netem', stats: statsOf(tools[0]!),
      options: netemOptions({ limit: 1000, gi: [pct(0.01), pct(0.99), 0, 0, UINT32_MAX], ecn: true, slot: { min: 1_000_000n, max: 5_000_000n, packets: 0, bytes: 0 } }),
    }));
    const b = decoded(tcMessage({
      ifindex: 3, handle: H(1), parent: ROOT, kind: 'netem', stats: statsOf(tools[1]!),
      options: netemOptions({ limit: 5000, delayUs: 200_000, ge: [pct(0.02), pct(0.98), 0, 0] }),
    }));
    expect(withoutOptions([a, b])).toEqual(withoutOptions(tools));
    expect(a.netem!.lossState).toEqual({ p13: 0.01, p31: 0.99, p32: 0, p23: 1, p14: 0 });
  });

  it('64-bit delays override the 32-bit ticks; without them the ticks count (tc_core_tick2time, whole microseconds)', () => {
    const with64 = Buffer.concat([u32(Math.round(100_000 * TICKS_PER_US), 1000, 0, 0, 0, 0), nla(10, s64(250_000_000n)), nla(11, s64(1_500n))]);
    expect(decodeNetem(with64).netem).toMatchObject({ delaySeconds: 0.25, jitterSeconds: 1.5e-6, delayCorrelation: 0 });
    const ticksOnly = netemOptions({ limit: 1000, delayUs: 1.5, jitterUs: 0, no64: true });
    // 1.5 us = 23 ticks = 1 us once truncated, as iproute2 < 6.2 printed it.
    expect(decodeNetem(ticksOnly).netem).toMatchObject({ delaySeconds: 0.000001, jitterSeconds: 0 });
    expect(decodeNetem(netemOptions({ limit: 7 })).netem).toEqual({ limit: 7, ecn: false });
  });

  it('rate: the 64-bit rate wins (RATE64 when it does not fit 32 bits), with its overheads', () => {
    const n = decodeNetem(netemOptions({ limit: 1000, rate: UINT32_MAX, rate64: 6_000_000_000n })).netem;
    expect([n.rateBytesPerSecond, n.ratePacketOverhead, n.rateCellSize, n.rateCellOverhead]).toEqual([6e9, 0, 0, 0]);
  });

  it('slot distribution variant; the delay distribution table tc sends is noted and ignored', () => {
    const opts = Buffer.concat([
      netemOptions({ limit: 1000, slot: { min: 0n, max: 0n, packets: 10, bytes: 3000, distDelay: 2_000_000n, distJitter: 500_000n } }),
      nla(2, Buffer.alloc(8)),
    ]);
    const d = decodeNetem(opts);
    expect(d.netem.slot).toEqual({ distributionDelaySeconds: 0.002, distributionJitterSeconds: 0.0005, packets: 10, bytes: 3000 });
    expect(d.raw.delayDist).toBe(true);
  });
});

describe('prio, sfq, tbf and htb options', () => {
  it("Chaos Mesh's filtered layout (prio + sfq bands + netem + tbf) reads the same as the tools reader's parse", () => {
    const tools = toolsQdiscs('prio-sfq-netem-filtered-qdisc.json');
    const msg = (q: Qdisc, handle: number, parent: number, options?: Buffer) =>
      decoded(tcMessage({ ifindex: q.interface === 'lo' ? 1 : 2, handle, parent, kind: q.kind, stats: statsOf(q), ...(options ? { options } : {}) }));
    const built = [
      msg(tools[0]!, 0, ROOT),
      msg(tools[1]!, H(1), ROOT, prioOptions(5, [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])),
      ...[2, 3, 4].map((maj, i) => msg(tools[2 + i]!, H(maj), H(1, maj - 1), sfqV1({ quantum: 1514, limit: 127, divisor: 1024, flows: 128, depth: 127 }))),
      msg(tools[5]!, H(5), H(1, 4), netemOptions({ limit: 1000, delayUs: 300_000, jitterUs: 50_000, corr: [pct(0.5), 0, 0] })),
      msg(tools[6]!, H(6), H(1, 5), tbfOptions({ rate: 12500, burst: 1600, limit: 50000 })),
    ];
    expect(withoutOptions(built)).toEqual(withoutOptions(tools));
    expect(built[1]!.prio!.bands).toBe(5);
  });

  it('sfq v0 (20 bytes) and v1 with red parameters', () => {
    const v0 = decoded(tcMessage({ ifindex: 2, handle: H(2), parent: ROOT, kind: 'sfq', options: u32(1514, 10, 127, 1024, 128) }));
    expect(v0.sfq).toEqual({ limit: 127, quantumBytes: 1514, headdrop: false, flows: 128, divisor: 1024, perturbSeconds: 10 });
    const v1 = decoded(tcMessage({ ifindex: 2, handle: H(2), parent: ROOT, kind: 'sfq', options: sfqV1({ quantum: 1514, limit: 127, divisor: 1024, flows: 128, depth: 64, headdrop: 1, red: [30000, 90000, 5, 0x80000000] }) }));
    expect(v1.sfq).toEqual({ limit: 127, quantumBytes: 1514, depth: 64, headdrop: true, flows: 128, divisor: 1024, red: { ewmaLog: 5, minBytes: 30000, maxBytes: 90000, probability: 0.5 } });
  });

  it('tbf with 64-bit rate and peak rate (TCA_TBF_RATE64 / PRATE64): burst, mtu and latency from them', () => {
    const q = decoded(tcMessage({ ifindex: 2, handle: H(1), parent: ROOT, kind: 'tbf', options: tbfOptions({ rate: 0, rate64: 5_000_000_000n, burst: 5_000_000, limit: 50_000_000, peak: UINT32_MAX, prate64: 6_000_000_000n, mtu: 60_000 }) }));
    // The mtu bucket is 10 us at the peak rate = 156 ticks: tc's unsigned conversions make that 9 us, 54000 bytes.
    expect(q.tbf).toEqual({ rateBytesPerSecond: 5e9, burstBytes: 5_000_000, peakrateBytesPerSecond: 6e9, mtuBytes: 54_000, latencySeconds: 0.009, limitBytes: 50_000_000 });
  });

  it('statistics: TCA_STATS2 (packets from PKT64 when set), the old TCA_STATS only when STATS2 is missing', () => {
    const legacy = Buffer.concat([u64(5000n), u32(40, 2, 3, 100, 1, 1, 1500)]);
    const msg = (extra: Buffer[]) => Buffer.concat([tcMessage({ ifindex: 2, handle: H(1), parent: ROOT, kind: 'pfifo', options: u32(10) }), ...extra]);
    expect(decoded(msg([nla(3, legacy)])).stats).toEqual({ bytes: 5000, packets: 40, drops: 2, overlimits: 3, requeues: 0, backlog: 1500, qlen: 1 });
    const s2 = Buffer.concat([stats2({ bytes: 7, packets: 1, drops: 0, overlimits: 0, requeues: 4, backlog: 0, qlen: 0 }), nla(8, u64(5_000_000_000n))]);
    expect(decoded(msg([nla(3, legacy), nla(7, s2, true)])).stats).toEqual({ bytes: 7, packets: 5e9, drops: 0, overlimits: 0, requeues: 4, backlog: 0, qlen: 0 });
  });

  it('htb class rates from RATE64 / CEIL64 when the 32-bit fields are saturated; pfifo and bfifo limits', () => {
    const parms = Buffer.concat([ratespec(UINT32_MAX), ratespec(UINT32_MAX), u32(15, 15, 200000, 0, 0)]);
    const c = decodeClass(tcMessage({ ifindex: 2, handle: H(1, 4), parent: H(1), info: H(5), kind: 'htb', options: Buffer.concat([nla(1, parms), nla(6, u64(12_500_000_000n)), nla(7, u64(25_000_000_000n))]) }), ifname);
    expect([c.handle, c.parent, c.rateBytesPerSecond, c.ceilBytesPerSecond, c.options.leaf]).toEqual(['1:4', '1:', 12.5e9, 25e9, '5:']);
    expect(decoded(tcMessage({ ifindex: 2, handle: H(3), parent: H(1, 2), kind: 'bfifo', options: u32(30000) })).fifo).toEqual({ limit: 30000 });
  });
});

describe('options that do not decode', () => {
  it('keep the object (kind, handle, parent, stats) with hex options and report the problem; without a report list, throw', () => {
    const problems: string[] = [];
    const bad = tcMessage({ ifindex: 2, handle: H(1), parent: ROOT, kind: 'tbf', options: nla(4, u64(1n)), stats: stats2({ bytes: 1, packets: 1, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 }) });
    const q = decodeQdisc(bad, ifname, undefined, problems);
    expect([q.kind, q.handle, q.tbf, q.options.hex, q.stats?.bytes]).toEqual(['tbf', '1:', undefined, '0c0004000100000000000000', 1]);
    expect(problems).toEqual(['tbf qdisc 1: on eth0: options not decoded (tbf options at byte 0: no TCA_TBF_PARMS)']);
    expect(() => decodeQdisc(bad, ifname)).toThrow('no TCA_TBF_PARMS');
    const sel = Buffer.alloc(16);
    sel.writeUInt8(3, 2); // 3 keys announced, none there
    const f = decodeFilter(tcMessage({ ifindex: 2, handle: 0x80000800, parent: H(1), info: filterInfo(1, 0x0800), kind: 'u32', options: nla(5, sel) }), { ifname, setName: () => null }, problems);
    expect([f.exact, f.filter!.u32, f.filter!.handle, problems.length]).toEqual([false, undefined, '800::800', 2]);
  });
});

describe('filters built from the uapi structs', () => {
  const [treeA, treeB] = hexLines('basic-ematch-options.hex');
  const sets = ['nlcapset', 'nlcapset2'];
  const setName = (i: number): string | null => sets[i] ?? null;
  const mirred = nla(3, nla(1, nla(1, str('mirred'))));

  it('basic with ematch trees (tc 6.1 encoding): typed tree, sets by index, the same as tc prints it', () => {
    const a = decodeFilter(tcMessage({ ifindex: 2, handle: 7, parent: H(1), info: filterInfo(3, 0x0800), kind: 'basic', options: treeA!, chain: 0 }), { ifname, setName });
    const b = decodeFilter(tcMessage({ ifindex: 2, handle: 8, parent: H(1), info: filterInfo(4, 0x0800), kind: 'basic', options: Buffer.concat([treeB!, mirred]), chain: 0 }), { ifname, setName });
    expect([a.exact, b.exact]).toEqual([true, true]);
    expect(a.filter!.basic).toEqual({
      ematches: [
        { kind: 'ipset', text: 'nlcapset2 src,dst', negated: false, relation: 'and' },
        { kind: 'cmp', text: 'u8 at 9 layer 1 eq 6', negated: true, relation: 'or' },
        { kind: 'u32', text: '0a000000/ff000000 at 12', negated: false, relation: 'end' },
      ],
      ematchText: 'ipset(nlcapset2 src,dst) AND NOT cmp(u8 at 9 layer 1 eq 6) OR u32(0a000000/ff000000 at 12)',
    });
    expect(b.filter!.basic!.ematchText).toBe('NOT ( cmp(u16 at 2 layer 2 eq 80) OR cmp(u16 at 2 layer 2 mask 0xff00 gt 1024) ) AND ipset(nlcapset dst)');
    expect([a.filter!.matchSets, b.filter!.matchSets, b.filter!.actions]).toEqual([['nlcapset2'], ['nlcapset'], ['mirred']]);
    const tools = parseTcFilters(fixture('basic-ematch-filter.json'), 'eth0', '1:');
    expect(tools.errors).toEqual([]);
    expect(withoutOptions([a.filter!, b.filter!])).toEqual(withoutOptions(tools.filters));
  });

  it('an ipset index without a name, or an ematch kind without a printer here, is not exact', () => {
    expect(decodeFilter(tcMessage({ ifindex: 2, handle: 7, parent: H(1), kind: 'basic', options: treeA! }), { ifname, setName: () => null }).exact).toBe(false);
    const meta = nla(2, Buffer.concat([nla(1, u32(1)), nla(2, nla(1, Buffer.concat([Buffer.from([0, 0, 4, 0, 0, 0, 0, 0]), Buffer.alloc(8)])))]));
    const d = decodeFilter(tcMessage({ ifindex: 2, handle: 9, parent: H(1), kind: 'basic', options: meta }), { ifname, setName });
    expect([d.exact, d.filter!.basic!.ematches[0]!.kind]).toEqual([false, 'meta']);
    const unknown = nla(2, Buffer.concat([nla(1, u32(1)), nla(2, nla(1, Buffer.from([0, 0, 5, 0, 0, 0, 0, 0])))]));
    expect(decodeFilter(tcMessage({ ifindex: 2, handle: 9, parent: H(1), kind: 'basic', options: unknown }), { ifname, setName }).filter!.basic!.ematchText).toBe('[unknown ematch 5]');
  });

  it('eBPF filter: name, direct-action, id and tag, actions; the same as the tools reader parses tc output for it', () => {
    const options = Buffer.concat([
      nla(1, nla(1, nla(1, str('gact')))),
      nla(7, str('cls.o:[classifier]')),
      nla(8, u32(1)),
      nla(9, u32(8)),
      nla(10, Buffer.from('0123456789abcdef', 'hex')),
      nla(11, u32(42)),
    ]);
    const d = decodeFilter(tcMessage({ ifindex: 2, handle: 1, parent: 0xfffffff2, info: filterInfo(1, 0x0003), kind: 'bpf', options, chain: 0 }), { ifname, setName });
    expect(d.filter!.bpf).toEqual({ name: 'cls.o:[classifier]', directAction: true, id: 42, tag: '0123456789abcdef', bytecodeLength: null });
    const json =
      '[{"protocol":"all","pref":1,"kind":"bpf","chain":0},{"protocol":"all","pref":1,"kind":"bpf","chain":0,"options":{"handle":"0x1","bpf_name":"cls.o:[classifier]",' +
      '"direct-action":true,"not_in_hw":true,"prog":{"id":42,"name":"cls","tag":"0123456789abcdef","jited":1},' +
      '"actions":[{"order":1,"kind":"gact","control_action":{"type":"pass"},"prob":{"random_type":"none","control_action":{"type":"pass"},"val":0},"index":1,"ref":1,"bind":1}]}}]';
    expect(withoutOptions([d.filter!])).toEqual(withoutOptions(parseTcFilters(json, 'eth0', 'ingress').filters));
  });
});
