/**
 * `-m icmp` (libipt_icmp.c, struct ipt_icmp) and `-m icmp6` (libip6t_icmp6.c, struct ip6t_icmp): { u8 type;
 * u8 code[2]; u8 invflags }. Saved numerically; type 0xFF is IPv4's `any`.
 */
import type { XtDecoder } from './types.js';

const INV = 0x01;

export const icmpMatch: Record<number, XtDecoder> = {
  0: {
    family: 'ipv4',
    size: 4,
    save({ info }) {
      const inv = info[3]! & INV ? ' !' : '';
      const type = info[0]!;
      if (type === 0xff) return `${inv} --icmp-type any`;
      const code = info[1] !== 0 || info[2] !== 0xff ? `/${info[1]}` : '';
      return `${inv} --icmp-type ${type}${code}`;
    },
  },
};

export const icmp6Match: Record<number, XtDecoder> = {
  0: {
    family: 'ipv6',
    size: 4,
    save({ info }) {
      const code = info[1] !== 0 || info[2] !== 0xff ? `/${info[1]}` : '';
      return `${info[3]! & INV ? ' !' : ''} --icmpv6-type ${info[0]}${code}`;
    },
  },
};
