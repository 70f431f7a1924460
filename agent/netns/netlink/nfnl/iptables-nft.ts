/**
 * iptables-nft's tables (family ip -> IPv4, ip6 -> IPv6; names filter, mangle, raw, security, nat) as the
 * IptablesDump iptables-nft-save -c would give, rule text exactly as it prints it (iptables 1.8.9, xtables-save.c,
 * nft.c, nft-cache.c):
 * - tables in iptables' order (mangle, security, raw, filter, nat), only those that exist;
 * - base chains whose hook, name, priority and type are iptables' own, in hook order; a built-in chain that is
 *   missing (or whose base chain is not iptables') is shown as iptables fakes it: policy ACCEPT, [0:0]; other base
 *   chains are left out as iptables leaves them out (its "incompatible base-chains" warning);
 * - then the regular chains sorted by name (strcmp), each with its rules in kernel order;
 * - policies ACCEPT / DROP, counters from the base chain's counters, `-` and [0:0] for regular chains.
 * A rule iptables could not print exactly keeps its counters, the text of what could be rendered, and `opaque`.
 * Pure.
 */
import type { IpFamily, IptablesChain, IptablesDump, IptablesRule, IptablesTable } from '../../model/iptables.js';
import { parseRuleText } from '../../nsenter/iptables.js';
import type { NftChainMsg } from './nft-chain.js';
import type { NftRuleMsg } from './nft-rule.js';
import type { NftTableMsg } from './nft-table.js';
import { commandState } from './xt-command-state.js';
import type { XtContext } from '../xt/types.js';
import { saveRule } from './xt-save.js';

interface BuiltinChain {
  name: string;
  hook: number;
  prio: number;
  type: string;
}

const F = 'filter';
/** nft.c xtables_ipv4 (used for IPv6 too), in nft_table_type order: mangle, security, raw, filter, nat. */
const BUILTIN_TABLES: [string, BuiltinChain[]][] = [
  ['mangle', [
    { name: 'PREROUTING', hook: 0, prio: -150, type: F },
    { name: 'INPUT', hook: 1, prio: -150, type: F },
    { name: 'FORWARD', hook: 2, prio: -150, type: F },
    { name: 'OUTPUT', hook: 3, prio: -150, type: 'route' },
    { name: 'POSTROUTING', hook: 4, prio: -150, type: F },
  ]],
  ['security', [
    { name: 'INPUT', hook: 1, prio: 150, type: F },
    { name: 'FORWARD', hook: 2, prio: 150, type: F },
    { name: 'OUTPUT', hook: 3, prio: 150, type: F },
  ]],
  ['raw', [
    { name: 'PREROUTING', hook: 0, prio: -300, type: F },
    { name: 'OUTPUT', hook: 3, prio: -300, type: F },
  ]],
  ['filter', [
    { name: 'INPUT', hook: 1, prio: 0, type: F },
    { name: 'FORWARD', hook: 2, prio: 0, type: F },
    { name: 'OUTPUT', hook: 3, prio: 0, type: F },
  ]],
  ['nat', [
    { name: 'PREROUTING', hook: 0, prio: -100, type: 'nat' },
    { name: 'INPUT', hook: 1, prio: 100, type: 'nat' },
    { name: 'OUTPUT', hook: 3, prio: -100, type: 'nat' },
    { name: 'POSTROUTING', hook: 4, prio: 100, type: 'nat' },
  ]],
];

export interface XtablesInput {
  tables: NftTableMsg[];
  chains: NftChainMsg[];
  rules: NftRuleMsg[];
}

/**
 * One IptablesDump per family (IPv4 first) that holds at least one xtables table, and notes on what iptables-nft
 * leaves out of them (base chains that are not its own; their rules are then in neither dump).
 */
export function iptablesNftDumps(input: XtablesInput, ctx: XtContext): { dumps: IptablesDump[]; notes: string[] } {
  const dumps: IptablesDump[] = [];
  const notes: string[] = [];
  for (const [nftFamily, family] of [['ip', 'ipv4'], ['ip6', 'ipv6']] as const) {
    const tables: IptablesTable[] = [];
    for (const [name, builtins] of BUILTIN_TABLES) {
      if (!input.tables.some((t) => t.family === nftFamily && t.name === name)) continue;
      const chains = input.chains.filter((c) => c.family === nftFamily && c.table === name);
      const rules = input.rules.filter((r) => r.family === nftFamily && r.table === name);
      const left: string[] = [];
      tables.push({ name, chains: tableChains(family, builtins, chains, rules, ctx, left) });
      if (left.length > 0) notes.push(`${nftFamily} ${name}: base chains iptables-nft does not show (not its own hook, priority or type): ${left.join(', ')}`);
    }
    if (tables.length > 0) dumps.push({ backend: 'nft', family, tables, errors: [] });
  }
  return { dumps, notes };
}

function tableChains(family: IpFamily, builtins: BuiltinChain[], chains: NftChainMsg[], rules: NftRuleMsg[], ctx: XtContext, left: string[]): IptablesChain[] {
  const byHook = new Map<number, NftChainMsg>();
  const regular: NftChainMsg[] = [];
  for (const c of chains) {
    if (c.hooknum === null) {
      regular.push(c);
      continue;
    }
    // nft_cache_add_base_chain: only iptables' own base chain for the hook, and only the first one.
    const bc = builtins.find((b) => b.hook === c.hooknum);
    if (bc === undefined || bc.prio !== c.priority || bc.name !== c.name || bc.type !== c.type || byHook.has(c.hooknum)) {
      left.push(c.name);
      continue;
    }
    byHook.set(c.hooknum, c);
  }
  const rulesOf = new Map<string, NftRuleMsg[]>();
  for (const r of rules) {
    const list = rulesOf.get(r.chain);
    if (list === undefined) rulesOf.set(r.chain, [r]);
    else list.push(r);
  }
  const out: IptablesChain[] = [];
  for (let hook = 0; hook < 5; hook++) {
    const bc = builtins.find((b) => b.hook === hook);
    if (bc === undefined) continue;
    const c = byHook.get(hook);
    if (c === undefined) {
      out.push({ name: bc.name, policy: 'ACCEPT', builtin: true, counters: { packets: 0, bytes: 0 }, rules: [] });
      continue;
    }
    const policy = c.policy === null ? 'ACCEPT' : c.policy === 0 ? 'DROP' : c.policy === 1 ? 'ACCEPT' : null;
    out.push({
      name: c.name,
      policy,
      builtin: policy !== null,
      counters: c.counters ?? { packets: 0, bytes: 0 },
      rules: (rulesOf.get(c.name) ?? []).map((r) => renderRule(family, r, ctx)),
    });
  }
  regular.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  for (const c of regular) {
    out.push({
      name: c.name,
      policy: null,
      builtin: false,
      counters: { packets: 0, bytes: 0 },
      rules: (rulesOf.get(c.name) ?? []).map((r) => renderRule(family, r, ctx)),
    });
  }
  return out;
}

/** One rule: its text as iptables-nft-save prints it, parsed like the tools reader parses it. */
export function renderRule(family: IpFamily, r: NftRuleMsg, ctx: XtContext): IptablesRule {
  const cs = commandState(family, r.expressions, r.comment);
  const saved = saveRule(family, cs.ip, cs.matches, cs.target, ctx);
  const { rule } = parseRuleText(saved.text);
  rule.counters = cs.counters;
  const opaque = [...cs.opaque, ...saved.opaque];
  if (r.badUserdata) opaque.push('rule userdata is not a well-formed TLV list');
  if (opaque.length > 0) rule.opaque = opaque;
  return rule;
}
