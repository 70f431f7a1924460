/**
 * struct tc_ratespec (uapi linux/pkt_sched.h), shared by tbf's and htb's parameter structs: 12 bytes, the rate in
 * bytes/s as 32 bits (the 64-bit rate comes in its own attribute when it does not fit). Pure.
 */
import { struct } from '../nlmsg.js';

export const RATESPEC_LEN = 12;

export interface RateSpec {
  cellLog: number;
  linklayer: number;
  overhead: number;
  cellAlign: number;
  mpu: number;
  rate: number;
}

export function decodeRateSpec(b: Buffer, offset: number, what: string): RateSpec {
  const r = struct(b.subarray(offset), RATESPEC_LEN, what);
  return {
    cellLog: r.readUInt8(0),
    linklayer: r.readUInt8(1) & 0x0f,
    overhead: r.readUInt16LE(2),
    cellAlign: r.readInt16LE(4),
    mpu: r.readUInt16LE(6),
    rate: r.readUInt32LE(8),
  };
}
