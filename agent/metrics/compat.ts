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
 * pods whose namespace could not be read are skipped.
 */
import { ipsetMemberCount } from '../netns/nsenter/ipset.js';
import { COMPAT_POD_LABELS, COMPAT_RULE_LABELS, CompatLabelCache } from './compat-labels.js';
import type { PodReport, Snapshot } from '../snapshot.js';
import { CACHED, gauge, type CollectionFamilies } from './families.js';
import { DEFAULT_MAX_RULES_PER_POD } from './rule-cap.js';
import { Slicer } from './slicer.js';


/** Container names a pod's compat series are repeated for: its running containers, or [''] when not per container. */
export function compatContainers(report: PodReport, perContainer: boolean): string[] {
  if (!perContainer) return [''];
  const names = (report.pod?.containers ?? []).filter((c) => c.state === 'CONTAINER_RUNNING').map((c) => c.name);
  return [...new Set(names)].sort();
}

/**
 * The largest family set at node scale (rules x containers x pods): built with yields to the event loop between
 * pods and every few hundred series (`slicer`), so scrapes are answered while it runs.
 */
export async function registerCompatMetrics(registry: CollectionFamilies, snapshot: Snapshot, opts: { perContainer: boolean; maxRulesPerPod?: number; slicer?: Slicer; cache?: CompatLabelCache }): Promise<void> {
  const slicer = opts.slicer ?? new Slicer();
  const packets = gauge(registry, 'chaos_daemon_iptables_packets',
    `Packets counted by each iptables rule in the pod's network namespace (iptables-save -c; Chaos Mesh compatible, one copy per container unless --compat-metrics=false) ${CACHED}`,
    COMPAT_RULE_LABELS);
  const bytes = gauge(registry, 'chaos_daemon_iptables_packet_bytes',
    `Bytes counted by each iptables rule in the pod's network namespace (Chaos Mesh compatible, one copy per container unless --compat-metrics=false) ${CACHED}`,
    COMPAT_RULE_LABELS);
  const members = gauge(registry, 'chaos_daemon_ipset_members',
    `Members of all ipsets in the pod's network namespace, summed over sets (Chaos Mesh compatible) ${CACHED}`,
    COMPAT_POD_LABELS);
  const tcs = gauge(registry, 'chaos_daemon_tcs_rules',
    `Number of qdiscs in the pod's network namespace on every interface (Chaos Mesh counted the lines "tc qdisc" printed; this counts qdiscs, not lines, and ignores filters and classes) ${CACHED}`,
    COMPAT_POD_LABELS);

  // Series that coincide are summed (Family.addText). The label texts come from the cache (compat-labels.ts),
  // the values from the snapshot.
  const cache = opts.cache ?? new CompatLabelCache();
  cache.begin();
  const maxRules = opts.maxRulesPerPod ?? DEFAULT_MAX_RULES_PER_POD;
  for (const report of snapshot.pods) {
    await slicer.point();
    if (report.netns === null) continue;
    const containers = compatContainers(report, opts.perContainer);
    const memberCount = ipsetMemberCount(report.ipsets);
    const qdiscCount = report.tc.qdiscs.length;
    const perRule = !(report.pod?.hostNetwork ?? false);
    const { labels, rules } = cache.labels(report.namespace, report.name, containers, perRule ? report.iptables : [], maxRules);
    for (let c = 0; c < containers.length; c++) {
      members.addText(labels.podLabels[c]!, memberCount);
      tcs.addText(labels.podLabels[c]!, qdiscCount);
      const texts = labels.ruleLabels[c]!;
      if (texts.length > 0) await slicer.point();
      for (let j = 0; j < texts.length; j++) {
        const counters = rules[labels.order[j]!]!.counters!;
        packets.addText(texts[j]!, counters.packets);
        bytes.addText(texts[j]!, counters.bytes);
      }
    }
  }
}
