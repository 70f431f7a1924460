/**
 * htb's TCA_OPTIONS (nested TCA_HTB_*, uapi linux/pkt_sched.h; sch_htb.c htb_dump / htb_dump_class): the qdisc's
 * struct tc_htb_glob (+ direct queue length), a class's struct tc_htb_opt (+ 64-bit rate and ceil). The model keeps
 * what tc prints exactly: the default class as `major:minor` (minor in hex), r2q, direct_qlen; class rate and ceil
 * (RATE64 / CEIL64 winning when 8 bytes long). Pure.
 */
import { DecodeError } from '../../../errors.js';
import { attrMap, read } from '../nlmsg.js';
import { RATESPEC_LEN, decodeRateSpec, type RateSpec } from './ratespec.js';

const TCA_HTB_PARMS = 1;
const TCA_HTB_INIT = 2;
const TCA_HTB_DIRECT_QLEN = 5;
const TCA_HTB_RATE64 = 6;
const TCA_HTB_CEIL64 = 7;
const TCA_HTB_OFFLOAD = 9;
const GLOB_LEN = 20;
const OPT_LEN = 2 * RATESPEC_LEN + 20;

export interface HtbQdiscAttrs {
  version: number;
  rate2quantum: number;
  defcls: number;
  debug: number;
  directPackets: number;
  directQlen?: number;
  offload: boolean;
}

export interface HtbClassAttrs {
  rate: RateSpec;
  ceil: RateSpec;
  buffer: number;
  cbuffer: number;
  quantum: number;
  level: number;
  prio: number;
  rate64?: number;
  ceil64?: number;
}

export function decodeHtbQdisc(b: Buffer, handle: number): { raw: HtbQdiscAttrs; htb: { defaultClass?: string; r2q?: number; directQlen?: number } } {
  const a = attrMap(b);
  const init = a.get(TCA_HTB_INIT);
  if (init === undefined) throw new DecodeError('htb options', 0, 'no TCA_HTB_INIT');
  if (init.length < GLOB_LEN) throw new DecodeError('tc_htb_glob', 0, `${init.length} bytes, need ${GLOB_LEN}`);
  const raw: HtbQdiscAttrs = {
    version: init.readUInt32LE(0),
    rate2quantum: init.readUInt32LE(4),
    defcls: init.readUInt32LE(8),
    debug: init.readUInt32LE(12),
    directPackets: init.readUInt32LE(16),
    offload: a.has(TCA_HTB_OFFLOAD),
  };
  const dq = a.get(TCA_HTB_DIRECT_QLEN);
  if (dq !== undefined && dq.length >= 4) raw.directQlen = read.u32(dq);
  const htb: { defaultClass?: string; r2q?: number; directQlen?: number } = {
    defaultClass: `${(handle >>> 16).toString(16)}:${raw.defcls.toString(16)}`,
    r2q: raw.rate2quantum,
  };
  if (raw.directQlen !== undefined) htb.directQlen = raw.directQlen;
  return { raw, htb };
}

export function decodeHtbClass(b: Buffer): { raw: HtbClassAttrs; rateBytesPerSecond: number; ceilBytesPerSecond: number } {
  const a = attrMap(b);
  const parms = a.get(TCA_HTB_PARMS);
  if (parms === undefined) throw new DecodeError('htb class options', 0, 'no TCA_HTB_PARMS');
  if (parms.length < OPT_LEN) throw new DecodeError('tc_htb_opt', 0, `${parms.length} bytes, need ${OPT_LEN}`);
  const raw: HtbClassAttrs = {
    rate: decodeRateSpec(parms, 0, 'htb rate'),
    ceil: decodeRateSpec(parms, RATESPEC_LEN, 'htb ceil'),
    buffer: parms.readUInt32LE(24),
    cbuffer: parms.readUInt32LE(28),
    quantum: parms.readUInt32LE(32),
    level: parms.readUInt32LE(36),
    prio: parms.readUInt32LE(40),
  };
  const r64 = a.get(TCA_HTB_RATE64);
  if (r64 !== undefined && r64.length >= 8) raw.rate64 = read.u64(r64);
  const c64 = a.get(TCA_HTB_CEIL64);
  if (c64 !== undefined && c64.length >= 8) raw.ceil64 = read.u64(c64);
  return { raw, rateBytesPerSecond: raw.rate64 ?? raw.rate.rate, ceilBytesPerSecond: raw.ceil64 ?? raw.ceil.rate };
}
