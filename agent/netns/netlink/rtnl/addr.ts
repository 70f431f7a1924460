/**
 * RTM_NEWADDR messages (struct ifaddrmsg + IFA_* attributes, uapi linux/if_addr.h) decoded to typed fields, and the
 * model's addresses in `ip addr show`'s order: per link in link order, each link's addresses in dump order (IPv4
 * before IPv6, as the AF_UNSPEC dump sends them). Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { Address } from '../../model/links.js';
import { scopeName } from '../../model/rt-names.js';
import { optAddress, optStr, optU32 } from '../attrs.js';
import { attrMap } from '../nlmsg.js';
import { AF_INET, AF_INET6, IFADDRMSG_LEN, decodeIfAddrMsg } from './messages.js';

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;

export interface AddrMessage {
  family: number;
  index: number;
  prefixLength: number;
  scope: number;
  /** IFA_FLAGS when sent (32 bits), else the header's 8-bit flags. */
  flags: number;
  address: string | null;
  local: string | null;
  broadcast: string | null;
  label: string | null;
}

export function decodeAddrMessage(payload: Buffer): AddrMessage {
  const h = decodeIfAddrMsg(payload);
  const a = attrMap(payload, IFADDRMSG_LEN);
  return {
    family: h.family,
    index: h.index,
    prefixLength: h.prefixLength,
    scope: h.scope,
    flags: optU32(a, IFA_FLAGS, 'IFA_FLAGS') ?? h.flags,
    address: optAddress(a, IFA_ADDRESS) ?? null,
    local: optAddress(a, IFA_LOCAL) ?? null,
    broadcast: optAddress(a, IFA_BROADCAST) ?? null,
    label: optStr(a, IFA_LABEL) ?? null,
  };
}

/** The model's address (IPv4 and IPv6 only; null for other families). `names` maps ifindex -> interface name. */
export function addressOf(m: AddrMessage, names: Map<number, string>): Address | null {
  if (m.family !== AF_INET && m.family !== AF_INET6) return null;
  const addr = m.local ?? m.address;
  if (addr === null) throw new DecodeError('RTM_NEWADDR', 0, `address on ifindex ${m.index} has neither IFA_LOCAL nor IFA_ADDRESS`);
  return {
    index: m.index,
    interface: names.get(m.index) ?? `if${m.index}`,
    family: m.family === AF_INET ? 'ipv4' : 'ipv6',
    address: addr,
    prefixLength: m.prefixLength,
    scope: scopeName(m.scope),
  };
}

/** Addresses grouped by link in `linkOrder` (ifindexes as the link dump listed them), stable within a link. */
export function orderAddresses(addresses: Address[], linkOrder: number[]): Address[] {
  const pos = new Map(linkOrder.map((ix, i) => [ix, i]));
  return addresses
    .map((a, i) => ({ a, i }))
    .sort((x, y) => (pos.get(x.a.index) ?? Infinity) - (pos.get(y.a.index) ?? Infinity) || x.i - y.i)
    .map((x) => x.a);
}
