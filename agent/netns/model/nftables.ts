/**
 * Native nftables state: every nf_tables table that is not one of iptables-nft's xtables tables (ip/ip6 filter, nat,
 * mangle, raw, security, which iptables.ts renders as iptables rules), in every family (ip, ip6, inet, arp, bridge,
 * netdev).
 *
 * Both readers fill the same fields at the level `nft -j list ruleset` and the netlink dump can both express exactly:
 * tables (family, name, handle), chains (name, handle, type, hook, priority, policy, devices), rules (handle, comment,
 * counters: the first counter expression). Only the netlink reader fills `expressions` (every expression decoded with
 * typed fields; `nft -j` prints them in its own grammar, which is not parsed) and the base chains' `counters`
 * (nft does not print chain counters). JSON-serialisable: raw bytes are hex strings.
 */
import type { Counters } from './iptables.js';

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** The tables iptables-nft owns in families ip and ip6 (shown as iptables rules, not as native nftables). */
export const XTABLES_TABLE_NAMES: readonly string[] = ['mangle', 'security', 'raw', 'filter', 'nat'];

export function isXtablesTable(family: NftFamily, name: string): boolean {
  return (family === 'ip' || family === 'ip6') && XTABLES_TABLE_NAMES.includes(name);
}

export interface NftTable {
  family: NftFamily;
  name: string;
  handle: number;
  chains: NftChain[];
}

export interface NftChain {
  name: string;
  handle: number;
  /** filter / nat / route for base chains; null for regular chains. */
  type: string | null;
  /** prerouting, input, forward, output, postrouting, ingress, egress; null for regular chains. */
  hook: string | null;
  priority: number | null;
  /** accept / drop for base chains; null for regular chains. */
  policy: 'accept' | 'drop' | null;
  /** Devices of netdev / inet ingress and egress base chains (sorted), empty otherwise. */
  devices: string[];
  /** Base chain counters (netlink only: nft does not print them; null from the tools reader). */
  counters: Counters | null;
  rules: NftRule[];
}

export interface NftRule {
  handle: number;
  /** The rule comment (nft's `comment "..."`, NFTNL_UDATA_RULE_COMMENT in the rule's userdata). */
  comment: string | null;
  /** The first counter expression of the rule; null when it has none. */
  counters: Counters | null;
  /** Every expression, decoded (netlink only). */
  expressions?: NftExpr[];
}

export type NftCmpOp = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte';

/** Data a register is loaded with or compared to: raw bytes (hex) or a verdict. */
export type NftData = { value: string } | { verdict: NftVerdict };

export interface NftVerdict {
  /** accept, drop, jump, goto, return, continue, break, queue, stolen, repeat, stop, or `verdict <n>`. */
  code: string;
  chain?: string;
}

/** One nf_tables expression with its attributes as typed fields. Unknown kinds keep their attribute bytes (hex). */
export type NftExpr =
  | { kind: 'meta'; key: string; dreg: number | null; sreg: number | null }
  | { kind: 'cmp'; sreg: number; op: NftCmpOp; data: string }
  | { kind: 'payload'; base: 'll' | 'network' | 'transport' | 'inner' | `base ${number}`; offset: number; len: number; dreg: number | null; sreg: number | null; csumType: number | null; csumOffset: number | null; csumFlags: number | null }
  | { kind: 'bitwise'; sreg: number; dreg: number; len: number; op: 'mask-xor' | 'lshift' | 'rshift' | `op ${number}`; mask: string | null; xor: string | null; shift: number | null }
  | { kind: 'immediate'; dreg: number; data: NftData }
  | { kind: 'counter'; packets: number; bytes: number }
  | { kind: 'range'; sreg: number; op: 'eq' | 'neq'; from: string; to: string }
  | { kind: 'lookup'; set: string; sreg: number; dreg: number | null; setId: number | null; invert: boolean }
  | { kind: 'match' | 'target'; name: string; revision: number; info: string }
  | { kind: 'ct'; key: string; dreg: number | null; sreg: number | null; direction: number | null }
  | { kind: 'limit'; rate: number; unit: number; burst: number; type: 'pkts' | 'bytes'; invert: boolean }
  | { kind: 'log'; group: number | null; prefix: string | null; snaplen: number | null; qthreshold: number | null; level: number | null; flags: number | null }
  | { kind: 'reject'; type: 'icmp' | 'tcp-rst' | 'icmpx' | `type ${number}`; code: number | null }
  | { kind: 'nat'; type: 'snat' | 'dnat'; family: number | null; addrMin: number | null; addrMax: number | null; protoMin: number | null; protoMax: number | null; flags: number | null }
  | { kind: 'masq' | 'redir'; protoMin: number | null; protoMax: number | null; flags: number | null }
  | { kind: 'tproxy'; family: number | null; addr: number | null; port: number | null }
  | { kind: 'socket'; key: string; dreg: number | null; level: number | null }
  | { kind: 'queue'; num: number | null; total: number | null; flags: number | null; sregQnum: number | null }
  | { kind: 'notrack' }
  | { kind: 'unknown'; name: string; raw: string };
