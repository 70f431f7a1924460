/**
 * Chaos Mesh compatible series (pkg/metrics/chaos-daemon.go): chaos_daemon_iptables_packets,
 * chaos_daemon_iptables_packet_bytes, chaos_daemon_ipset_members and chaos_daemon_tcs_rules.
 *
 * Chaos Mesh reports them once per container, so a pod with N running containers repeats every series N times
 * (the containers share one network namespace). With `perContainer` (--compat-metrics, the default) we do the
 * same, for dashboards that select on `container`; the cost is (rules + 2) x containers series per pod.
 * Without it each pod is reported once with container="".
 *
 * The `rule` label is built as chaos-daemon builds it (compat-rule.ts): tokens joined by single spaces, a `!` right
 * after the chain name dropped. Differences from Chaos Mesh, on purpose: iptables series whose labels coincide (the
 * same rule text twice in a chain, `! -i lo` and `-i lo` rules of one chain, or the same rule in the legacy and nft
 * backends / IPv4 and IPv6) are summed (chaos-daemon keeps the last one's value);
 * host-network pods get no per-rule iptables series (the host's rule set is unbounded, and not the pod's);
 * pods whose namespace could not be read are skipped, and chaos_daemon_ipset_members / chaos_daemon_tcs_rules are
 * absent for a pod whose ipset / tc source was not read (netns-content.ts: never a 0 for a namespace not read).
 */
import { ipsetMemberCount } from '../netns/nsenter/ipset.js';
import { COMPAT_POD_LABELS, COMPAT_RULE_LABELS, CompatLabelCache } from './compat-labels.js';
import type { PodReport, Snapshot } from '../snapshot.js';
import { compatBlocks, type CompatNames } from './compat-blocks.js';
import { sourceRead } from './netns-content.js';
import { BlockFamily, CACHED, Family, gauge, type CollectionFamilies } from './families.js';
import { DEFAULT_MAX_RULES_PER_POD } from './rule-cap.js';
import { Slicer } from './slicer.js';

/** Container names a pod's compat series are repeated for: its running containers, or [''] when not per container. */
export function compatContainers(report: PodReport, perContainer: boolean): string[] {
  if (!perContainer) return [''];
  const names: string[] = [];
  for (const c of report.pod?.containers ?? []) if (c.state === 'CONTAINER_RUNNING') names.push(c.name);
  return names.length > SORT_IN_PLACE ? [...new Set(names)].sort() : sortDistinct(names);
}

/** Containers per pod up to which sortDistinct sorts (a pod has a few). */
const SORT_IN_PLACE = 16;

/**
 * `names` made what `[...new Set(names)].sort()` gives (distinct, ascending by UTF-16 code units, as sort() and `<`
 * compare strings), in place: an insertion sort and a pass that drops repeats, without the Set, its copy and
 * sort()'s work array, for each pod of every collection.
 */
function sortDistinct(names: string[]): string[] {
  for (let i = 1; i < names.length; i++) {
    const x = names[i]!;
    let j = i - 1;
    for (; j >= 0 && x < names[j]!; j--) names[j + 1] = names[j]!;
    names[j + 1] = x;
  }
  let n = 0;
  for (let i = 0; i < names.length; i++) if (n === 0 || names[i] !== names[n - 1]) names[n++] = names[i]!;
  names.length = n;
  return names;
}

const PACKETS = 'chaos_daemon_iptables_packets';
const BYTES = 'chaos_daemon_iptables_packet_bytes';
const MEMBERS = 'chaos_daemon_ipset_members';
const TCS = 'chaos_daemon_tcs_rules';
const NAMES: CompatNames = { packets: PACKETS, bytes: BYTES, members: MEMBERS, tcs: TCS };

/** Whether no pod is listed twice (by namespace and name) among those with a namespace. */
function distinctPods(snapshot: Snapshot): boolean {
  const seen = new Set<string>();
  for (const r of snapshot.pods) {
    if (r.netns === null) continue;
    const key = `${r.namespace}\0${r.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

/**
 * The largest family set at node scale (rules x containers x pods): built with yields to the event loop between
 * pods (`slicer`), so scrapes are answered while it runs. The four families come as one block of lines per pod
 * (compat-blocks.ts), reused while the pod's labels, counters, ipset member count and qdisc count are unchanged;
 * when a pod is listed twice (its series then merge with the other's), they are built series by series instead.
 */
export async function registerCompatMetrics(registry: CollectionFamilies, snapshot: Snapshot, opts: { perContainer: boolean; maxRulesPerPod?: number; slicer?: Slicer; cache?: CompatLabelCache }): Promise<void> {
  const slicer = opts.slicer ?? new Slicer();
  const packetsHelp = `Packets counted by each iptables rule in the pod's network namespace (iptables-save -c; Chaos Mesh compatible, one copy per container unless --compat-metrics=false) ${CACHED}`;
  const bytesHelp = `Bytes counted by each iptables rule in the pod's network namespace (Chaos Mesh compatible, one copy per container unless --compat-metrics=false) ${CACHED}`;
  const byBlock = distinctPods(snapshot);
  const packets = byBlock ? registry.register(new BlockFamily(PACKETS, packetsHelp, COMPAT_RULE_LABELS)) : gauge(registry, PACKETS, packetsHelp, COMPAT_RULE_LABELS);
  const bytes = byBlock ? registry.register(new BlockFamily(BYTES, bytesHelp, COMPAT_RULE_LABELS)) : gauge(registry, BYTES, bytesHelp, COMPAT_RULE_LABELS);
  const membersHelp = `Members of all ipsets in the pod's network namespace, summed over sets (Chaos Mesh compatible); absent when the pod's ipsets were not read (netns collector off, read failed or timed out, host-network pod) ${CACHED}`;
  const tcsHelp = `Number of qdiscs in the pod's network namespace on every interface (Chaos Mesh counted the lines "tc qdisc" printed; this counts qdiscs, not lines, and ignores filters and classes); absent when the pod's tc state was not read (netns collector off, read failed or timed out, host-network pod) ${CACHED}`;
  const members = byBlock ? registry.register(new BlockFamily(MEMBERS, membersHelp, COMPAT_POD_LABELS)) : gauge(registry, MEMBERS, membersHelp, COMPAT_POD_LABELS);
  const tcs = byBlock ? registry.register(new BlockFamily(TCS, tcsHelp, COMPAT_POD_LABELS)) : gauge(registry, TCS, tcsHelp, COMPAT_POD_LABELS);

  // The label texts come from the cache (compat-labels.ts), the values from the snapshot.
  const cache = opts.cache ?? new CompatLabelCache();
  cache.begin();
  const maxRules = opts.maxRulesPerPod ?? DEFAULT_MAX_RULES_PER_POD;
  for (const report of snapshot.pods) {
    if (slicer.due) await slicer.point();
    if (report.netns === null) continue;
    const containers = compatContainers(report, opts.perContainer);
    // null: the source was not read, the pod's series of that family are absent (netns-content.ts).
    const memberCount = sourceRead(report, 'ipset') ? ipsetMemberCount(report.ipsets) : null;
    const qdiscCount = sourceRead(report, 'tc') ? report.tc.qdiscs.length : null;
    const perRule = !(report.pod?.hostNetwork ?? false);
    const { labels, rules } = cache.labels(report.namespace, report.name, containers, perRule ? report.iptables : [], maxRules);
    if (packets instanceof BlockFamily && bytes instanceof BlockFamily && members instanceof BlockFamily && tcs instanceof BlockFamily) {
      const b = compatBlocks(labels, rules, NAMES, memberCount, qdiscCount);
      packets.addLines(b.packetsText, b.lines);
      bytes.addLines(b.bytesText, b.lines);
      members.addLines(b.membersText, b.memberLines);
      tcs.addLines(b.tcsText, b.tcsLines);
    } else if (packets instanceof Family && bytes instanceof Family && members instanceof Family && tcs instanceof Family) {
      for (const text of labels.podLabels) {
        if (memberCount !== null) members.addText(text, memberCount);
        if (qdiscCount !== null) tcs.addText(text, qdiscCount);
      }
      // Series that coincide are summed (Family.addText), also with another listing of the pod.
      for (const texts of labels.ruleLabels) {
        if (slicer.due) await slicer.point();
        for (let j = 0; j < labels.order.length; j++) {
          const counters = rules[labels.order[j]!]!.counters!;
          const text = texts[labels.series[j]!]!;
          packets.addText(text, counters.packets);
          bytes.addText(text, counters.bytes);
        }
      }
    }
  }
}
