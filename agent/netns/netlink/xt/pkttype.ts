/** `-m pkttype` (libxt_pkttype.c, xt_pkttype.h: { int pkttype; int invert }). */
import type { XtDecoder } from './types.js';

/** supported_types: PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3 (first name wins). */
const NAMES = ['unicast', 'broadcast', 'multicast', 'otherhost'];

export const pkttypeMatch: Record<number, XtDecoder> = {
  0: {
    size: 8,
    save({ info }) {
      const type = info.readInt32LE(0);
      return `${info.readInt32LE(4) ? ' !' : ''} --pkt-type ${NAMES[type] ?? String(type)}`;
    },
  },
};
