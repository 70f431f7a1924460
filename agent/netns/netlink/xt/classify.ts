/** `-j CLASSIFY` (libxt_CLASSIFY.c, xt_CLASSIFY.h: u32 priority): ` --set-class %.4x:%.4x` (tc's 1:4 is 0001:0004). */
import { hex4 } from './format.js';
import type { XtDecoder } from './types.js';

export const classifyTarget: Record<number, XtDecoder> = {
  0: {
    size: 4,
    save({ info }) {
      const p = info.readUInt32LE(0);
      return ` --set-class ${hex4(p >>> 16)}:${hex4(p & 0xffff)}`;
    },
  },
};
