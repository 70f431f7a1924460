/**
 * The jump graph of one iptables table: which chains are reachable from the built-in chains along `-j`/`-g`, and
 * which rules are live (a rule after an unconditional ACCEPT/DROP/REJECT/RETURN/TPROXY or goto in its chain is
 * never evaluated). Only live rules of reachable chains change traffic. PURE, linear in the table's size.
 */
import type { IptablesChain, IptablesRule, IptablesTable } from '../netns/state.js';

const BUILTIN_CHAINS = new Set(['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING']);
/** Targets after which, when unconditional, no later rule of the chain is evaluated. */
const TERMINATING_TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'TPROXY']);

export interface TableGraph {
  table: IptablesTable;
  chains: Map<string, IptablesChain>;
  reachable: Set<string>;
  /** Per chain, the number of leading rules that can be evaluated (rules after an unconditional verdict are dead). */
  liveCount: Map<string, number>;
  /** Per user chain, the chains holding a rule that jumps (or goes) to it, and whether that rule is live. */
  referrers: Map<string, { from: string; live: boolean }[]>;
}

export function isBuiltin(chain: IptablesChain): boolean {
  return chain.builtin || (BUILTIN_CHAINS.has(chain.name) && chain.policy !== null);
}

/** True when the rule matches every packet (no match before its -j/-g, except a comment). */
export function isUnconditional(rule: IptablesRule): boolean {
  let text = rule.text.trimStart();
  if (text.startsWith('-m comment ')) text = text.replace(/^-m comment --comment (?:"(?:[^"\\]|\\.)*"|\S+)\s+/, '');
  return text.startsWith('-j ') || text.startsWith('-g ');
}

function liveRuleCount(chain: IptablesChain): number {
  const rules = chain.rules;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if ((r.goto || (r.target !== null && TERMINATING_TARGETS.has(r.target))) && isUnconditional(r)) return i + 1;
  }
  return rules.length;
}

/** The user chain a rule jumps or goes to, or null (a verdict, an extension target, a missing chain). */
export function userTarget(rule: IptablesRule, chains: Map<string, IptablesChain>): IptablesChain | null {
  if (rule.target === null) return null;
  const c = chains.get(rule.target);
  return c !== undefined && !isBuiltin(c) ? c : null;
}

export function buildTableGraph(table: IptablesTable): TableGraph {
  const chains = new Map<string, IptablesChain>();
  for (const c of table.chains) if (!chains.has(c.name)) chains.set(c.name, c);
  const liveCount = new Map<string, number>();
  for (const c of chains.values()) liveCount.set(c.name, liveRuleCount(c));

  const builtins = [...chains.values()].filter(isBuiltin).map((c) => c.name);
  const reachable = walk(chains, liveCount, builtins);

  const referrers = new Map<string, { from: string; live: boolean }[]>();
  for (const c of chains.values()) {
    const n = liveCount.get(c.name) ?? 0;
    c.rules.forEach((r, i) => {
      const t = userTarget(r, chains);
      if (t === null) return;
      const list = referrers.get(t.name) ?? [];
      list.push({ from: c.name, live: reachable.has(c.name) && i < n });
      referrers.set(t.name, list);
    });
  }
  return { table, chains, reachable, liveCount, referrers };
}

/** Chains reached from `starts` along the live jumps (starts included). */
function walk(chains: Map<string, IptablesChain>, liveCount: Map<string, number>, starts: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const queue: string[] = [];
  for (const s of starts) {
    if (!out.has(s)) {
      out.add(s);
      queue.push(s);
    }
  }
  while (queue.length > 0) {
    const c = chains.get(queue.pop()!);
    if (c === undefined) continue;
    const n = liveCount.get(c.name) ?? 0;
    for (let i = 0; i < n; i++) {
      const t = userTarget(c.rules[i]!, chains);
      if (t !== null && !out.has(t.name)) {
        out.add(t.name);
        queue.push(t.name);
      }
    }
  }
  return out;
}

/** Names of the chains reachable from the table's built-in chains (built-ins included). */
export function reachableChains(table: IptablesTable): Set<string> {
  return buildTableGraph(table).reachable;
}

/** The live rules of a chain (none when the chain is unreachable). */
export function liveRules(g: TableGraph, name: string): IptablesRule[] {
  const c = g.chains.get(name);
  if (c === undefined || !g.reachable.has(name)) return [];
  return c.rules.slice(0, g.liveCount.get(name) ?? 0);
}

/** Reachable chains reached from `starts` (reachable ones only) along live jumps, starts included. */
export function subgraph(g: TableGraph, starts: Iterable<string>): Set<string> {
  return walk(g.chains, g.liveCount, [...starts].filter((s) => g.reachable.has(s)));
}
