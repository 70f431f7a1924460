/**
 * The one model of a network namespace's state that the rest of the agent sees, whichever reader produced it
 * (netlink/: in-process over netlink and getsockopt; nsenter/: the tools). JSON-serialisable: `inspect --json` and
 * /debug/pods print it. Per-area shapes live in model/; this file assembles them.
 */
export * from './model/iptables.js';
export * from './model/ipset.js';
export * from './model/tc.js';
export * from './model/links.js';
export * from './model/nftables.js';
export * from './model/ebtables.js';
import type { EbtablesDump } from './model/ebtables.js';
import type { IpsetDump } from './model/ipset.js';
import type { IptablesDump } from './model/iptables.js';
import type { Address, IpRule, Link, Route } from './model/links.js';
import type { NftTable } from './model/nftables.js';
import type { TcDump } from './model/tc.js';

/** The reader that produced a state. */
export type ReaderName = 'netlink' | 'nsenter';

/**
 * One source of a namespace read: each iptables backend and family, native nftables, ipset, tc, links (links,
 * addresses, routes, rules). Issue 10: a source that is not `complete` makes the verdict unknown unless what was
 * read proves an active injection.
 */
export type SourceName =
  | 'iptables-legacy-ipv4'
  | 'iptables-legacy-ipv6'
  | 'iptables-nft-ipv4'
  | 'iptables-nft-ipv6'
  | 'nftables'
  | 'ipset'
  | 'tc'
  | 'links'
  | 'ebtables-legacy'
  | 'ebtables-nft';

/** Every source a namespace read must account for. */
export const ALL_SOURCES: readonly SourceName[] = ['links', 'iptables-legacy-ipv4', 'iptables-legacy-ipv6', 'iptables-nft-ipv4', 'iptables-nft-ipv6', 'nftables', 'ipset', 'tc', 'ebtables-legacy', 'ebtables-nft'];

export interface SourceStatus {
  source: SourceName;
  /** complete: read to the end (possibly empty); truncated: cut at its byte or rule cap, or by the read's deadline (reason timeout); failed: not read. */
  status: 'complete' | 'truncated' | 'failed';
  /** Why, when not complete: timeout, output_limit, exit, spawn, vanished, parse. */
  reason?: string;
  message?: string;
}

/** Everything read from one network namespace. */
export interface NetnsState {
  /** One dump per backend+family that holds tables; empty backends are omitted. */
  iptables: IptablesDump[];
  ipsets: IpsetDump;
  /**
   * Native nf_tables tables (every table that is not one of iptables-nft's, in every family), at the level both
   * readers fill; only the netlink reader adds decoded expressions, chain devices and base chain counters.
   * Absent when the source was not read.
   */
  nftables?: NftTable[];
  tc: TcDump;
  /** Policy-routing rules (`ip rule`) lines that use fwmarks (HTTPChaos); raw text. */
  ipRules: string[];
  /** Links, addresses, routes and rules (being wired in: optional until both readers fill them). */
  links?: Link[];
  addresses?: Address[];
  routes?: Route[];
  rules?: IpRule[];
  /** ebtables, one dump per backend that holds tables (read when a bridge or a bridge-family table exists). */
  ebtables?: EbtablesDump[];
  /** Which reader produced this state, and each source's completeness (being wired in). */
  reader?: ReaderName;
  sources?: SourceStatus[];
  /** Tool failures; the state above holds whatever could still be read. */
  errors: { tool: string; reason: string; message: string }[];
  /** Process spawns this read cost. */
  spawns: number;
  /** What the reader decided not to read and why, and state it cannot show (e.g. nft-only tables); sentences. */
  notes?: string[];
}

/** A state with nothing read yet (every list empty). */
export function emptyNetnsState(): NetnsState {
  return {
    iptables: [],
    ipsets: { sets: [], errors: [] },
    tc: { qdiscs: [], classes: [], filters: [], errors: [] },
    ipRules: [],
    errors: [],
    spawns: 0,
    notes: [],
  };
}
