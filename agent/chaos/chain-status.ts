/**
 * Chaos Mesh chains that change nothing (scaffolding: empty, unreachable, or holding only inert rules), and the
 * chains of other tools grouped by owner (foreign). PURE.
 */
import { chaosChainRole, foreignOwner, type ForeignOwner } from './chaos-mesh-names.js';
import { add, type AnalysedDump, type Builder } from './findings.js';
import { chainLabel, listNames, plural, uniq } from './format.js';
import { isBuiltin, liveRules, userTarget, type TableGraph } from './iptables-graph.js';
import { DROP_TARGETS } from './partition.js';

/** Sentences for chaos-named chains that are unreachable, empty or inert (scaffolding). http chains: see http.ts. */
export function chainStatus(b: Builder, g: TableGraph, a: AnalysedDump): void {
  const tname = g.table.name;
  for (const c of g.chains.values()) {
    const role = chaosChainRole(tname, c.name);
    if (role === null) continue;
    const label = chainLabel(tname, c.name);
    const refs = g.referrers.get(c.name) ?? [];
    const liveFrom = uniq(refs.filter((r) => r.live).map((r) => r.from));
    const deadFrom = uniq(refs.filter((r) => !r.live).map((r) => r.from));
    const n = c.rules.length;
    if (!g.reachable.has(c.name)) {
      const nobody =
        deadFrom.length === 0 ? 'nothing jumps to it' : `nothing reachable jumps to it (only ${listNames(deadFrom)})`;
      const what = n === 0 ? 'is empty and' : `holds ${plural(n, 'rule')} but`;
      add(b, 'scaffolding', null, `${label} ${what} ${nobody}${a.annotation}`);
      continue;
    }
    const from = liveFrom.length > 0 ? listNames(liveFrom) : 'a built-in chain';
    if (n === 0) {
      add(b, 'scaffolding', null, `${label} is empty (jumped to from ${from})${a.annotation}`);
      continue;
    }
    if (role === 'http') continue;
    const live = liveRules(g, c.name);
    const effective = live.some(
      (r) =>
        (r.target !== null && (DROP_TARGETS.has(r.target) || r.target === 'CLASSIFY')) ||
        userTarget(r, g.chains) !== null,
    );
    if (!effective) {
      const targets = uniq(live.map((r) => r.target ?? 'no target'));
      add(
        b,
        'scaffolding',
        null,
        `${label} holds ${plural(n, 'rule')} that neither drop nor classify traffic (${targets.join(', ')}; jumped to from ${from})${a.annotation}`,
      );
    }
  }
}

/** Non-chaos user chains of a dump, grouped by owner: one foreign detail per owner. */
export function foreignChains(b: Builder, a: AnalysedDump): void {
  const byOwner = new Map<ForeignOwner | null, string[]>();
  for (const g of a.graphs) {
    for (const c of g.chains.values()) {
      if (isBuiltin(c) || chaosChainRole(g.table.name, c.name) !== null) continue;
      const owner = foreignOwner(c.name);
      const list = byOwner.get(owner) ?? [];
      list.push(c.name);
      byOwner.set(owner, list);
    }
  }
  for (const [owner, names] of byOwner) {
    const text =
      owner === null
        ? `foreign: ${plural(names.length, 'other user chain')} (${listNames(names)})`
        : `foreign: ${plural(names.length, `${owner.owner} chain`)} (${owner.shown})`;
    add(b, 'foreign', null, `${text}${a.annotation}`);
  }
}
