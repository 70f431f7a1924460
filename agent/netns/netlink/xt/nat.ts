/**
 * NAT targets (libxt_NAT.c, nf_nat.h): SNAT, DNAT, MASQUERADE, REDIRECT. IPv4 revision 0 carries struct
 * nf_nat_ipv4_multi_range_compat (rangesize, then one range: flags, min_ip, max_ip, min, max ports); IPv6 and
 * revision >= 1 carry struct nf_nat_range (flags, min/max addr as nf_inet_addr, min/max proto), DNAT revision 2
 * struct nf_nat_range2 (plus base_proto). Each is normalised to a range2 and printed by one function, as
 * __NAT_print does.
 */
import type { IpFamily } from '../../model/iptables.js';
import { ipv4At, ipv6At } from './format.js';
import type { XtDecoder } from './types.js';

const MAP_IPS = 1 << 0;
const PROTO_SPECIFIED = 1 << 1;
const PROTO_RANDOM = 1 << 2;
const PERSISTENT = 1 << 3;
const PROTO_RANDOM_FULLY = 1 << 4;
const PROTO_OFFSET = 1 << 5;

interface Range {
  flags: number;
  minAddr: string;
  maxAddr: string;
  sameAddr: boolean;
  minPort: number;
  maxPort: number;
  basePort: number;
}

/** nf_nat_ipv4_multi_range_compat: rangesize u32, then flags u32, min_ip, max_ip (be32), min, max (be16). */
function fromIpv4Compat(b: Buffer): Range {
  return {
    flags: b.readUInt32LE(4),
    minAddr: ipv4At(b, 8),
    maxAddr: ipv4At(b, 12),
    sameAddr: b.readUInt32BE(8) === b.readUInt32BE(12),
    minPort: b.readUInt16BE(16),
    maxPort: b.readUInt16BE(18),
    basePort: 0,
  };
}

/** nf_nat_range / nf_nat_range2: flags u32, min_addr[16], max_addr[16], min, max, (base) be16. */
function fromRange(b: Buffer, family: IpFamily, withBase: boolean): Range {
  const addr = family === 'ipv4' ? ipv4At : ipv6At;
  return {
    flags: b.readUInt32LE(0),
    minAddr: addr(b, 4),
    maxAddr: addr(b, 20),
    sameAddr: b.subarray(4, 20).equals(b.subarray(20, 36)),
    minPort: b.readUInt16BE(36),
    maxPort: b.readUInt16BE(38),
    basePort: withBase ? b.readUInt16BE(40) : 0,
  };
}

/** sprint_range + __NAT_print. */
function print(r: Range, family: IpFamily, option: string, skipColon: boolean): string {
  const brackets = family === 'ipv6' && (r.flags & PROTO_SPECIFIED) !== 0;
  let range = '';
  if (r.flags & MAP_IPS) {
    range += `${brackets ? '[' : ''}${r.minAddr}${r.sameAddr ? '' : `-${r.maxAddr}`}${brackets ? ']' : ''}`;
  }
  if (r.flags & PROTO_SPECIFIED) {
    range += `:${r.minPort}`;
    if (r.maxPort !== r.minPort) range += `-${r.maxPort}`;
    if (r.flags & PROTO_OFFSET) range += `/${r.basePort}`;
  }
  let out = '';
  if (range.length > 0) out += ` ${option}${skipColon && range.startsWith(':') ? range.slice(1) : range}`;
  if (r.flags & PROTO_RANDOM) out += ' --random';
  if (r.flags & PROTO_RANDOM_FULLY) out += ' --random-fully';
  if (r.flags & PERSISTENT) out += ' --persistent';
  return out;
}

function compat(option: string, skipColon: boolean): XtDecoder {
  return { family: 'ipv4', size: 20, save: ({ info }) => print(fromIpv4Compat(info), 'ipv4', option, skipColon) };
}

function range(option: string, skipColon: boolean, family?: IpFamily): XtDecoder {
  const d: XtDecoder = { size: 40, save: ({ info, family: f }) => print(fromRange(info, f, false), f, option, skipColon) };
  if (family !== undefined) d.family = family;
  return d;
}

function range2(option: string): XtDecoder {
  return { size: 42, save: ({ info, family }) => print(fromRange(info, family, true), family, option, false) };
}

/**
 * Revisions by family as iptables registers them: a revision registered for one family only is unknown in the
 * other. Keys are `${revision}`; the registry checks `family`.
 */
export const snatTarget: Record<number, XtDecoder> = {
  0: compat('--to-source ', false),
  1: range('--to-source ', false, 'ipv6'),
};

export const dnatTarget: Record<number, XtDecoder> = {
  0: compat('--to-destination ', false),
  1: range('--to-destination ', false, 'ipv6'),
  2: range2('--to-destination '),
};

/** Revision 0 in both families, with a different struct: the registry picks by family. */
export const masqueradeTarget: Record<number, XtDecoder[]> = {
  0: [compat('--to-ports ', true), range('--to-ports ', true, 'ipv6')],
};

export const redirectTarget: Record<number, XtDecoder[]> = {
  0: [compat('--to-ports ', true), range('--to-ports ', true, 'ipv6')],
};
