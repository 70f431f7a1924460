/**
 * Building tc netlink payloads field by field from the uapi structs (linux/pkt_sched.h, pkt_cls.h, gen_stats.h),
 * for what this kernel cannot create (netem, prio, sfq, basic, eBPF filters) and for edge cases.
 */

import { encodeAttr } from '../../../../agent/netns/netlink/nlmsg.js';

/** One attribute: 4-byte header (length, type), data, padding to 4 bytes (the agent's own encoder). */
export const nla = encodeAttr;

export const u32 = (...v: number[]): Buffer => {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, i * 4));
  return b;
};

export const s32 = (...v: number[]): Buffer => {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeInt32LE(x, i * 4));
  return b;
};

export const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};

export const s64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
};

export const str = (s: string): Buffer => Buffer.from(`${s}\0`);

/** iproute2's set_percent: a ratio 0..1 as a 32-bit probability. */
export const pct = (ratio: number): number => Math.round(ratio * 0xffffffff);

/** struct tc_ratespec (12 bytes). */
export function ratespec(rate: number, o: { cellLog?: number; linklayer?: number; mpu?: number } = {}): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.cellLog ?? 0, 0);
  b.writeUInt8(o.linklayer ?? 1, 1);
  b.writeUInt16LE(o.mpu ?? 0, 6);
  b.writeUInt32LE(rate >>> 0, 8);
  return b;
}

/** TCA_STATS2 with basic and queue counters. */
export function stats2(s: { bytes: number; packets: number; drops: number; overlimits: number; requeues: number; backlog: number; qlen: number }): Buffer {
  const basic = Buffer.alloc(16);
  basic.writeBigUInt64LE(BigInt(s.bytes), 0);
  basic.writeUInt32LE(s.packets, 8);
  return Buffer.concat([nla(1, basic), nla(3, u32(s.qlen, s.backlog, s.drops, s.requeues, s.overlimits))]);
}

/** A RTM_NEWQDISC / NEWTCLASS / NEWTFILTER payload: struct tcmsg then TCA_KIND, TCA_OPTIONS, TCA_STATS2, TCA_CHAIN. */
export function tcMessage(m: {
  ifindex: number;
  handle: number;
  parent: number;
  info?: number;
  kind: string;
  options?: Buffer;
  stats?: Buffer;
  chain?: number;
}): Buffer {
  const hdr = Buffer.alloc(20);
  hdr.writeInt32LE(m.ifindex, 4);
  hdr.writeUInt32LE(m.handle >>> 0, 8);
  hdr.writeUInt32LE(m.parent >>> 0, 12);
  hdr.writeUInt32LE((m.info ?? 0) >>> 0, 16);
  const parts = [hdr, nla(1, str(m.kind))];
  if (m.options !== undefined) parts.push(nla(2, m.options));
  if (m.stats !== undefined) parts.push(nla(7, m.stats, true));
  if (m.chain !== undefined) parts.push(nla(11, u32(m.chain)));
  return Buffer.concat(parts);
}

/** tcm_info of a filter: pref << 16 | protocol in network byte order. */
export const filterInfo = (pref: number, ethType: number): number => ((pref << 16) | ((ethType & 0xff) << 8) | (ethType >> 8)) >>> 0;
