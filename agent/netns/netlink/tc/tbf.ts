/**
 * tbf's TCA_OPTIONS (nested TCA_TBF_*, uapi linux/pkt_sched.h; sch_tbf.c tbf_dump): struct tc_tbf_qopt with the
 * bucket sizes in psched ticks, and the 64-bit rates when they do not fit 32 bits. The model's fields are computed as
 * iproute2's q_tbf.c tbf_print_opt does: burst = tc_calc_xmitsize(rate, buffer); mtu likewise from the peak rate
 * (only with a peak rate and a non-zero mtu or peak mpu); latency = 1e6 * limit / rate - tick2time(buffer), the
 * larger of that and the peak-rate latency, printed as an integer number of microseconds, only when >= 0; limit is
 * the kernel's byte count (tc prints it with -raw). Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { TbfOptions } from '../../model/tc.js';
import { attrMap, read } from '../nlmsg.js';
import { DEFAULT_PSCHED, tickToTime, xmitSize, type Psched } from './psched.js';
import { RATESPEC_LEN, decodeRateSpec, type RateSpec } from './ratespec.js';

const TCA_TBF_PARMS = 1;
const TCA_TBF_RATE64 = 4;
const TCA_TBF_PRATE64 = 5;
const TCA_TBF_BURST = 6;
const TCA_TBF_PBURST = 7;
const QOPT_LEN = 2 * RATESPEC_LEN + 12;

export interface TbfAttrs {
  rate: RateSpec;
  peakrate: RateSpec;
  limit: number;
  /** Bucket sizes in psched ticks. */
  buffer: number;
  mtu: number;
  rate64?: number;
  prate64?: number;
  /** Bucket sizes in bytes (tc sends them for 64-bit rates; the kernel does not dump them). */
  burst?: number;
  pburst?: number;
}

export function decodeTbfAttrs(b: Buffer): TbfAttrs {
  const a = attrMap(b);
  const parms = a.get(TCA_TBF_PARMS);
  if (parms === undefined) throw new DecodeError('tbf options', 0, 'no TCA_TBF_PARMS');
  if (parms.length < QOPT_LEN) throw new DecodeError('tc_tbf_qopt', 0, `${parms.length} bytes, need ${QOPT_LEN}`);
  const out: TbfAttrs = {
    rate: decodeRateSpec(parms, 0, 'tbf rate'),
    peakrate: decodeRateSpec(parms, RATESPEC_LEN, 'tbf peakrate'),
    limit: parms.readUInt32LE(24),
    buffer: parms.readUInt32LE(28),
    mtu: parms.readUInt32LE(32),
  };
  // tc reads a 64-bit rate only when the attribute holds 8 bytes; so does this.
  const r64 = a.get(TCA_TBF_RATE64);
  if (r64 !== undefined && r64.length >= 8) out.rate64 = read.u64(r64);
  const p64 = a.get(TCA_TBF_PRATE64);
  if (p64 !== undefined && p64.length >= 8) out.prate64 = read.u64(p64);
  const burst = a.get(TCA_TBF_BURST);
  if (burst !== undefined) out.burst = read.u32(burst, 'TCA_TBF_BURST');
  const pburst = a.get(TCA_TBF_PBURST);
  if (pburst !== undefined) out.pburst = read.u32(pburst, 'TCA_TBF_PBURST');
  return out;
}

/** tbf_print_opt's latency in microseconds (a double), or null when tc prints none (negative, or no rate). */
export function tbfLatencyMicros(limit: number, rate: number, buffer: number, prate: number, mtu: number, p: Psched = DEFAULT_PSCHED): number | null {
  if (rate === 0) return null;
  let latency = 1e6 * (limit / rate) - tickToTime(buffer, p);
  if (prate !== 0) {
    const lat2 = 1e6 * (limit / prate) - tickToTime(mtu, p);
    if (lat2 > latency) latency = lat2;
  }
  return latency >= 0 ? latency : null;
}

export function tbfOptions(a: TbfAttrs, p: Psched = DEFAULT_PSCHED): TbfOptions {
  const rate = a.rate64 ?? a.rate.rate;
  const prate = a.prate64 ?? a.peakrate.rate;
  const t: TbfOptions = { rateBytesPerSecond: rate, burstBytes: xmitSize(rate, a.buffer, p) };
  if (prate !== 0) {
    t.peakrateBytesPerSecond = prate;
    if (a.mtu !== 0 || a.peakrate.mpu !== 0) t.mtuBytes = xmitSize(prate, a.mtu, p);
  }
  const lat = tbfLatencyMicros(a.limit, rate, a.buffer, prate, a.mtu, p);
  // print_u64 of a double: C truncates to an integer number of microseconds.
  if (lat !== null) t.latencySeconds = Math.trunc(lat) / 1e6;
  t.limitBytes = a.limit;
  return t;
}

export function decodeTbf(b: Buffer, p: Psched = DEFAULT_PSCHED): { raw: TbfAttrs; tbf: TbfOptions } {
  const raw = decodeTbfAttrs(b);
  return { raw, tbf: tbfOptions(raw, p) };
}
