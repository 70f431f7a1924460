/**
 * ipsets as findings: which sets something uses (live iptables rules anywhere, tc filters naming them), Chaos Mesh
 * sets nothing uses (scaffolding: the residue of a recovered experiment, or of a failed injection, which can leave
 * ipsets and nothing else: the controller flushes ipsets before it sets chains), and other tools' sets (foreign).
 * PURE.
 */
import type { TcFilter } from '../netns/state.js';
import { isChaosIpsetName } from './chaos-mesh-names.js';
import { add, type AnalysedDump, type Builder } from './findings.js';
import { listNames, plural } from './format.js';
import { liveRules } from './iptables-graph.js';

/** Sets used by live rules (anywhere) and by tc filters (ipset ematch), closed over list:set members. */
export function usedSets(b: Builder, dumps: readonly AnalysedDump[], filters: readonly TcFilter[]): Set<string> {
  const used: string[] = [];
  for (const a of dumps) {
    for (const g of a.graphs) {
      for (const name of g.reachable) for (const r of liveRules(g, name)) for (const m of r.matchSets) used.push(m.name);
    }
  }
  // The sets a filter's ematches name (typed by both readers; `options` is each reader's raw view).
  const filterSets = new Set(filters.flatMap((f) => f.matchSets ?? []));
  for (const s of b.sets.all()) if (filterSets.has(s.name)) used.push(s.name);
  return b.sets.closure(used);
}

export function ipsetFindings(b: Builder, used: ReadonlySet<string>): void {
  const sets = b.sets;
  const unused = sets.all().filter((s) => isChaosIpsetName(s.name) && !used.has(s.name));
  if (unused.length > 0) {
    // A list:set's members are sets: it is counted by them and by the members they hold (`inspect` lists the sets).
    const list = unused.map((s) => `${s.name} (${s.type.startsWith('list:') ? '' : `${s.type}, `}${sets.size(s.name)})`).join(', ');
    add(b, 'scaffolding', null, `${plural(unused.length, 'Chaos Mesh ipset')} no reachable rule uses: ${list}`);
  }
  const foreign = sets.all().filter((s) => !isChaosIpsetName(s.name));
  if (foreign.length > 0) {
    add(b, 'foreign', null, `foreign: ${plural(foreign.length, 'other ipset')} (${listNames(foreign.map((s) => s.name))})`);
  }
}
