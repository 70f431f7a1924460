/** `-m mac` (libxt_mac.c, xt_mac.h: { u8 srcaddr[6]; int invert }): lower-case hex, colon-separated. */
import type { XtDecoder } from './types.js';

export const macMatch: Record<number, XtDecoder> = {
  0: {
    size: 12,
    save({ info }) {
      const mac = [...info.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      return `${info.readInt32LE(8) ? ' !' : ''} --mac-source ${mac}`;
    },
  },
};
