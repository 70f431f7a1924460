/**
 * `-m statistic` (libxt_statistic.c, xt_statistic.h: { u16 mode; u16 flags; union { u32 probability } | { u32
 * every, packet, count } ... }). The probability is printed with %.11f of probability / 2^31.
 */
import { fixedPoint } from './format.js';
import type { XtDecoder } from './types.js';

const MODE_RANDOM = 0;
const MODE_NTH = 1;
const INVERT = 0x1;

export const statisticMatch: Record<number, XtDecoder> = {
  0: {
    size: 16,
    save({ info }) {
      const mode = info.readUInt16LE(0);
      const inv = info.readUInt16LE(2) & INVERT ? ' !' : '';
      if (mode === MODE_RANDOM) {
        return ` --mode random${inv} --probability ${fixedPoint(BigInt(info.readUInt32LE(4)), 0x80000000n, 11)}`;
      }
      if (mode === MODE_NTH) {
        // every + 1 in unsigned arithmetic; the packet is always printed with the -- prefix.
        return ` --mode nth${inv} --every ${(info.readUInt32LE(4) + 1) >>> 0} --packet ${info.readUInt32LE(8)}`;
      }
      return '';
    },
  },
};
