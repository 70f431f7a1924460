/**
 * The qdisc tree of one interface: parents, Chaos Mesh's layouts, and which qdiscs receive traffic. PURE.
 *
 * - netem is always chaos (whoever installed it, it delays / loses / ...).
 * - tbf is also the usual tool for ordinary shaping (the CNI bandwidth plugin puts a root tbf on every shaped pod's
 *   host veth and `bwp...` ifb), so it is Chaos Mesh's only with evidence (facts: chaos-mesh-names.ts):
 *   the namespace holds CHAOS-INPUT / CHAOS-OUTPUT (chaos-daemon creates them before any tc), the device is not a
 *   CNI bandwidth ifb, and the tbf sits where chaos-daemon puts one: at the root, under a chaos qdisc
 *   (chaos-daemon chains netem/tbf from the root: handle 1:, then parent 1: handle 2:, ...), or in a class a
 *   CLASSIFY rule of a Chaos Mesh chain feeds. Any other tbf is foreign, and the tree says why (foreignTbfReason).
 *   In the node's namespace (host-network pods), which keeps CHAOS-* chains for good once an experiment hit such a
 *   pod (chaos-daemon never deletes them), a tbf on the host end of a pod's veth (nodePodVeths: a veth whose peer
 *   is in another namespace, other than eth0 or the node's uplink) is not Chaos Mesh's either: chaos-daemon puts tc
 *   on the device the experiment names and on no other (chaos-mesh 608b61e pkg/chaosdaemon/tc_server.go:40
 *   defaultDevice "eth0", :199-207 groupRulesAccordingToDevices; the device is NetworkChaos spec.device /
 *   spec.targetDevice, controllers/chaosimpl/networkchaos/trafficcontrol/impl.go:128 and :153), i.e. eth0 or the
 *   node device the experiment's author wrote, never a pod's veth, whose name the CNI makes up per sandbox; that is
 *   where the CNI bandwidth plugin puts its root tbf.
 * - prio is Chaos Mesh's only in its filtered layout (tc_server.go): bands = 3+N (>= 4), the default priomap,
 *   sfq on bands 1-3 (and netem/tbf on bands 4 and above, which are what it changes). The priomap alone proves
 *   nothing (it is the kernel's default), so a plain 3-band prio, with or without another tool's netem, is
 *   foreign (the netem itself still changes traffic and is reported).
 * - A qdisc under a prio band that the priomap never selects gets traffic only when a classifier feeds that band:
 *   a live CLASSIFY rule (TC-TABLES-<i>) whose `-o` matches the device, or a tc filter on the same device attached
 *   to the qdisc that owns the class (flowid). A CLASSIFY rule matching an empty ipset feeds nothing. tc filters
 *   never make a qdisc Chaos Mesh's: chaos-daemon installs none.
 */
import type { IptablesRule, NetnsState, Qdisc, TcFilter } from '../netns/state.js';
import { chaosChainRole, DEFAULT_PRIOMAP, isCniBandwidthIfb, PRIO_DEFAULT_BANDS } from './chaos-mesh-names.js';
import type { AnalysedDump, Builder } from './findings.js';
import { chainLabel, describeTraffic, optionValue } from './format.js';
import { emptyMatchSets } from './ipset-index.js';
import { liveRules } from './iptables-graph.js';

/** Canonical `major:minor` (hex, lower case, no leading zeros; minor 0 when absent) or null. */
export function canonicalHandle(handle: string): string | null {
  const m = /^\s*([0-9a-fA-F]+):([0-9a-fA-F]*)\s*$/.exec(handle);
  if (m === null) return null;
  const major = parseInt(m[1]!, 16).toString(16);
  const minor = m[2] === '' ? '0' : parseInt(m[2]!, 16).toString(16);
  return `${major}:${minor}`;
}

export function majorOf(handle: string): string | null {
  const c = canonicalHandle(handle);
  return c === null ? null : c.split(':')[0]!;
}

/** Something that sends traffic into a class: a live CLASSIFY rule or a tc filter. */
export interface Classifier {
  /** Canonical class the traffic is sent to. */
  cls: string;
  /** "for traffic ..." phrase. */
  phrase: string;
  /** Set for CLASSIFY rules in Chaos Mesh chains: the sentence prefix naming the chain. */
  chaosLabel: string | null;
  annotation: string;
  /** The rule matches an empty ipset: it classifies nothing now. */
  matchesNothing: boolean;
  /**
   * The devices it classifies on: a tc filter's interface, a CLASSIFY rule's `-o` (`eth+` a prefix, `!` negated);
   * absent or null: every device.
   */
  device?: { name: string; negated: boolean } | null;
}

/** What the namespace says about Chaos Mesh beyond its qdiscs. */
export interface TcEvidence {
  /** CHAOS-INPUT / CHAOS-OUTPUT exist (hasChaosBaseChains). */
  baseChains: boolean;
  /** An IPv4 iptables source (where chaos-daemon creates them) was not read completely: their absence is unproven. */
  iptablesUnread?: boolean;
  /**
   * Only in the node's namespace: the devices that are the host end of a pod's veth (nodePodVeths), where no tbf is
   * Chaos Mesh's; null when the links were not read completely (no tbf is attributed there but on eth0, chaos-daemon's
   * default device). Absent elsewhere.
   */
  podVeths?: ReadonlySet<string> | null;
}

/**
 * The host ends of the pods' veths in the node's namespace: veths whose peer is in another namespace, except one
 * named eth0 (chaos-daemon's default device) or carrying a default route (the node's own uplink, a veth when the
 * node is itself a container, as kind's are). null when the links were not read completely.
 */
export function nodePodVeths(state: Pick<NetnsState, 'links' | 'routes' | 'sources'>): ReadonlySet<string> | null {
  const links = state.links;
  if (links === undefined || (state.sources ?? []).some((s) => s.source === 'links' && s.status !== 'complete')) return null;
  const uplinks = new Set((state.routes ?? []).filter((r) => r.destination === 'default' && r.interface !== null).map((r) => r.interface!));
  return new Set(links.filter((l) => l.kind === 'veth' && l.linkNetnsId !== null && l.name !== 'eth0' && !uplinks.has(l.name)).map((l) => l.name));
}

/** A CLASSIFY rule's device (`-o`), null when it has none. */
export function ruleDevice(r: IptablesRule): Classifier['device'] {
  return r.outInterface === null ? null : { name: r.outInterface, negated: (r.negated ?? []).includes('outInterface') };
}

/** True when `c` classifies traffic leaving `iface`. */
export function classifiesOn(c: Pick<Classifier, 'device'>, iface: string): boolean {
  const d = c.device;
  if (d === undefined || d === null) return true;
  const hit = d.name.endsWith('+') ? iface.startsWith(d.name.slice(0, -1)) : iface === d.name;
  return hit !== d.negated;
}

/**
 * A tc filter's flowid counts only for the qdisc it is attached to (its parent's major): a filter on an ingress
 * qdisc (`ffff:`, `ingress`, clsact's `egress` hook excluded too) classifies nothing into an egress class.
 */
function filterClass(f: TcFilter): string | null {
  const cls = f.flowid === null ? null : canonicalHandle(f.flowid);
  if (cls === null) return null;
  if (f.parent === 'root') return cls;
  const attached = majorOf(f.parent);
  return attached !== null && attached === majorOf(cls) ? cls : null;
}

export function classifiersOf(b: Builder, dumps: readonly AnalysedDump[], filters: readonly TcFilter[]): Classifier[] {
  const out: Classifier[] = [];
  const describeSet = (n: string): string => b.sets.describe(n);
  for (const a of dumps) {
    for (const g of a.graphs) {
      for (const name of g.reachable) {
        for (const r of liveRules(g, name)) {
          if (r.target !== 'CLASSIFY') continue;
          const raw = optionValue(r.targetOptions, '--set-class');
          const cls = raw === null ? null : canonicalHandle(raw);
          if (cls === null) continue;
          const label = chainLabel(g.table.name, name);
          const chaos = chaosChainRole(g.table.name, name) !== null;
          out.push({
            cls,
            phrase: `${describeTraffic(r, describeSet)}, classified by ${label}${a.annotation}`,
            chaosLabel: chaos ? label : null,
            annotation: a.annotation,
            matchesNothing: emptyMatchSets(r, b.sets).length > 0,
            device: ruleDevice(r),
          });
        }
      }
    }
  }
  for (const f of filters) {
    const cls = filterClass(f);
    if (cls === null) continue;
    const phrase = `traffic a ${f.kind} filter on ${f.interface} sends to ${cls}`;
    out.push({ cls, phrase, chaosLabel: null, annotation: '', matchesNothing: false, device: { name: f.interface, negated: false } });
  }
  return out;
}

export interface Flow {
  receives: boolean;
  /** Innermost prio band that needs a classifier on the way from the root, if any. */
  gate: string | null;
  /** Classifiers feeding the gate (those matching an empty set excluded). */
  via: Classifier[];
  /** Classifiers that target the gate but match an empty set. */
  empty: Classifier[];
}

function samePriomap(a: readonly number[] | undefined): boolean {
  return a !== undefined && a.length === DEFAULT_PRIOMAP.length && a.every((v, i) => v === DEFAULT_PRIOMAP[i]);
}

export class QdiscTree {
  private readonly byMajor = new Map<string, Qdisc>();
  private readonly children = new Map<Qdisc, Qdisc[]>();
  private readonly flows = new Map<Qdisc, Flow>();
  private readonly chaos = new Map<Qdisc, boolean>();
  /** The classifiers that act on this interface. */
  private readonly classifiers: readonly Classifier[];

  constructor(
    readonly iface: string,
    readonly qdiscs: readonly Qdisc[],
    classifiers: readonly Classifier[],
    private readonly evidence: TcEvidence,
  ) {
    this.classifiers = classifiers.filter((c) => classifiesOn(c, iface));
    for (const q of qdiscs) {
      const m = majorOf(q.handle);
      if (m !== null && !this.byMajor.has(m)) this.byMajor.set(m, q);
    }
    for (const q of qdiscs) {
      const p = this.parentOf(q);
      if (p === null) continue;
      const list = this.children.get(p) ?? [];
      list.push(q);
      this.children.set(p, list);
    }
  }

  isRoot(q: Qdisc): boolean {
    return q.root || q.parent === 'root';
  }

  parentOf(q: Qdisc): Qdisc | null {
    if (this.isRoot(q)) return null;
    const m = majorOf(q.parent);
    if (m === null) return null;
    const p = this.byMajor.get(m);
    return p === undefined || p === q ? null : p;
  }

  /** The band (class minor) of `q`'s parent class, or null. */
  private band(q: Qdisc): number | null {
    const cls = canonicalHandle(q.parent);
    return cls === null ? null : parseInt(cls.split(':')[1]!, 16);
  }

  /**
   * Chaos Mesh's filtered prio: bands = 3+N (>= 4), the default priomap and an sfq on each of bands 1-3. The netem /
   * tbf qdiscs Chaos Mesh hangs on bands >= 4 are what it changes; without them the layout is scaffolding.
   */
  isChaosMeshPrio(q: Qdisc): boolean {
    if (q.kind !== 'prio' || q.prio === undefined) return false;
    if (q.prio.bands <= PRIO_DEFAULT_BANDS || !samePriomap(q.prio.priomap)) return false;
    const kids = this.children.get(q) ?? [];
    for (let band = 1; band <= PRIO_DEFAULT_BANDS; band++) {
      if (!kids.some((k) => k.kind === 'sfq' && this.band(k) === band)) return false;
    }
    return true;
  }

  /** A CLASSIFY rule of a Chaos Mesh chain feeds the class `q` hangs under (tc filters are never Chaos Mesh's). */
  private classifiedByChaosMesh(q: Qdisc): boolean {
    const cls = canonicalHandle(q.parent);
    return cls !== null && this.classifiers.some((c) => c.chaosLabel !== null && c.cls === cls);
  }

  /** Why a tbf on this interface cannot be Chaos Mesh's whatever its place, or null. */
  private tbfExcluded(): string | null {
    if (isCniBandwidthIfb(this.iface)) return "the CNI bandwidth plugin's ifb (egress shaping of a pod), not Chaos Mesh's";
    if (!this.evidence.baseChains && this.evidence.iptablesUnread === true) {
      return "not attributed to Chaos Mesh: its CHAOS-INPUT/CHAOS-OUTPUT chains would be in iptables, which was not read completely";
    }
    if (!this.evidence.baseChains) {
      return "not Chaos Mesh's: no CHAOS-INPUT/CHAOS-OUTPUT chains in this namespace (chaos-daemon creates them before any tc)";
    }
    const podVeths = this.evidence.podVeths;
    if (podVeths === null && this.iface !== 'eth0') {
      return "not attributed to Chaos Mesh: in the node's namespace a tbf on the host end of a pod's veth is the CNI bandwidth plugin's, and the links that would tell were not read completely";
    }
    if (podVeths?.has(this.iface)) {
      return "the host end of a pod's veth in the node's namespace (where the CNI bandwidth plugin shapes pods), not Chaos Mesh's: chaos-daemon puts a host-network pod's tc on the device its experiment names (eth0 by default)";
    }
    return null;
  }

  /** The words a foreign tbf's finding ends with. */
  foreignTbfReason(): string {
    return this.tbfExcluded() ?? "outside Chaos Mesh's layout";
  }

  isChaos(q: Qdisc, depth = 0): boolean {
    const known = this.chaos.get(q);
    if (known !== undefined) return known;
    let v: boolean;
    const p = this.parentOf(q);
    if (q.kind === 'netem') v = true;
    else if (q.kind === 'tbf') {
      v = this.tbfExcluded() === null &&
        (this.isRoot(q) || (p !== null && depth < 64 && this.isChaos(p, depth + 1)) || this.classifiedByChaosMesh(q));
    }
    else if (q.kind === 'prio') v = this.isChaosMeshPrio(q);
    else if (q.kind === 'sfq') v = p !== null && this.isChaosMeshPrio(p);
    else v = false;
    this.chaos.set(q, v);
    return v;
  }

  flow(q: Qdisc, depth = 0): Flow {
    const known = this.flows.get(q);
    if (known !== undefined) return known;
    let f: Flow = { receives: true, gate: null, via: [], empty: [] };
    const p = this.parentOf(q);
    if (p !== null && depth < 64) {
      const pf = this.flow(p, depth + 1);
      f = pf;
      if (pf.receives && p.kind === 'prio' && p.prio !== undefined) {
        const cls = canonicalHandle(q.parent);
        const band = this.band(q) ?? 0;
        const defaultBands = new Set(p.prio.priomap.map((v) => v + 1));
        if (cls !== null && band > 0 && !defaultBands.has(band)) {
          const all = this.classifiers.filter((c) => c.cls === cls);
          const via = all.filter((c) => !c.matchesNothing);
          f = { receives: via.length > 0, gate: cls, via, empty: all.filter((c) => c.matchesNothing) };
        }
      }
    }
    this.flows.set(q, f);
    return f;
  }

  /** True when `q` lies under `ancestor` (or is it). */
  under(q: Qdisc, ancestor: Qdisc): boolean {
    let cur: Qdisc | null = q;
    for (let i = 0; cur !== null && i < 64; i++) {
      if (cur === ancestor) return true;
      cur = this.parentOf(cur);
    }
    return false;
  }

  position(q: Qdisc): string {
    return this.isRoot(q) ? `${this.iface} root ${q.kind}` : `${this.iface} ${q.kind} ${q.handle} (parent ${q.parent})`;
  }
}
