/**
 * The kernel side of the reconciliation: every piece of Chaos Mesh state in one namespace read, as artefacts the
 * intent can own. Pure.
 * - chains: Chaos Mesh's roles (CHAOS-INPUT/OUTPUT, INPUT/<x>, OUTPUT/<x>, TC-TABLES-<i>, mangle DIVERT...), in
 *   every backend and family, with their rules and whether a built-in chain reaches them;
 * - ipsets: Chaos Mesh's names (and any set one of its chains matches);
 * - qdiscs: netem; tbf at the root, under a chaos qdisc or in a class a TC-TABLES CLASSIFY rule feeds; prio with
 *   Chaos Mesh's priomap and the sfq on its bands. A netem/tbf carries the ipsets of the CLASSIFY rules that feed
 *   its class (filtered traffic control), none when it shapes the whole device.
 * `position` / `label` are the words the fingerprint's sentences use for them (`eth0 root tbf`, `mangle DIVERT`),
 * so a finding can be tied back to the artefacts it names (owners.ts).
 */
import {
  buildTableGraph,
  canonicalHandle,
  chaosChainRole,
  CHAOS_MESH_PRIOMAP,
  isChaosIpsetName,
  type ChaosChainRole,
} from '../chaos/fingerprint.js';
import type { Ipset, IptablesBackend, IpFamily, IptablesRule, NetnsState, Qdisc } from '../netns/state.js';

export interface ChainArtefact {
  type: 'chain';
  name: string;
  table: string;
  backend: IptablesBackend;
  family: IpFamily;
  role: ChaosChainRole;
  rules: IptablesRule[];
  reachable: boolean;
  /** Chains holding a rule that jumps to this one. */
  jumpedFrom: string[];
  /** `mangle DIVERT` for tables other than filter, the name otherwise (as findings say it). */
  label: string;
}

export interface IpsetArtefact {
  type: 'ipset';
  name: string;
  set: Ipset;
}

export interface QdiscArtefact {
  type: 'qdisc';
  qdisc: Qdisc;
  role: 'netem' | 'tbf' | 'prio' | 'sfq';
  /** `eth0 root netem` or `eth0 tbf 5: (parent 1:4)`. */
  position: string;
  /** ipsets of the CLASSIFY rules feeding this qdisc's class; [] = the whole device. */
  filterSets: string[];
}

export interface KernelArtefacts {
  chains: ChainArtefact[];
  ipsets: IpsetArtefact[];
  qdiscs: QdiscArtefact[];
}

export type NetnsView = Pick<NetnsState, 'iptables' | 'ipsets' | 'tc'>;

interface Classify {
  cls: string;
  sets: string[];
}

function setClass(rule: IptablesRule): string | null {
  const words = rule.targetOptions.split(/\s+/);
  const i = words.indexOf('--set-class');
  return i < 0 || i + 1 >= words.length ? null : canonicalHandle(words[i + 1]!);
}

function isRoot(q: Qdisc): boolean {
  return q.root || q.parent === 'root';
}

export function qdiscPosition(q: Qdisc): string {
  return isRoot(q) ? `${q.interface} root ${q.kind}` : `${q.interface} ${q.kind} ${q.handle} (parent ${q.parent})`;
}

function samePriomap(m: readonly number[] | undefined): boolean {
  return m !== undefined && m.length === CHAOS_MESH_PRIOMAP.length && m.every((v, i) => v === CHAOS_MESH_PRIOMAP[i]);
}

function qdiscArtefacts(state: NetnsView, classifiers: Classify[]): QdiscArtefact[] {
  const out: QdiscArtefact[] = [];
  const byIface = new Map<string, Qdisc[]>();
  for (const q of state.tc.qdiscs) byIface.set(q.interface, [...(byIface.get(q.interface) ?? []), q]);
  for (const qdiscs of byIface.values()) {
    const byMajor = new Map<string, Qdisc>();
    for (const q of qdiscs) {
      const h = canonicalHandle(q.handle);
      if (h !== null && !byMajor.has(h.split(':')[0]!)) byMajor.set(h.split(':')[0]!, q);
    }
    const parentOf = (q: Qdisc): Qdisc | null => {
      if (isRoot(q)) return null;
      const p = byMajor.get(canonicalHandle(q.parent)?.split(':')[0] ?? '');
      return p === undefined || p === q ? null : p;
    };
    const isChaos = (q: Qdisc, depth = 0): boolean => {
      if (depth > 32) return false;
      const p = parentOf(q);
      if (q.kind === 'netem') return true;
      if (q.kind === 'prio') return samePriomap(q.prio?.priomap);
      if (q.kind === 'sfq') return p !== null && p.kind === 'prio' && samePriomap(p.prio?.priomap);
      if (q.kind !== 'tbf') return false;
      return isRoot(q) || (p !== null && isChaos(p, depth + 1)) || feeding(q).length > 0;
    };
    // The CLASSIFY rules feeding the class this qdisc hangs under, or one of its ancestors' classes.
    const feeding = (q: Qdisc): string[] => {
      let cur: Qdisc | null = q;
      for (let i = 0; cur !== null && i < 32; i++) {
        const cls = isRoot(cur) ? null : canonicalHandle(cur.parent);
        const sets = classifiers.filter((c) => c.cls === cls).flatMap((c) => c.sets);
        if (cls !== null && classifiers.some((c) => c.cls === cls)) return [...new Set(sets)];
        cur = parentOf(cur);
      }
      return [];
    };
    for (const q of qdiscs) {
      if (q.kind !== 'netem' && q.kind !== 'tbf' && q.kind !== 'prio' && q.kind !== 'sfq') continue;
      if (!isChaos(q)) continue;
      out.push({ type: 'qdisc', qdisc: q, role: q.kind, position: qdiscPosition(q), filterSets: q.kind === 'netem' || q.kind === 'tbf' ? feeding(q) : [] });
    }
  }
  return out;
}

export function kernelArtefacts(state: NetnsView, extraSetNames: Iterable<string> = []): KernelArtefacts {
  const chains: ChainArtefact[] = [];
  const classifiers: Classify[] = [];
  const referenced = new Set<string>(extraSetNames);
  for (const dump of state.iptables) {
    for (const table of dump.tables) {
      const g = buildTableGraph(table);
      for (const c of table.chains) {
        const role = chaosChainRole(table.name, c.name);
        if (role === null) continue;
        const jumpedFrom = [...new Set((g.referrers.get(c.name) ?? []).map((r) => r.from))];
        chains.push({
          type: 'chain', name: c.name, table: table.name, backend: dump.backend, family: dump.family, role,
          rules: c.rules, reachable: g.reachable.has(c.name), jumpedFrom,
          label: table.name === 'filter' ? c.name : `${table.name} ${c.name}`,
        });
        for (const r of c.rules) {
          for (const m of r.matchSets) referenced.add(m.name);
          if (r.target === 'CLASSIFY') {
            const cls = setClass(r);
            if (cls !== null) classifiers.push({ cls, sets: r.matchSets.map((m) => m.name) });
          }
        }
      }
    }
  }
  const ipsets = state.ipsets.sets
    .filter((s) => isChaosIpsetName(s.name) || referenced.has(s.name))
    .map((set): IpsetArtefact => ({ type: 'ipset', name: set.name, set }));
  return { chains, ipsets, qdiscs: qdiscArtefacts(state, classifiers) };
}
