/**
 * Typed shapes of a network namespace's state, as produced by the pure parsers
 * (iptables.ts, ipset.ts, tc.ts) and the reader (reader.ts). JSON-serialisable: this is what
 * `inspect --json` and /debug/pods print under "iptables", "ipsets" and "tc".
 */
import type { ParseError } from '../errors.js';

export type IptablesBackend = 'legacy' | 'nft';
export type IpFamily = 'ipv4' | 'ipv6';

export interface Counters {
  packets: number;
  bytes: number;
}

export interface IptablesRule {
  /** Rule text as printed after `-A CHAIN ` (counters removed), e.g. `-o eth0 -m set --match-set s dst -j DROP`. */
  text: string;
  counters: Counters | null;
  /** Jump/goto target: ACCEPT, DROP, a user chain, CLASSIFY, TPROXY, ...; null when the rule has no -j/-g. */
  target: string | null;
  /** True for -g (goto) instead of -j. */
  goto: boolean;
  /** Target options text after the target name, e.g. `--set-class 1:4`. */
  targetOptions: string;
  /** Structured match parts fingerprinting needs; each null/empty when absent. `!` negation kept as `negated*`. */
  inInterface: string | null;
  outInterface: string | null;
  protocol: string | null;
  source: string | null;
  destination: string | null;
  /** --dport / --dports values as written ("80", "80:90", "80,443"). */
  dport: string | null;
  sport: string | null;
  /** Every `-m set --match-set NAME FLAGS`. */
  matchSets: { name: string; flags: string; negated: boolean }[];
  /** -m comment --comment value, unquoted. */
  comment: string | null;
  /** Names of every -m module used. */
  modules: string[];
  /**
   * Structured fields above whose option was negated with `!` (e.g. `['inInterface']` for `! -i lo`).
   * Optional for compatibility; the iptables parser always fills it.
   */
  negated?: Array<'inInterface' | 'outInterface' | 'protocol' | 'source' | 'destination' | 'dport' | 'sport'>;
}

export interface IptablesChain {
  name: string;
  /** Built-in chains have a policy (ACCEPT/DROP); user chains have null (printed as `-`). */
  policy: string | null;
  builtin: boolean;
  counters: Counters | null;
  rules: IptablesRule[];
}

export interface IptablesTable {
  name: string;
  chains: IptablesChain[];
}

/** One `*-save -c` output: one backend, one family. */
export interface IptablesDump {
  backend: IptablesBackend;
  family: IpFamily;
  tables: IptablesTable[];
  /** Lines the parser could not read (1-based line numbers); the rest was still returned. */
  errors: ParseError[];
}

export interface IpsetMember {
  /** Element as written (`10.0.0.0/24`, `10.0.0.1,tcp:80`, `net_abc`). */
  value: string;
  /** Extra options after the element (timeout, comment, ...), raw. */
  options: string;
}

export interface Ipset {
  name: string;
  /** hash:net, hash:net,port, list:set, ... */
  type: string;
  /** Creation options, raw (`family inet hashsize 1024 maxelem 65536`) and parsed into key/value. */
  optionsText: string;
  options: Record<string, string | true>;
  members: IpsetMember[];
}

export interface IpsetDump {
  sets: Ipset[];
  errors: ParseError[];
}

export interface QdiscStats {
  bytes: number;
  packets: number;
  drops: number;
  overlimits: number;
  requeues: number;
  backlog: number;
  qlen: number;
}

/** Netem parameters in base units: seconds, ratios 0..1, bytes/s. Absent fields are omitted (undefined). */
export interface NetemOptions {
  limit?: number;
  delaySeconds?: number;
  jitterSeconds?: number;
  delayCorrelation?: number;
  loss?: number;
  lossCorrelation?: number;
  duplicate?: number;
  duplicateCorrelation?: number;
  corrupt?: number;
  corruptCorrelation?: number;
  reorder?: number;
  reorderCorrelation?: number;
  gap?: number;
  rateBytesPerSecond?: number;
  ecn?: boolean;
  slot?: unknown;
}

export interface TbfOptions {
  rateBytesPerSecond?: number;
  burstBytes?: number;
  limitBytes?: number;
  latencySeconds?: number;
  peakrateBytesPerSecond?: number;
  mtuBytes?: number;
}

export interface Qdisc {
  interface: string;
  kind: string;
  /** `1:` style handle, as tc prints it. */
  handle: string;
  /** `root`, `ingress` or the parent handle (`1:4`). */
  parent: string;
  root: boolean;
  /** Raw options object from tc JSON, for anything not modelled below. */
  options: Record<string, unknown>;
  netem?: NetemOptions;
  tbf?: TbfOptions;
  /** prio: bands and priomap. */
  prio?: { bands: number; priomap: number[] };
  htb?: { defaultClass?: string; r2q?: number };
  stats: QdiscStats | null;
}

export interface TcClass {
  interface: string;
  kind: string;
  handle: string;
  parent: string;
  options: Record<string, unknown>;
  /** htb: rate/ceil in bytes/s. */
  rateBytesPerSecond?: number;
  ceilBytesPerSecond?: number;
  stats: QdiscStats | null;
}

export interface TcFilter {
  interface: string;
  kind: string;
  parent: string;
  protocol: string | null;
  pref: number | null;
  handle: string | null;
  /** classid/flowid the filter sends traffic to. */
  flowid: string | null;
  options: Record<string, unknown>;
}

export interface TcDump {
  qdiscs: Qdisc[];
  classes: TcClass[];
  filters: TcFilter[];
  errors: ParseError[];
}

/** Everything read from one network namespace. */
export interface NetnsState {
  /** One dump per backend+family that holds tables; empty backends are omitted. */
  iptables: IptablesDump[];
  ipsets: IpsetDump;
  tc: TcDump;
  /** Policy-routing rules (`ip rule`) lines that use fwmarks (HTTPChaos); raw text. */
  ipRules: string[];
  /** Containers whose root holds /etc/resolv.conf.chaos.bak (DNSChaos), by container name or pid. */
  dnsChaos: { container: string; pid: number }[];
  /** Tool failures; the state above holds whatever could still be read. */
  errors: { tool: string; reason: string; message: string }[];
  /** Process spawns this read cost. */
  spawns: number;
  /** What the reader decided not to read and why, and state it cannot show (e.g. nft-only tables); sentences. */
  notes?: string[];
}
