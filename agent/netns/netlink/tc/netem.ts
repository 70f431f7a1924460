/**
 * netem's TCA_OPTIONS (uapi linux/pkt_sched.h): struct tc_netem_qopt, then TCA_NETEM_* attributes in the same
 * payload (not nested), as sch_netem.c netem_dump writes them. Decoded to typed attributes (the raw view), then to
 * the model's NetemOptions the way iproute2's q_netem.c netem_print_opt prints JSON:
 * - delay/jitter: TCA_NETEM_LATENCY64 / JITTER64 (nanoseconds) override qopt.latency / jitter (psched ticks, what
 *   iproute2 < 6.2 printed through tc_core_tick2time); the delay object exists only for a non-zero delay, and
 *   then always carries jitter and the delay correlation;
 * - probabilities are value / UINT32_MAX, every float at `%g` precision; correlations default to 0;
 * - loss models: NETEM_LOSS_GI (4-state, struct order p13 p31 p32 p14 p23) and NETEM_LOSS_GE (printed as p, r,
 *   1-h = (UINT32_MAX - h) / UINT32_MAX, 1-k = k1 / UINT32_MAX);
 * - rate: only when non-zero, TCA_NETEM_RATE64 winning over the 32-bit rate;
 * - slot: min/max delay, or the distribution variant (delay + jitter) when its jitter is non-zero;
 * - ecn: the attribute's presence; gap only when non-zero.
 * TCA_NETEM_DELAY_DIST / SLOT_DIST (distribution tables) are only ever sent by tc, never dumped: noted, ignored.
 */
import { DecodeError } from '../../../errors.js';
import type { NetemOptions } from '../../model/tc.js';
import { parseAttrs, read, struct } from '../nlmsg.js';
import { DEFAULT_PSCHED, percent, printG, tickToTime, type Psched } from './psched.js';

const QOPT_LEN = 24;
const TCA_NETEM_CORR = 1;
const TCA_NETEM_DELAY_DIST = 2;
const TCA_NETEM_REORDER = 3;
const TCA_NETEM_CORRUPT = 4;
const TCA_NETEM_LOSS = 5;
const TCA_NETEM_RATE = 6;
const TCA_NETEM_ECN = 7;
const TCA_NETEM_RATE64 = 8;
const TCA_NETEM_LATENCY64 = 10;
const TCA_NETEM_JITTER64 = 11;
const TCA_NETEM_SLOT = 12;
const TCA_NETEM_SLOT_DIST = 13;
const TCA_NETEM_PRNG_SEED = 14;
const NETEM_LOSS_GI = 1;
const NETEM_LOSS_GE = 2;
const UINT32_MAX = 0xffffffff;

/** The decoded attributes (numbers as the kernel sent them): netlink's raw view of a netem qdisc. */
export interface NetemAttrs {
  qopt: { latency: number; limit: number; loss: number; gap: number; duplicate: number; jitter: number };
  corr?: { delay: number; loss: number; duplicate: number };
  reorder?: { probability: number; correlation: number };
  corrupt?: { probability: number; correlation: number };
  gimodel?: { p13: number; p31: number; p32: number; p14: number; p23: number };
  gemodel?: { p: number; r: number; h: number; k1: number };
  rate?: { rate: number; packetOverhead: number; cellSize: number; cellOverhead: number };
  rate64?: number;
  ecn?: number;
  latency64?: number;
  jitter64?: number;
  slot?: { minDelay: number; maxDelay: number; maxPackets: number; maxBytes: number; distDelay: number; distJitter: number };
  /** PRNG seed (hex: 64 bits do not fit a JSON number). */
  seed?: string;
  /** Distribution tables present (tc sends them; the kernel does not dump them). */
  delayDist?: boolean;
  slotDist?: boolean;
}

const u32s = (b: Buffer, n: number, what: string): number[] => {
  struct(b, n * 4, what);
  return Array.from({ length: n }, (_, i) => b.readUInt32LE(i * 4));
};

export function decodeNetemAttrs(b: Buffer): NetemAttrs {
  const q = u32s(b, 6, 'tc_netem_qopt');
  const out: NetemAttrs = { qopt: { latency: q[0]!, limit: q[1]!, loss: q[2]!, gap: q[3]!, duplicate: q[4]!, jitter: q[5]! } };
  for (const a of parseAttrs(b, QOPT_LEN)) {
    const d = a.data;
    switch (a.type) {
      case TCA_NETEM_CORR: {
        const [delay, loss, duplicate] = u32s(d, 3, 'tc_netem_corr');
        out.corr = { delay: delay!, loss: loss!, duplicate: duplicate! };
        break;
      }
      case TCA_NETEM_REORDER: {
        const [probability, correlation] = u32s(d, 2, 'tc_netem_reorder');
        out.reorder = { probability: probability!, correlation: correlation! };
        break;
      }
      case TCA_NETEM_CORRUPT: {
        const [probability, correlation] = u32s(d, 2, 'tc_netem_corrupt');
        out.corrupt = { probability: probability!, correlation: correlation! };
        break;
      }
      case TCA_NETEM_LOSS:
        for (const m of parseAttrs(d)) {
          if (m.type === NETEM_LOSS_GI) {
            const [p13, p31, p32, p14, p23] = u32s(m.data, 5, 'tc_netem_gimodel');
            out.gimodel = { p13: p13!, p31: p31!, p32: p32!, p14: p14!, p23: p23! };
          } else if (m.type === NETEM_LOSS_GE) {
            const [p, r, h, k1] = u32s(m.data, 4, 'tc_netem_gemodel');
            out.gemodel = { p: p!, r: r!, h: h!, k1: k1! };
          }
        }
        break;
      case TCA_NETEM_RATE: {
        struct(d, 16, 'tc_netem_rate');
        out.rate = { rate: d.readUInt32LE(0), packetOverhead: d.readInt32LE(4), cellSize: d.readUInt32LE(8), cellOverhead: d.readInt32LE(12) };
        break;
      }
      case TCA_NETEM_ECN:
        out.ecn = read.u32(d, 'TCA_NETEM_ECN');
        break;
      case TCA_NETEM_RATE64:
        out.rate64 = read.u64(d, 'TCA_NETEM_RATE64');
        break;
      case TCA_NETEM_LATENCY64:
        out.latency64 = Number(struct(d, 8, 'TCA_NETEM_LATENCY64').readBigInt64LE(0));
        break;
      case TCA_NETEM_JITTER64:
        out.jitter64 = Number(struct(d, 8, 'TCA_NETEM_JITTER64').readBigInt64LE(0));
        break;
      case TCA_NETEM_SLOT: {
        struct(d, 40, 'tc_netem_slot');
        out.slot = {
          minDelay: Number(d.readBigInt64LE(0)),
          maxDelay: Number(d.readBigInt64LE(8)),
          maxPackets: d.readInt32LE(16),
          maxBytes: d.readInt32LE(20),
          distDelay: Number(d.readBigInt64LE(24)),
          distJitter: Number(d.readBigInt64LE(32)),
        };
        break;
      }
      case TCA_NETEM_PRNG_SEED:
        out.seed = struct(d, 8, 'TCA_NETEM_PRNG_SEED').readBigUInt64LE(0).toString(16);
        break;
      case TCA_NETEM_DELAY_DIST:
        out.delayDist = true;
        break;
      case TCA_NETEM_SLOT_DIST:
        out.slotDist = true;
        break;
      default:
        break; // TCA_NETEM_PAD and attributes newer than this decoder: nothing tc prints.
    }
  }
  return out;
}

const ns = (x: number): number => printG(x / 1e9);

/** The model's netem parameters from the decoded attributes (see the module comment for tc's rules). */
export function netemOptions(a: NetemAttrs, p: Psched = DEFAULT_PSCHED): NetemOptions {
  const n: NetemOptions = { limit: a.qopt.limit };
  const delayCorr = a.corr?.delay ?? 0;
  if (a.latency64 !== undefined) {
    if (a.latency64 !== 0) {
      n.delaySeconds = ns(a.latency64);
      n.jitterSeconds = ns(a.jitter64 ?? 0);
      n.delayCorrelation = percent(delayCorr);
    }
  } else if (a.qopt.latency !== 0) {
    n.delaySeconds = printG(tickToTime(a.qopt.latency, p) / 1e6);
    n.jitterSeconds = printG(tickToTime(a.qopt.jitter, p) / 1e6);
    n.delayCorrelation = percent(delayCorr);
  }
  if (a.qopt.loss !== 0) {
    n.loss = percent(a.qopt.loss);
    n.lossCorrelation = percent(a.corr?.loss ?? 0);
  }
  if (a.gimodel !== undefined) {
    const g = a.gimodel;
    n.lossState = { p13: percent(g.p13), p31: percent(g.p31), p32: percent(g.p32), p23: percent(g.p23), p14: percent(g.p14) };
  }
  if (a.gemodel !== undefined) {
    const g = a.gemodel;
    n.lossGemodel = { p: percent(g.p), r: percent(g.r), oneMinusH: percent(UINT32_MAX - g.h), oneMinusK: percent(g.k1) };
  }
  if (a.qopt.duplicate !== 0) {
    n.duplicate = percent(a.qopt.duplicate);
    n.duplicateCorrelation = percent(a.corr?.duplicate ?? 0);
  }
  if (a.reorder !== undefined && a.reorder.probability !== 0) {
    n.reorder = percent(a.reorder.probability);
    n.reorderCorrelation = percent(a.reorder.correlation);
  }
  if (a.corrupt !== undefined && a.corrupt.probability !== 0) {
    n.corrupt = percent(a.corrupt.probability);
    n.corruptCorrelation = percent(a.corrupt.correlation);
  }
  if (a.rate !== undefined && a.rate.rate !== 0) {
    n.rateBytesPerSecond = a.rate64 !== undefined && a.rate64 !== 0 ? a.rate64 : a.rate.rate;
    n.ratePacketOverhead = a.rate.packetOverhead;
    n.rateCellSize = a.rate.cellSize;
    n.rateCellOverhead = a.rate.cellOverhead;
  }
  if (a.slot !== undefined) {
    const s = a.slot;
    n.slot =
      s.distJitter > 0
        ? { distributionDelaySeconds: ns(s.distDelay), distributionJitterSeconds: ns(s.distJitter), packets: s.maxPackets, bytes: s.maxBytes }
        : { minDelaySeconds: ns(s.minDelay), maxDelaySeconds: ns(s.maxDelay), packets: s.maxPackets, bytes: s.maxBytes };
  }
  n.ecn = a.ecn !== undefined;
  if (a.qopt.gap !== 0) n.gap = a.qopt.gap;
  return n;
}

/** TCA_OPTIONS of a netem qdisc -> raw attributes and the model's fields. */
export function decodeNetem(b: Buffer, p: Psched = DEFAULT_PSCHED): { raw: NetemAttrs; netem: NetemOptions } {
  if (b.length < QOPT_LEN) throw new DecodeError('tc_netem_qopt', 0, `${b.length} bytes, need ${QOPT_LEN}`);
  const raw = decodeNetemAttrs(b);
  return { raw, netem: netemOptions(raw, p) };
}
