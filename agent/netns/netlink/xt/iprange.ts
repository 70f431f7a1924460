/**
 * `-m iprange` revision 1 (libxt_iprange.c, xt_iprange.h: { nf_inet_addr src_min, src_max, dst_min, dst_max; u8
 * flags }), IPv4 and IPv6. Revision 0 (IPv4 only, struct ipt_iprange_info) is printed the same way by iptables but
 * has its own struct; it is not decoded (iptables 1.8.9 writes revision 1).
 */
import type { IpFamily } from '../../model/iptables.js';
import { ipv4At, ipv6At } from './format.js';
import type { XtDecoder } from './types.js';

const SRC = 1 << 0;
const DST = 1 << 1;
const SRC_INV = 1 << 4;
const DST_INV = 1 << 5;

function range(info: Buffer, min: number, family: IpFamily): string {
  const at = family === 'ipv4' ? ipv4At : ipv6At;
  return `${at(info, min)}-${at(info, min + 16)}`;
}

export const iprangeMatch: Record<number, XtDecoder> = {
  1: {
    size: 65,
    save({ info, family }) {
      const flags = info[64]!;
      let out = '';
      if (flags & SRC) out += `${flags & SRC_INV ? ' !' : ''} --src-range ${range(info, 0, family)}`;
      if (flags & DST) out += `${flags & DST_INV ? ' !' : ''} --dst-range ${range(info, 32, family)}`;
      return out;
    },
  },
};
