/**
 * ipset state, as both readers produce it (`ipset save` text, or IPSET_CMD_LIST over nfnetlink). `value`,
 * `options` and `optionsText` are exactly the text `ipset save` prints; the typed fields are filled by both readers
 * (the tools reader parses them out of that text, the netlink reader takes them from the attributes), except the
 * few marked netlink-only, which `ipset save` does not print.
 */
import type { ParseError } from '../../errors.js';

export interface IpsetMember {
  /** Element as written (`10.0.0.0/24`, `10.0.0.1,tcp:80`, `net_abc`). */
  value: string;
  /** Extra options after the element (timeout, comment, ...), raw. */
  options: string;
  /** First address of the element (hash:ip*, hash:net*, bitmap:ip*), without its prefix length. */
  ip?: string | null;
  /** Prefix length printed after the address (`/24`), null for a host (none printed). */
  cidr?: number | null;
  /** Protocol name of a port part (`tcp` in `tcp:80`), null when the element has no port or the port has no protocol. */
  proto?: string | null;
  /** Port of the element (hash:*port*, bitmap:port), or null; for ICMP elements, null (see `value`). */
  port?: number | null;
  /** Second address of three-part and net,net elements, with its prefix length. */
  ip2?: string | null;
  cidr2?: number | null;
  /** Interface of hash:net,iface (without the `physdev:` prefix), and whether it is a physdev. */
  iface?: string | null;
  physdev?: boolean;
  /** Member set of a list:set. */
  name?: string | null;
  /** Seconds left, when the set has timeouts. */
  timeout?: number | null;
  /** Member counters, when the set has counters. */
  packets?: number | null;
  bytes?: number | null;
  comment?: string | null;
  nomatch?: boolean;
}

export interface Ipset {
  name: string;
  /** hash:net, hash:net,port, list:set, ... */
  type: string;
  /** Creation options, raw (`family inet hashsize 1024 maxelem 65536`) and parsed into key/value. */
  optionsText: string;
  options: Record<string, string | true>;
  members: IpsetMember[];
  /** `inet` / `inet6` for address sets; null for types printed without a family (list:set, hash:mac, bitmaps). */
  family?: 'inet' | 'inet6' | null;
  hashsize?: number | null;
  maxelem?: number | null;
  /** Default timeout of the set's members (seconds), null when the set has no timeouts. */
  timeout?: number | null;
  /** list:set size. */
  size?: number | null;
  counters?: boolean;
  /** The set stores member comments. */
  comment?: boolean;
  skbinfo?: boolean;
  /** Netlink only: the set type revision (ipset save does not print it). */
  revision?: number;
  /** Netlink only: how many iptables rules and list:set sets reference the set. */
  references?: number;
  /** Netlink only: why the members could not be printed exactly as ipset save does (a type it does not know). */
  opaque?: string;
}

export interface IpsetDump {
  sets: Ipset[];
  errors: ParseError[];
}
