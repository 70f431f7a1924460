/**
 * `-j REJECT` (libipt_REJECT.c / libip6t_REJECT.c; ipt_REJECT.h / ip6t_REJECT.h: u32 `with`). iptables prints the
 * first name of reject_table[with]; the entries compiled out (#if 0) and values past the table have no name.
 */
import type { XtDecoder } from './types.js';
import { unprintable } from './types.js';

const IPV4: (string | undefined)[] = [
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-proto-unreachable',
  'icmp-port-unreachable',
  undefined, // IPT_ICMP_ECHOREPLY
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'tcp-reset',
  'icmp-admin-prohibited',
];

const IPV6: (string | undefined)[] = [
  'icmp6-no-route',
  'icmp6-adm-prohibited',
  undefined, // IP6T_ICMP6_NOT_NEIGHBOUR
  'icmp6-addr-unreachable',
  'icmp6-port-unreachable',
  undefined, // IP6T_ICMP6_ECHOREPLY
  'tcp-reset',
  'icmp6-policy-fail',
  'icmp6-reject-route',
];

function decoder(family: 'ipv4' | 'ipv6', table: (string | undefined)[]): XtDecoder {
  return {
    family,
    size: 4,
    save({ info }) {
      const withValue = info.readUInt32LE(0);
      const name = table[withValue];
      if (name === undefined) throw unprintable('reject_info', 0, `reject type ${withValue} has no name`);
      return ` --reject-with ${name}`;
    },
  };
}

export const rejectTarget: Record<number, XtDecoder[]> = {
  0: [decoder('ipv4', IPV4), decoder('ipv6', IPV6)],
};
