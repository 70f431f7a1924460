/**
 * ebtables state (Ethernet bridge frame tables), as both readers produce it: the tools reader from
 * `ebtables-legacy -t <table> -L --Lc` (ebtables 2.0.x, the legacy kernel tables read with getsockopt
 * EBT_SO_GET_ENTRIES) and `ebtables-nft-save -c` (the nf_tables `bridge` family); the netlink reader later from
 * EBT_SO_GET_INFO/ENTRIES (struct ebt_replace, ebt_entries, ebt_entry + matches/watchers/target) and from nf_tables
 * bridge tables. `text` is the rule as ebtables prints it after `-A CHAIN ` (counters removed, whitespace runs
 * collapsed), whichever reader produced it; the structured fields are what fingerprinting needs.
 * HTTPChaos (chaos-tproxy >= 0.4.5) shows here: nat PREROUTING `-i eth0 -j dnat --to-dst <mac> --dnat-target ACCEPT`.
 */
import type { ParseError } from '../../errors.js';
import type { Counters } from './iptables.js';

export type EbtablesBackend = 'legacy' | 'nft';

export interface EbtablesRule {
  /** `-i eth0 -j dnat --to-dst 2:42:ac:11:0:2 --dnat-target ACCEPT` (legacy prints MACs without leading zeros). */
  text: string;
  counters: Counters | null;
  /** -i / --in-interface (the bridge port a frame came in on), -o, --logical-in, --logical-out; null when absent. */
  inInterface: string | null;
  outInterface: string | null;
  logicalIn: string | null;
  logicalOut: string | null;
  /** -p protocol (IPv4, ARP, 0x0800...), null when absent. */
  protocol: string | null;
  /** Fields above written with `!` (`-i ! eth0` in legacy's order, `! -i eth0` in nft's). */
  negated: Array<'inInterface' | 'outInterface' | 'logicalIn' | 'logicalOut' | 'protocol'>;
  /** -j target: ACCEPT, DROP, CONTINUE, RETURN, a user chain, or an extension target (dnat, snat, redirect, mark...). */
  target: string | null;
  /** Text after the target name (`--to-dst 2:42:ac:11:0:2 --dnat-target ACCEPT`). */
  targetOptions: string;
  /** Target options as `--name value` pairs (`{'--to-dst': '2:42:ac:11:0:2', '--dnat-target': 'ACCEPT'}`). */
  targetArgs: Record<string, string>;
}

export interface EbtablesChain {
  name: string;
  /** ACCEPT, DROP or RETURN (user chains have a policy too in ebtables: RETURN by default). */
  policy: string;
  /** Base chains: PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING, BROUTING. */
  builtin: boolean;
  rules: EbtablesRule[];
}

export interface EbtablesTable {
  /** filter, nat or broute. */
  name: string;
  chains: EbtablesChain[];
}

export interface EbtablesDump {
  backend: EbtablesBackend;
  tables: EbtablesTable[];
  errors: ParseError[];
}
