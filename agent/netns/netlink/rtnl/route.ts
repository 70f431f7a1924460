/**
 * RTM_NEWROUTE messages (struct rtmsg + RTA_* attributes, uapi linux/rtnetlink.h) decoded to typed fields, and the
 * model's routes as `ip route show table all` prints them (iproute2 6.1 print_route: destination text, table from
 * RTA_TABLE, cloned cache entries left out). Pure.
 */
import type { Route } from '../../model/links.js';
import { protocolName, routeTypeName, scopeName } from '../../model/rt-names.js';
import { optAddress, optU32 } from '../attrs.js';
import { attrMap, formatAddress } from '../nlmsg.js';
import { AF_INET, AF_INET6, RTMSG_LEN, decodeRtMsg, type RtMsg } from './messages.js';

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;
const RTA_VIA = 18;

/** The route is a cache clone (RTM_F_CLONED): `ip route show` leaves these out. */
const RTM_F_CLONED = 0x200;

export interface RouteMessage extends RtMsg {
  dst: string | null;
  gateway: string | null;
  oif: number | null;
  priority: number | null;
  prefsrc: string | null;
  /** RTA_TABLE when sent (tables above 255), else the header's table. */
  tableId: number;
}

export function decodeRouteMessage(payload: Buffer): RouteMessage {
  const h = decodeRtMsg(payload);
  const a = attrMap(payload, RTMSG_LEN);
  let gateway = optAddress(a, RTA_GATEWAY) ?? null;
  const via = a.get(RTA_VIA);
  // struct rtvia: u16 family, then the address (an IPv4 route via an IPv6 next hop).
  if (gateway === null && via !== undefined && via.length > 2) gateway = formatAddress(via.subarray(2));
  // Fields listed one by one: an object spread of the header costs several times the whole decode (V8).
  return {
    family: h.family,
    dstLength: h.dstLength,
    srcLength: h.srcLength,
    tos: h.tos,
    table: h.table,
    protocol: h.protocol,
    scope: h.scope,
    type: h.type,
    flags: h.flags,
    dst: optAddress(a, RTA_DST) ?? null,
    gateway,
    oif: optU32(a, RTA_OIF, 'RTA_OIF') ?? null,
    priority: optU32(a, RTA_PRIORITY, 'RTA_PRIORITY') ?? null,
    prefsrc: optAddress(a, RTA_PREFSRC) ?? null,
    tableId: optU32(a, RTA_TABLE, 'RTA_TABLE') ?? h.table,
  };
}

/** print_route's destination: `default`, the address alone for a host route, `addr/len`, or `0/len` without RTA_DST. */
export function routeDestination(dst: string | null, dstLength: number, hostLength: number): string {
  if (dst !== null) return dstLength === hostLength ? dst : `${dst}/${dstLength}`;
  return dstLength !== 0 ? `0/${dstLength}` : 'default';
}

/** The model's route, or null for what `ip route show table all` does not print (other families, cache clones). */
export function routeOf(m: RouteMessage, names: Map<number, string>): Route | null {
  if (m.family !== AF_INET && m.family !== AF_INET6) return null;
  if (m.flags & RTM_F_CLONED) return null;
  return {
    family: m.family === AF_INET ? 'ipv4' : 'ipv6',
    table: m.tableId,
    destination: routeDestination(m.dst, m.dstLength, m.family === AF_INET ? 32 : 128),
    gateway: m.gateway,
    interface: m.oif === null ? null : (names.get(m.oif) ?? `if${m.oif}`),
    type: routeTypeName(m.type),
    protocol: protocolName(m.protocol),
    scope: scopeName(m.scope),
    source: m.prefsrc,
    metric: m.priority,
  };
}
