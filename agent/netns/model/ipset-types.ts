import type { IpsetMember } from './ipset.js';

/**
 * What `ipset save` (ipset 7.17, lib/ipset_*.c type definitions) prints for each set type: the creation options
 * in the type's order, the parts of an element, whether the family is printed. Options are printed only when the
 * kernel sent them, so one list per type covers every revision. Data, pure.
 */

/** A creation option: its keyword, and how its value is printed (none for flags). */
export type CreateOpt =
  | 'family' | 'hashsize' | 'maxelem' | 'netmask' | 'bitmask' | 'markmask' | 'timeout' | 'counters' | 'comment'
  | 'skbinfo' | 'bucketsize' | 'initval' | 'size' | 'range';

/** One part of an element, printed with `,` between parts. */
export type ElemPart = 'ip' | 'net' | 'proto-port' | 'ip2' | 'iface' | 'name' | 'mark' | 'mac' | 'port';

export interface IpsetTypeSpec {
  create: CreateOpt[];
  elem: ElemPart[];
  /** bitmap:ip,mac: the MAC part is printed only when the element has one. */
  lastOptional?: boolean;
}

const HASH_TAIL: CreateOpt[] = ['timeout', 'counters', 'comment', 'skbinfo', 'bucketsize', 'initval'];
const BITMAP_TAIL: CreateOpt[] = ['timeout', 'counters', 'comment', 'skbinfo'];

export const IPSET_TYPES: Record<string, IpsetTypeSpec> = {
  'hash:ip': { create: ['family', 'hashsize', 'maxelem', 'netmask', 'bitmask', ...HASH_TAIL], elem: ['ip'] },
  'hash:net': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['net'] },
  'hash:ip,port': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL, 'netmask', 'bitmask'], elem: ['ip', 'proto-port'] },
  'hash:net,port': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['net', 'proto-port'] },
  'hash:net,iface': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['net', 'iface'] },
  'hash:ip,port,ip': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['ip', 'proto-port', 'ip2'] },
  'hash:ip,port,net': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['ip', 'proto-port', 'ip2'] },
  'hash:net,port,net': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['net', 'proto-port', 'ip2'] },
  'hash:net,net': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL, 'bitmask', 'netmask'], elem: ['net', 'ip2'] },
  'hash:ip,mark': { create: ['family', 'markmask', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['ip', 'mark'] },
  'hash:ip,mac': { create: ['family', 'hashsize', 'maxelem', ...HASH_TAIL], elem: ['ip', 'mac'] },
  'hash:mac': { create: ['hashsize', 'maxelem', ...HASH_TAIL], elem: ['mac'] },
  'list:set': { create: ['size', 'timeout', 'counters', 'comment', 'skbinfo'], elem: ['name'] },
  'bitmap:ip': { create: ['range', 'netmask', ...BITMAP_TAIL], elem: ['ip'] },
  'bitmap:ip,mac': { create: ['range', ...BITMAP_TAIL], elem: ['ip', 'mac'], lastOptional: true },
  'bitmap:port': { create: ['range', ...BITMAP_TAIL], elem: ['port'] },
};

/** libipset icmp.c: the first name of each ICMP type/code. */
const ICMP_NAMES =
  '0/0 echo-reply;3/0 network-unreachable;3/1 host-unreachable;3/2 protocol-unreachable;3/3 port-unreachable;' +
  '3/4 fragmentation-needed;3/5 source-route-failed;3/6 network-unknown;3/7 host-unknown;3/9 network-prohibited;' +
  '3/10 host-prohibited;3/11 TOS-network-unreachable;3/12 TOS-host-unreachable;3/13 communication-prohibited;' +
  '3/14 host-precedence-violation;3/15 precedence-cutoff;4/0 source-quench;5/0 network-redirect;5/1 host-redirect;' +
  '5/2 TOS-network-redirect;5/3 TOS-host-redirect;8/0 echo-request;9/0 router-advertisement;10/0 router-solicitation;' +
  '11/0 ttl-zero-during-transit;11/1 ttl-zero-during-reassembly;12/0 ip-header-bad;12/1 required-option-missing;' +
  '13/0 timestamp-request;14/0 timestamp-reply;17/0 address-mask-request;18/0 address-mask-reply';

/** libipset icmpv6.c: the first name of each ICMPv6 type/code. */
const ICMPV6_NAMES =
  '1/0 no-route;1/1 communication-prohibited;1/3 address-unreachable;1/4 port-unreachable;2/0 packet-too-big;' +
  '3/0 ttl-zero-during-transit;3/1 ttl-zero-during-reassembly;4/0 bad-header;4/1 unknown-header-type;' +
  '4/2 unknown-option;128/0 echo-request;129/0 echo-reply;133/0 router-solicitation;134/0 router-advertisement;' +
  '135/0 neighbour-solicitation;136/0 neighbour-advertisement;137/0 redirect';

function table(spec: string): Map<string, string> {
  return new Map(spec.split(';').map((p) => {
    const sp = p.indexOf(' ');
    return [p.slice(0, sp), p.slice(sp + 1)];
  }));
}

const ICMP = table(ICMP_NAMES);
const ICMPV6 = table(ICMPV6_NAMES);

/** ipset_print_icmp / _icmpv6: the name, or `type/code`. */
export function icmpTypeCode(v6: boolean, type: number, code: number): string {
  return (v6 ? ICMPV6 : ICMP).get(`${type}/${code}`) ?? `${type}/${code}`;
}

/** The typed member fields with nothing set: both readers start from this, so both fill the same keys. */
export function emptyMemberFields(): Required<Omit<IpsetMember, 'value' | 'options'>> {
  return {
    ip: null, cidr: null, proto: null, port: null, ip2: null, cidr2: null, iface: null, physdev: false, name: null,
    timeout: null, packets: null, bytes: null, comment: null, nomatch: false,
  };
}
