/**
 * The part every tc message shares (RTM_NEWQDISC / NEWTCLASS / NEWTFILTER: struct tcmsg + TCA_* attributes, uapi
 * linux/rtnetlink.h) and its statistics (TCA_STATS2 nested gnet_stats_*, uapi linux/gen_stats.h), as tc -s prints
 * them (tc_util.c print_tcstats2_attr: packets from TCA_STATS_PKT64 when non-zero). Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { QdiscStats } from '../../model/tc.js';
import { attrMap, read } from '../nlmsg.js';
import { TCMSG_LEN, decodeTcMsg, type TcMsg } from '../rtnl/messages.js';

export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_STATS = 3;
export const TCA_STATS2 = 7;
export const TCA_CHAIN = 11;

const TCA_STATS_BASIC = 1;
const TCA_STATS_QUEUE = 3;
const TCA_STATS_PKT64 = 8;

export interface TcMessage extends TcMsg {
  kind: string;
  /** TCA_OPTIONS payload, null when the message has none. */
  options: Buffer | null;
  stats: QdiscStats | null;
  chain: number | null;
}

/**
 * TCA_STATS2 -> the model's statistics: absent parts are 0, and a nest with neither basic nor queue counters (the
 * kernel sends an empty one for classes without statistics, e.g. tbf's inner class) is null, as tc prints nothing.
 */
export function decodeStats2(b: Buffer): QdiscStats | null {
  const a = attrMap(b);
  if (!a.has(TCA_STATS_BASIC) && !a.has(TCA_STATS_QUEUE)) return null;
  const st: QdiscStats = { bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 };
  const basic = a.get(TCA_STATS_BASIC);
  if (basic !== undefined) {
    if (basic.length < 12) throw new DecodeError('gnet_stats_basic', 0, `${basic.length} bytes, need 12`);
    st.bytes = Number(basic.readBigUInt64LE(0));
    st.packets = basic.readUInt32LE(8);
    const pkt64 = a.get(TCA_STATS_PKT64);
    if (pkt64 !== undefined) {
      const p = read.u64(pkt64, 'TCA_STATS_PKT64');
      if (p !== 0) st.packets = p;
    }
  }
  const q = a.get(TCA_STATS_QUEUE);
  if (q !== undefined) {
    if (q.length < 20) throw new DecodeError('gnet_stats_queue', 0, `${q.length} bytes, need 20`);
    st.qlen = q.readUInt32LE(0);
    st.backlog = q.readUInt32LE(4);
    st.drops = q.readUInt32LE(8);
    st.requeues = q.readUInt32LE(12);
    st.overlimits = q.readUInt32LE(16);
  }
  return st;
}

/**
 * TCA_STATS (struct tc_stats: u64 bytes, u32 packets, drops, overlimits, bps, pps, qlen, backlog), the pre-2.6.14
 * attribute: kernels send it next to TCA_STATS2, which wins; it is read only when TCA_STATS2 is missing (tc then
 * prints it as text only, so the tools reader would have no statistics for that object).
 */
export function decodeStats(b: Buffer): QdiscStats {
  if (b.length < 36) throw new DecodeError('tc_stats', 0, `${b.length} bytes, need 36`);
  return {
    bytes: Number(b.readBigUInt64LE(0)),
    packets: b.readUInt32LE(8),
    drops: b.readUInt32LE(12),
    overlimits: b.readUInt32LE(16),
    requeues: 0,
    backlog: b.readUInt32LE(32),
    qlen: b.readUInt32LE(28),
  };
}

/** tcmsg + kind + options + stats + chain of one tc message. A message without TCA_KIND is a DecodeError. */
export function decodeTcMessage(payload: Buffer, what: string): TcMessage {
  const h = decodeTcMsg(payload);
  const a = attrMap(payload, TCMSG_LEN);
  const kind = a.get(TCA_KIND);
  if (kind === undefined) throw new DecodeError(what, 0, `no TCA_KIND (ifindex ${h.ifindex}, handle ${h.handle >>> 0})`);
  const stats2 = a.get(TCA_STATS2);
  const stats = a.get(TCA_STATS);
  const chain = a.get(TCA_CHAIN);
  return {
    family: h.family,
    ifindex: h.ifindex,
    handle: h.handle,
    parent: h.parent,
    info: h.info,
    kind: read.str(kind),
    options: a.get(TCA_OPTIONS) ?? null,
    stats: stats2 !== undefined ? decodeStats2(stats2) : stats !== undefined ? decodeStats(stats) : null,
    chain: chain === undefined ? null : read.u32(chain, 'TCA_CHAIN'),
  };
}
