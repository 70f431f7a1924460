/**
 * The per-pod bound on exported iptables rules (--max-rules-per-pod): a pod with NET_ADMIN can hold 150k rules,
 * and one series (and one JSON object) per rule per container would let it decide the agent's memory. What is
 * judged is never capped (the fingerprint sees every rule read); what is exported is. Rules of chaos chains
 * (CHAOS-*, INPUT/*, OUTPUT/*, TC-TABLES-*, DIVERT, CHAOS_PROXY_*) are exported first, so spam cannot push them
 * out; then the others in order. Pure.
 */
import type { IptablesChain, IptablesDump, IptablesRule } from '../netns/state.js';

export const DEFAULT_MAX_RULES_PER_POD = 2000;

const CHAOS_CHAIN = /^(CHAOS-(INPUT|OUTPUT)|(INPUT|OUTPUT)\/.+|TC-TABLES-\d+|DIVERT|CHAOS_PROXY_.+)$/;

export function isChaosChain(name: string): boolean {
  return CHAOS_CHAIN.test(name);
}

export interface ExportedRule {
  dump: IptablesDump;
  table: string;
  chain: IptablesChain;
  rule: IptablesRule;
}

/** Whether exportedRules(dumps, max) leaves rules out (counts them; builds nothing). */
export function rulesTruncated(dumps: readonly IptablesDump[], max: number): boolean {
  let total = 0;
  for (const dump of dumps) for (const table of dump.tables) for (const chain of table.chains) total += chain.rules.length;
  return total > Math.max(0, max);
}

/** Every rule of a pod's dumps, chaos chains first, cut at `max`; `total` is the count before the cut. */
export function exportedRules(dumps: readonly IptablesDump[], max: number): { rules: ExportedRule[]; total: number; truncated: boolean } {
  const chaos: ExportedRule[] = [];
  const other: ExportedRule[] = [];
  for (const dump of dumps) {
    for (const table of dump.tables) {
      for (const chain of table.chains) {
        const into = isChaosChain(chain.name) ? chaos : other;
        for (const rule of chain.rules) into.push({ dump, table: table.name, chain, rule });
      }
    }
  }
  const total = chaos.length + other.length;
  const rules = [...chaos, ...other].slice(0, Math.max(0, max));
  return { rules, total, truncated: total > rules.length };
}

/** The dumps with only the exported rules kept (for the JSON document), and how many were left out. */
export function capDumps(dumps: readonly IptablesDump[], max: number): { dumps: IptablesDump[]; omitted: number } {
  const { rules, total } = exportedRules(dumps, max);
  if (rules.length === total) return { dumps: [...dumps], omitted: 0 };
  const keep = new Set(rules.map((r) => r.rule));
  const out = dumps.map((d) => ({
    ...d,
    tables: d.tables.map((t) => ({ ...t, chains: t.chains.map((c) => ({ ...c, rules: c.rules.filter((r) => keep.has(r)) })) })),
  }));
  return { dumps: out, omitted: total - rules.length };
}
