/**
 * `-m addrtype` (libxt_addrtype.c, xt_addrtype.h). Revision 0 (IPv4): { u16 source, dest; u32 invert_source,
 * invert_dest }; revision 1: { u16 source, dest; u32 flags }. Type masks are bit i = RTN_* i.
 */
import type { XtDecoder } from './types.js';

const RTN_NAMES = ['UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE', 'UNREACHABLE', 'PROHIBIT', 'THROW', 'NAT', 'XRESOLVE'];

const INVERT_SOURCE = 0x1;
const INVERT_DEST = 0x2;
const LIMIT_IFACE_IN = 0x4;
const LIMIT_IFACE_OUT = 0x8;

function types(mask: number): string {
  return RTN_NAMES.filter((_, i) => mask & (1 << i)).join(',');
}

function both(source: number, dest: number, invSource: boolean, invDest: boolean): string {
  let out = '';
  if (source) out += `${invSource ? ' !' : ''} --src-type ${types(source)}`;
  if (dest) out += `${invDest ? ' !' : ''} --dst-type ${types(dest)}`;
  return out;
}

export const addrtypeMatch: Record<number, XtDecoder> = {
  0: {
    family: 'ipv4',
    size: 12,
    save: ({ info }) => both(info.readUInt16LE(0), info.readUInt16LE(2), info.readUInt32LE(4) !== 0, info.readUInt32LE(8) !== 0),
  },
  1: {
    size: 8,
    save({ info }) {
      const flags = info.readUInt32LE(4);
      let out = both(info.readUInt16LE(0), info.readUInt16LE(2), (flags & INVERT_SOURCE) !== 0, (flags & INVERT_DEST) !== 0);
      if (flags & LIMIT_IFACE_IN) out += ' --limit-iface-in';
      if (flags & LIMIT_IFACE_OUT) out += ' --limit-iface-out';
      return out;
    },
  },
};
