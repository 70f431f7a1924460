/**
 * Collecting findings and turning them into a report: levels, ordering, verdict, kinds; and the per-dump
 * annotation ("(legacy backend)", "(ipv6)") of iptables findings. PURE.
 */
import type { IptablesBackend, IptablesDump } from '../netns/state.js';
import { chaosChainRole } from './chaos-mesh-names.js';
import type { IpsetIndex } from './ipset-index.js';
import type { TableGraph } from './iptables-graph.js';
import type { ChaosKind, ChaosReport, Finding, Verdict } from './types.js';

/** What every finding source appends to. */
export interface Builder {
  details: Finding[];
  sets: IpsetIndex;
}

export function add(b: Builder, level: Finding['level'], kind: ChaosKind | null, message: string, extra: Partial<Finding> = {}): void {
  b.details.push({ level, kind, message, ...extra });
}

/** One iptables dump with its tables' jump graphs and the annotation its findings carry. */
export interface AnalysedDump {
  dump: IptablesDump;
  graphs: TableGraph[];
  annotation: string;
}

function nonChaosRuleCount(dump: IptablesDump): number {
  let n = 0;
  for (const t of dump.tables) {
    for (const c of t.chains) {
      if (chaosChainRole(t.name, c.name) !== null) continue;
      for (const r of c.rules) if (r.target === null || chaosChainRole(t.name, r.target) === null) n++;
    }
  }
  return n;
}

/** The backend the namespace uses, when both hold tables (most non-chaos rules; nft on a tie); null with one backend. */
export function primaryBackend(dumps: readonly IptablesDump[]): IptablesBackend | null {
  const counts = new Map<IptablesBackend, number>();
  for (const d of dumps) counts.set(d.backend, (counts.get(d.backend) ?? 0) + nonChaosRuleCount(d));
  if (counts.size < 2) return null;
  const legacy = counts.get('legacy') ?? 0;
  const nft = counts.get('nft') ?? 0;
  return legacy > nft ? 'legacy' : 'nft';
}

export function annotationFor(dump: IptablesDump, primary: IptablesBackend | null): string {
  const parts: string[] = [];
  if (primary !== null && dump.backend !== primary) parts.push(`${dump.backend} backend`);
  if (dump.family === 'ipv6') parts.push('ipv6');
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

const LEVEL_ORDER: Record<Finding['level'], number> = { active: 0, scaffolding: 1, foreign: 2 };

/** Findings -> report: active first, then scaffolding, then foreign (stable); kinds from the active ones. */
export function report(all: readonly Finding[]): ChaosReport {
  const kinds = new Set<ChaosKind>();
  for (const d of all) {
    if (d.level !== 'active') continue;
    if (d.kind !== null) kinds.add(d.kind);
    for (const k of d.kinds ?? []) kinds.add(k);
  }
  const details = all
    .map((d, i) => ({ d, i }))
    .sort((x, y) => LEVEL_ORDER[x.d.level] - LEVEL_ORDER[y.d.level] || x.i - y.i)
    .map(({ d }) => d);
  let verdict: Verdict = 'clean';
  if (details.some((d) => d.level === 'active')) verdict = 'active';
  else if (details.some((d) => d.level === 'scaffolding')) verdict = 'scaffolding';
  return {
    verdict,
    kinds: [...kinds].sort(),
    findings: details.filter((d) => d.level !== 'foreign').map((d) => d.message),
    details,
  };
}
