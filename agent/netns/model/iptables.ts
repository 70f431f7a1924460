/**
 * iptables state, as both readers produce it: the tools reader from `*-save -c` text, the netlink reader from
 * xtables getsockopt (legacy) and nf_tables expressions (iptables-nft). `text` is exactly what iptables-save prints
 * after `-A CHAIN ` (counters removed), whichever reader produced the rule.
 */
import type { ParseError } from '../../errors.js';

export type IptablesBackend = 'legacy' | 'nft';
export type IpFamily = 'ipv4' | 'ipv6';

/** Packet and byte counters. */
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
  /**
   * Netlink reader only: the parts of the rule it could not render exactly as iptables-save would (an unknown
   * extension or revision, a blob iptables itself could not print), one sentence each naming the match or target
   * (e.g. `match time: no decoder`). Absent when the text is exact (always, from the tools). Such a rule keeps its
   * counters and target; its text holds `-m NAME` / `-j NAME` for those parts without their options. In `auto`, a
   * namespace with opaque rules is read again through the tools.
   */
  opaque?: string[];
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

