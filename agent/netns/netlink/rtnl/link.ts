/**
 * RTM_NEWLINK messages (struct ifinfomsg + IFLA_* attributes, uapi linux/if_link.h) decoded to typed fields, and the
 * model's links built from them with `ip -d link show`'s conventions (iproute2 6.1: print_link_flags, the M-DOWN
 * mark of print_name_and_link, ll_addr_n2a). Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { Link } from '../../model/links.js';
import { optStr, optU32 } from '../attrs.js';
import { attrMap, formatAddress, read } from '../nlmsg.js';
import { IFINFOMSG_LEN, decodeIfInfoMsg } from './messages.js';

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_QDISC = 6;
const IFLA_MASTER = 10;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_LINK_NETNSID = 37;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_SLAVE_KIND = 4;

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

/** Flag bits in the order `ip` prints them (print_link_flags). */
const FLAG_ORDER: [string, number][] = [
  ['LOOPBACK', 0x8], ['BROADCAST', 0x2], ['POINTOPOINT', 0x10], ['MULTICAST', 0x1000], ['NOARP', 0x80], ['ALLMULTI', 0x200],
  ['PROMISC', 0x100], ['MASTER', 0x400], ['SLAVE', 0x800], ['DEBUG', 0x4], ['DYNAMIC', 0x8000], ['AUTOMEDIA', 0x4000],
  ['PORTSEL', 0x2000], ['NOTRAILERS', 0x20], ['UP', 0x1], ['LOWER_UP', 0x10000], ['DORMANT', 0x20000], ['ECHO', 0x40000],
];

const OPER_STATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];

const ARPHRD_TUNNEL = 768;
const ARPHRD_TUNNEL6 = 769;
const ARPHRD_SIT = 776;
const ARPHRD_IPGRE = 778;
const ARPHRD_IP6GRE = 823;

/** One RTM_NEWLINK message, typed. */
export interface LinkMessage {
  index: number;
  /** ARPHRD_* type. */
  type: number;
  flags: number;
  name: string;
  mtu: number | null;
  master: number | null;
  /** IFLA_LINK as sent (0 is kept: `ip` prints `"link": null` for it). */
  link: number | null;
  linkNetnsId: number | null;
  operState: number | null;
  address: Buffer | null;
  qdisc: string | null;
  kind: string | null;
  slaveKind: string | null;
}

export function decodeLinkMessage(payload: Buffer): LinkMessage {
  const hdr = decodeIfInfoMsg(payload);
  const a = attrMap(payload, IFINFOMSG_LEN);
  const name = a.get(IFLA_IFNAME);
  if (name === undefined) throw new DecodeError('RTM_NEWLINK', 0, `link ${hdr.index} has no IFLA_IFNAME`);
  let kind: string | null = null;
  let slaveKind: string | null = null;
  const info = a.get(IFLA_LINKINFO);
  if (info !== undefined) {
    const li = attrMap(info);
    kind = optStr(li, IFLA_INFO_KIND) ?? null;
    slaveKind = optStr(li, IFLA_INFO_SLAVE_KIND) ?? null;
  }
  const op = a.get(IFLA_OPERSTATE);
  const netnsid = a.get(IFLA_LINK_NETNSID);
  return {
    index: hdr.index,
    type: hdr.type,
    flags: hdr.flags,
    name: read.str(name),
    mtu: optU32(a, IFLA_MTU, 'IFLA_MTU') ?? null,
    master: optU32(a, IFLA_MASTER, 'IFLA_MASTER') ?? null,
    link: optU32(a, IFLA_LINK, 'IFLA_LINK') ?? null,
    linkNetnsId: netnsid === undefined ? null : read.s32(netnsid, 'IFLA_LINK_NETNSID'),
    operState: op === undefined ? null : read.u8(op, 'IFLA_OPERSTATE'),
    address: a.get(IFLA_ADDRESS) ?? null,
    qdisc: optStr(a, IFLA_QDISC) ?? null,
    kind,
    slaveKind,
  };
}

/** ll_addr_n2a: IPv4/IPv6 text for tunnel types, colon-separated lower-case hex otherwise. */
export function formatLinkAddress(addr: Buffer, type: number): string {
  if (addr.length === 4 && (type === ARPHRD_TUNNEL || type === ARPHRD_SIT || type === ARPHRD_IPGRE)) return formatAddress(addr);
  if (addr.length === 16 && (type === ARPHRD_TUNNEL6 || type === ARPHRD_IP6GRE)) return formatAddress(addr);
  return [...addr].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** IFF_* names in `ip`'s order, NO-CARRIER first, unnamed bits as one hex word, M-DOWN last. */
export function linkFlagNames(flags: number, peerDown: boolean): string[] {
  const out: string[] = [];
  if (flags & IFF_UP && !(flags & IFF_RUNNING)) out.push('NO-CARRIER');
  let rest = (flags & ~IFF_RUNNING) >>> 0;
  for (const [name, bit] of FLAG_ORDER) {
    if (rest & bit) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest) out.push(rest.toString(16));
  if (peerDown) out.push('M-DOWN');
  return out;
}

/** IF_OPER_* name, or the number as text past the table (`ip` prints `operstate_index` then). */
export function operStateName(state: number): string {
  return OPER_STATES[state] ?? String(state);
}

/**
 * The model's links from every RTM_NEWLINK of one dump. M-DOWN (the local peer of a link is down) needs the
 * peer's flags, hence the whole list.
 */
export function linksFromMessages(msgs: LinkMessage[]): Link[] {
  const byIndex = new Map(msgs.map((m) => [m.index, m]));
  return msgs.map((m) => {
    const localPeer = m.link !== null && m.link !== 0 && m.linkNetnsId === null ? byIndex.get(m.link) : undefined;
    // print_name_and_link: ll_index_to_flags of an unknown index is 0, i.e. "down".
    const peerDown = m.link !== null && m.link !== 0 && m.linkNetnsId === null && !((localPeer?.flags ?? 0) & IFF_UP);
    return {
      index: m.index,
      name: m.name,
      kind: m.kind,
      slaveKind: m.slaveKind,
      master: m.master,
      mtu: m.mtu ?? 0,
      flags: linkFlagNames(m.flags, peerDown),
      operState: m.operState === null ? null : operStateName(m.operState),
      address: m.address === null ? null : formatLinkAddress(m.address, m.type),
      link: m.link === null || m.link === 0 ? null : m.link,
      linkNetnsId: m.linkNetnsId,
    };
  });
}
