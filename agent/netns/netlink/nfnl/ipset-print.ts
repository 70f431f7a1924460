/**
 * One ipset element and one set header, from IPSET_CMD_LIST attributes to the text `ipset save` prints and the
 * typed fields (libipset 7.17 print.c, session.c list_create / list_adt). Pure; a malformed attribute is a
 * DecodeError.
 */
import { DecodeError } from '../../../errors.js';
import type { Ipset, IpsetMember } from '../../model/ipset.js';
import { Attrs } from './attrs.js';
import { ipv4At, ipv6At } from '../xt/format.js';
import { netbaseProtocolName } from '../xtables/protocols.js';
import { icmpTypeCode, type IpsetTypeSpec } from '../../model/ipset-types.js';
import { NFPROTO_IPV4, NFPROTO_IPV6 } from './nfgen.js';

/**
 * Attribute numbers (uapi linux/netfilter/ipset/ip_set.h): 1..16 are shared by headers and elements, 17.. mean
 * one thing in a header (IPSET_ATTR_CREATE_*) and another in an element (IPSET_ATTR_ADT_*).
 */
const A = {
  IP: 1, IP_TO: 2, CIDR: 3, PORT: 4, PORT_TO: 5, TIMEOUT: 6, PROTO: 7, CADT_FLAGS: 8, MARK: 10, MARKMASK: 11,
  BITMASK: 12,
  // header
  INITVAL: 17, HASHSIZE: 18, MAXELEM: 19, NETMASK: 20, BUCKETSIZE: 21, SIZE: 23, REFERENCES: 25,
  // element
  ETHER: 17, NAME: 18, IP2: 20, CIDR2: 21, IFACE: 23, BYTES: 24, PACKETS: 25, COMMENT: 26, SKBMARK: 27,
  SKBPRIO: 28, SKBQUEUE: 29,
} as const;

const IPADDR_IPV4 = 1;
const IPADDR_IPV6 = 2;
const FLAG_PHYSDEV = 0x02;
const FLAG_NOMATCH = 0x04;
const FLAG_WITH_COUNTERS = 0x08;
const FLAG_WITH_COMMENT = 0x10;
const FLAG_WITH_SKBINFO = 0x40;
const FLAG_IFACE_WILDCARD = 0x80;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;

/** A nested IPSET_ATTR_IPADDR_* address of the set's family, as text. */
function address(buf: Buffer, family: number): string {
  const a = new Attrs('ipset address', buf);
  if (family === NFPROTO_IPV4) {
    const b = a.need(a.raw(IPADDR_IPV4), IPADDR_IPV4);
    if (b.length < 4) throw new DecodeError('ipset address', 0, `${b.length} bytes for IPv4`);
    return ipv4At(b, 0);
  }
  if (family === NFPROTO_IPV6) {
    const b = a.need(a.raw(IPADDR_IPV6), IPADDR_IPV6);
    if (b.length < 16) throw new DecodeError('ipset address', 0, `${b.length} bytes for IPv6`);
    return ipv6At(b, 0);
  }
  throw new DecodeError('ipset address', 0, `address in a set of family ${family}`);
}

/** ipset_print_ip: the address, `/cidr` unless it is the full length, `-to` for a range. */
function ipText(a: Attrs, ipAttr: number, cidrAttr: number, family: number): { text: string; ip: string; cidr: number | null } {
  const full = family === NFPROTO_IPV6 ? 128 : 32;
  const c = a.u8(cidrAttr);
  const cidr = c === null || c === full ? null : c;
  const ip = address(a.need(a.raw(ipAttr), ipAttr), family);
  let text = cidr === null ? ip : `${ip}/${cidr}`;
  const to = a.raw(A.IP_TO);
  if (to !== null) text += `-${address(to, family)}${cidr === null ? '' : `/${cidr}`}`;
  return { text, ip, cidr };
}

function portText(a: Attrs): string {
  const port = a.need(a.u16(A.PORT), A.PORT);
  const to = a.u16(A.PORT_TO);
  return to === null ? String(port) : `${port}-${to}`;
}

function mac(b: Buffer | null): string {
  if (b === null || b.length < 6) throw new DecodeError('ipset ether', 0, 'missing or short MAC address');
  return [...b.subarray(0, 6)].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

/** One IPSET_ATTR_DATA element of a set. */
export function decodeMember(buf: Buffer, spec: IpsetTypeSpec, family: number): IpsetMember {
  const a = new Attrs('ipset element', buf);
  // One literal with every field (emptyMemberFields' keys): a constant object shape, no spread.
  const m: IpsetMember = {
    value: '', options: '', ip: null, cidr: null, proto: null, port: null, ip2: null, cidr2: null, iface: null,
    physdev: false, name: null, timeout: null, packets: null, bytes: null, comment: null, nomatch: false,
  };
  const flags = a.u32(A.CADT_FLAGS) ?? 0;
  const parts: string[] = [];
  for (let i = 0; i < spec.elem.length; i++) {
    switch (spec.elem[i]) {
      case 'ip':
      case 'net': {
        const r = ipText(a, A.IP, A.CIDR, family);
        m.ip = r.ip;
        m.cidr = r.cidr;
        parts.push(r.text);
        break;
      }
      case 'ip2': {
        const r = ipText(a, A.IP2, A.CIDR2, family);
        m.ip2 = r.ip;
        m.cidr2 = r.cidr;
        parts.push(r.text);
        break;
      }
      case 'proto-port': {
        const proto = a.u8(A.PROTO);
        const port = a.need(a.u16(A.PORT), A.PORT);
        if (proto === null) {
          m.proto = null;
          m.port = port;
          parts.push(portText(a));
        } else {
          const name = netbaseProtocolName(proto) ?? String(proto);
          m.proto = name;
          if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
            m.port = null;
            parts.push(`${name}:${icmpTypeCode(proto === IPPROTO_ICMPV6, port >> 8, port & 0xff)}`);
          } else {
            m.port = port;
            parts.push(`${name}:${portText(a)}`);
          }
        }
        break;
      }
      case 'port':
        m.port = a.need(a.u16(A.PORT), A.PORT);
        parts.push(portText(a));
        break;
      case 'iface': {
        const name = a.need(a.str(A.IFACE), A.IFACE);
        m.iface = name;
        m.physdev = (flags & FLAG_PHYSDEV) !== 0;
        parts.push(`${m.physdev ? 'physdev:' : ''}${name}`);
        break;
      }
      case 'name':
        m.name = a.need(a.str(A.NAME), A.NAME);
        parts.push(m.name);
        break;
      case 'mark':
        parts.push(`0x${hex8(a.need(a.u32(A.MARK), A.MARK))}`);
        break;
      case 'mac':
        if (spec.lastOptional && i === spec.elem.length - 1 && !a.has(A.ETHER)) break;
        parts.push(mac(a.raw(A.ETHER)));
        break;
    }
  }
  m.value = parts.join(',');
  const opts: string[] = [];
  m.timeout = a.u32(A.TIMEOUT);
  if (m.timeout !== null) opts.push(`timeout ${m.timeout}`);
  m.nomatch = (flags & FLAG_NOMATCH) !== 0;
  if (m.nomatch) opts.push('nomatch');
  if (flags & FLAG_IFACE_WILDCARD) opts.push('wildcard');
  m.packets = a.u64(A.PACKETS);
  if (m.packets !== null) opts.push(`packets ${m.packets}`);
  m.bytes = a.u64(A.BYTES);
  if (m.bytes !== null) opts.push(`bytes ${m.bytes}`);
  m.comment = a.str(A.COMMENT);
  if (m.comment !== null) opts.push(`comment "${m.comment}"`);
  const skbmark = a.raw(A.SKBMARK);
  if (skbmark !== null) {
    if (skbmark.length < 8) throw new DecodeError('ipset skbmark', 0, `${skbmark.length} bytes, need 8`);
    const mark = skbmark.readUInt32BE(0);
    const mask = skbmark.readUInt32BE(4);
    opts.push(`skbmark 0x${mark.toString(16)}${mask === 0xffffffff ? '' : `/0x${mask.toString(16)}`}`);
  }
  const prio = a.u32(A.SKBPRIO);
  if (prio !== null) opts.push(`skbprio ${(prio >>> 16).toString(16)}:${(prio & 0xffff).toString(16)}`);
  const queue = a.u16(A.SKBQUEUE);
  if (queue !== null) opts.push(`skbqueue ${queue}`);
  m.options = opts.join(' ');
  return m;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** The header of a set (IPSET_ATTR_DATA of the first message): creation options text and typed fields. */
export function decodeHeader(buf: Buffer, spec: IpsetTypeSpec, family: number): Pick<Ipset, 'optionsText' | 'family' | 'hashsize' | 'maxelem' | 'timeout' | 'size' | 'counters' | 'comment' | 'skbinfo' | 'references'> {
  const a = new Attrs('ipset header', buf);
  const flags = a.u32(A.CADT_FLAGS) ?? 0;
  const familyText = family === NFPROTO_IPV4 ? 'inet' : family === NFPROTO_IPV6 ? 'inet6' : 'any';
  const words: string[] = [];
  const num = (key: string, v: number | null): void => {
    if (v !== null) words.push(`${key} ${v}`);
  };
  for (const opt of spec.create) {
    switch (opt) {
      case 'family':
        words.push(`family ${familyText}`);
        break;
      case 'hashsize':
        num(opt, a.u32(A.HASHSIZE));
        break;
      case 'maxelem':
        num(opt, a.u32(A.MAXELEM));
        break;
      case 'netmask':
        num(opt, a.u8(A.NETMASK));
        break;
      case 'bucketsize':
        num(opt, a.u8(A.BUCKETSIZE));
        break;
      case 'timeout':
        num(opt, a.u32(A.TIMEOUT));
        break;
      case 'size':
        num(opt, a.u32(A.SIZE));
        break;
      case 'bitmask': {
        const b = a.raw(A.BITMASK);
        if (b !== null) words.push(`bitmask ${address(b, family)}`);
        break;
      }
      case 'markmask': {
        const v = a.u32(A.MARKMASK);
        if (v !== null) words.push(`markmask 0x${hex8(v)}`);
        break;
      }
      case 'initval': {
        const v = a.u32(A.INITVAL);
        if (v !== null) words.push(`initval 0x${hex8(v)}`);
        break;
      }
      case 'counters':
        if (flags & FLAG_WITH_COUNTERS) words.push(opt);
        break;
      case 'comment':
        if (flags & FLAG_WITH_COMMENT) words.push(opt);
        break;
      case 'skbinfo':
        if (flags & FLAG_WITH_SKBINFO) words.push(opt);
        break;
      case 'range':
        if (spec.elem[0] === 'port') {
          if (a.has(A.PORT)) words.push(`range ${portText(a)}`);
        } else if (a.has(A.IP)) {
          words.push(`range ${ipText(a, A.IP, A.CIDR, family).text}`);
        }
        break;
    }
  }
  return {
    optionsText: words.join(' '),
    family: spec.create.includes('family') && familyText !== 'any' ? familyText : null,
    hashsize: a.u32(A.HASHSIZE),
    maxelem: a.u32(A.MAXELEM),
    timeout: a.u32(A.TIMEOUT),
    size: a.u32(A.SIZE),
    counters: (flags & FLAG_WITH_COUNTERS) !== 0,
    comment: (flags & FLAG_WITH_COMMENT) !== 0,
    skbinfo: (flags & FLAG_WITH_SKBINFO) !== 0,
    references: a.u32(A.REFERENCES) ?? 0,
  };
}
