/**
 * The kernel side of the reconciliation: every piece of Chaos Mesh state in one namespace read, as artefacts the
 * intent can own. Pure.
 * - chains: Chaos Mesh's roles (CHAOS-INPUT/OUTPUT, INPUT/<x>, OUTPUT/<x>, TC-TABLES-<i>, mangle DIVERT...), in
 *   every backend and family, with their rules and whether a built-in chain reaches them;
 * - ipsets: Chaos Mesh's names (and any set one of its chains matches);
 * - qdiscs: those the fingerprint's QdiscTree calls Chaos Mesh's (netem; tbf, only in a namespace holding the
 *   CHAOS-* base chains and not on a CNI bandwidth ifb, at the root, under a chaos qdisc or in a class a Chaos
 *   Mesh CLASSIFY rule feeds; the filtered layout's prio and its sfq bands). A netem/tbf carries the ipsets of the
 *   CLASSIFY rules that feed its class (filtered traffic control), none when it shapes the whole device.
 * `position` / `label` are the words the fingerprint's sentences use for them (`eth0 root tbf`, `mangle DIVERT`),
 * so a finding can be tied back to the artefacts it names (owners.ts).
 */
import { chaosChainRole, hasChaosBaseChains, isChaosIpsetName, type ChaosChainRole } from '../chaos/chaos-mesh-names.js';
import { buildTableGraph } from '../chaos/iptables-graph.js';
import { canonicalHandle, classifiesOn, nodePodVeths, QdiscTree, ruleDevice, type Classifier, type TcEvidence } from '../chaos/tc-tree.js';
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

export type NetnsView = Pick<NetnsState, 'iptables' | 'ipsets' | 'tc'> & Partial<Pick<NetnsState, 'links' | 'routes' | 'sources'>> & {
  /** The node's own namespace (a host-network pod's entry): a tbf on a pod's veth there is not Chaos Mesh's (tc-tree.ts). */
  hostNetwork?: boolean;
};

/** A CLASSIFY rule of a Chaos Mesh chain: the class it feeds, the ipsets it matches, its device (`-o`). */
interface Classify {
  cls: string;
  sets: string[];
  label: string;
  device: Classifier['device'];
}

function setClass(rule: IptablesRule): string | null {
  const words = rule.targetOptions.split(/\s+/);
  const i = words.indexOf('--set-class');
  return i < 0 || i + 1 >= words.length ? null : canonicalHandle(words[i + 1]!);
}

function qdiscArtefacts(state: NetnsView, classify: Classify[]): QdiscArtefact[] {
  const out: QdiscArtefact[] = [];
  // Chaos Mesh's-layout judgement is the fingerprint's (QdiscTree): which classes Chaos Mesh's CLASSIFY rules
  // feed, on which device, and whether the namespace holds the base chains chaos-daemon creates before any tc.
  const classifiers: Classifier[] = classify.map((c) => ({ cls: c.cls, phrase: '', chaosLabel: c.label, annotation: '', matchesNothing: false, device: c.device }));
  const evidence: TcEvidence = { baseChains: hasChaosBaseChains(state.iptables) };
  if (state.hostNetwork === true) evidence.podVeths = nodePodVeths(state);
  const byIface = new Map<string, Qdisc[]>();
  for (const q of state.tc.qdiscs) byIface.set(q.interface, [...(byIface.get(q.interface) ?? []), q]);
  for (const [iface, qdiscs] of byIface) {
    const tree = new QdiscTree(iface, qdiscs, classifiers, evidence);
    // The ipsets of the CLASSIFY rules (on this device) feeding the class this qdisc hangs under, or an ancestor's.
    const feeding = (q: Qdisc): string[] => {
      let cur: Qdisc | null = q;
      for (let i = 0; cur !== null && i < 32; i++) {
        const cls = tree.isRoot(cur) ? null : canonicalHandle(cur.parent);
        const fed = classify.filter((c) => c.cls === cls && classifiesOn(c, iface));
        if (fed.length > 0) return [...new Set(fed.flatMap((c) => c.sets))];
        cur = tree.parentOf(cur);
      }
      return [];
    };
    for (const q of qdiscs) {
      if (q.kind !== 'netem' && q.kind !== 'tbf' && q.kind !== 'prio' && q.kind !== 'sfq') continue;
      if (!tree.isChaos(q)) continue;
      out.push({ type: 'qdisc', qdisc: q, role: q.kind, position: tree.position(q), filterSets: q.kind === 'netem' || q.kind === 'tbf' ? feeding(q) : [] });
    }
  }
  return out;
}

export function kernelArtefacts(state: NetnsView, extraSetNames: Iterable<string> = []): KernelArtefacts {
  const chains: ChainArtefact[] = [];
  const classify: Classify[] = [];
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
            if (cls !== null) classify.push({ cls, sets: r.matchSets.map((m) => m.name), label: c.name, device: ruleDevice(r) });
          }
        }
      }
    }
  }
  const ipsets = state.ipsets.sets
    .filter((s) => isChaosIpsetName(s.name) || referenced.has(s.name))
    .map((set): IpsetArtefact => ({ type: 'ipset', name: set.name, set }));
  return { chains, ipsets, qdiscs: qdiscArtefacts(state, classify) };
}
