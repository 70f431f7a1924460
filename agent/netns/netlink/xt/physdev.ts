/**
 * `-m physdev` (libxt_physdev.c, xt_physdev.h: { char physindev[16], in_mask[16], physoutdev[16], out_mask[16];
 * u8 invert, bitmask }). Device names are printed as they are (no quoting, `+` kept).
 */
import { cString } from './format.js';
import type { XtDecoder } from './types.js';
import { unprintable } from './types.js';

const OP_IN = 0x01;
const OP_OUT = 0x02;
const OP_BRIDGED = 0x04;
const OP_ISIN = 0x08;
const OP_ISOUT = 0x10;

function name(info: Buffer, offset: number): string {
  const s = cString(info, offset, 16);
  if (s === null) throw unprintable('xt_physdev_info', offset, 'device name has no terminating NUL');
  return s;
}

export const physdevMatch: Record<number, XtDecoder> = {
  0: {
    size: 66,
    save({ info }) {
      const invert = info[64]!;
      const bits = info[65]!;
      const not = (op: number): string => (invert & op ? ' !' : '');
      let out = '';
      if (bits & OP_ISIN) out += `${not(OP_ISIN)} --physdev-is-in`;
      if (bits & OP_IN) out += `${not(OP_IN)} --physdev-in ${name(info, 0)}`;
      if (bits & OP_ISOUT) out += `${not(OP_ISOUT)} --physdev-is-out`;
      if (bits & OP_OUT) out += `${not(OP_OUT)} --physdev-out ${name(info, 32)}`;
      if (bits & OP_BRIDGED) out += `${not(OP_BRIDGED)} --physdev-is-bridged`;
      return out;
    },
  },
};
