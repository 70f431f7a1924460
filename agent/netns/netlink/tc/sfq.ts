/**
 * sfq's TCA_OPTIONS (uapi linux/pkt_sched.h): struct tc_sfq_qopt (v0, 20 bytes) or struct tc_sfq_qopt_v1 (72
 * bytes: v0 + depth, headdrop and the sfqred parameters and counters), as sch_sfq.c sfq_dump sends v1. The model's
 * fields follow iproute2's q_sfq.c sfq_print_opt: depth and headdrop only from v1 and only when set, perturb only
 * when non-zero, the red parameters only when qth_min is set (probability = max_P / 2^32 at `%g`). Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { SfqOptions } from '../../model/tc.js';
import { printG } from './psched.js';

const V0_LEN = 20;
const V1_LEN = 72;

export interface SfqAttrs {
  quantum: number;
  perturbPeriod: number;
  limit: number;
  divisor: number;
  flows: number;
  v1?: {
    depth: number;
    headdrop: number;
    limitBytes: number;
    qthMin: number;
    qthMax: number;
    wlog: number;
    plog: number;
    scellLog: number;
    flags: number;
    maxP: number;
    stats: { probDrop: number; forcedDrop: number; probMark: number; forcedMark: number; probMarkHead: number; forcedMarkHead: number };
  };
}

export function decodeSfq(b: Buffer): { raw: SfqAttrs; sfq: SfqOptions } {
  if (b.length < V0_LEN) throw new DecodeError('tc_sfq_qopt', 0, `${b.length} bytes, need ${V0_LEN}`);
  const raw: SfqAttrs = {
    quantum: b.readUInt32LE(0),
    perturbPeriod: b.readInt32LE(4),
    limit: b.readUInt32LE(8),
    divisor: b.readUInt32LE(12),
    flows: b.readUInt32LE(16),
  };
  if (b.length >= V1_LEN) {
    raw.v1 = {
      depth: b.readUInt32LE(20),
      headdrop: b.readUInt32LE(24),
      limitBytes: b.readUInt32LE(28),
      qthMin: b.readUInt32LE(32),
      qthMax: b.readUInt32LE(36),
      wlog: b.readUInt8(40),
      plog: b.readUInt8(41),
      scellLog: b.readUInt8(42),
      flags: b.readUInt8(43),
      maxP: b.readUInt32LE(44),
      stats: {
        probDrop: b.readUInt32LE(48),
        forcedDrop: b.readUInt32LE(52),
        probMark: b.readUInt32LE(56),
        forcedMark: b.readUInt32LE(60),
        probMarkHead: b.readUInt32LE(64),
        forcedMarkHead: b.readUInt32LE(68),
      },
    };
  }
  const sfq: SfqOptions = { limit: raw.limit, quantumBytes: raw.quantum, headdrop: false, flows: raw.flows, divisor: raw.divisor };
  const v1 = raw.v1;
  if (v1 !== undefined && v1.depth !== 0) sfq.depth = v1.depth;
  if (v1 !== undefined && v1.headdrop !== 0) sfq.headdrop = true;
  if (raw.perturbPeriod !== 0) sfq.perturbSeconds = raw.perturbPeriod;
  if (v1 !== undefined && v1.qthMin !== 0) {
    sfq.red = { ewmaLog: v1.wlog, minBytes: v1.qthMin, maxBytes: v1.qthMax, probability: printG(v1.maxP / 2 ** 32) };
  }
  return { raw, sfq };
}
