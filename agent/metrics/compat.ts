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
import type { Registry } from 'prom-client';
import { ipsetMemberCount } from '../netns/nsenter/ipset.js';
import { chaosDaemonRuleLabel } from './compat-rule.js';
import type { PodReport, Snapshot } from '../snapshot.js';
import { CACHED, SeriesSum, gauge } from './families.js';
import { DEFAULT_MAX_RULES_PER_POD, exportedRules } from './rule-cap.js';
import { Slicer } from './slicer.js';

const RULE_LABELS = ['namespace', 'pod', 'container', 'table', 'chain', 'policy', 'rule'] as const;
const POD_LABELS = ['namespace', 'pod', 'container'] as const;
type RuleLabel = (typeof RULE_LABELS)[number];
type PodLabel = (typeof POD_LABELS)[number];

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
export async function registerCompatMetrics(registry: Registry, snapshot: Snapshot, opts: { perContainer: boolean; maxRulesPerPod?: number; slicer?: Slicer }): Promise<void> {
  const slicer = opts.slicer ?? new Slicer();
  const packets = gauge(registry, 'chaos_daemon_iptables_packets',
    `Packets counted by each iptables rule in the pod's network namespace (iptables-save -c; Chaos Mesh compatible, one copy per container unless --compat-metrics=false) ${CACHED}`,
    RULE_LABELS);
  const bytes = gauge(registry, 'chaos_daemon_iptables_packet_bytes',
    `Bytes counted by each iptables rule in the pod's network namespace (Chaos Mesh compatible, one copy per container unless --compat-metrics=false) ${CACHED}`,
    RULE_LABELS);
  const members = gauge(registry, 'chaos_daemon_ipset_members',
    `Members of all ipsets in the pod's network namespace, summed over sets (Chaos Mesh compatible) ${CACHED}`,
    POD_LABELS);
  const tcs = gauge(registry, 'chaos_daemon_tcs_rules',
    `Number of qdiscs in the pod's network namespace on every interface (Chaos Mesh counted the lines "tc qdisc" printed; this counts qdiscs, not lines, and ignores filters and classes) ${CACHED}`,
    POD_LABELS);

  const pk = new SeriesSum<RuleLabel>();
  const by = new SeriesSum<RuleLabel>();
  const mem = new SeriesSum<PodLabel>();
  const tc = new SeriesSum<PodLabel>();
  for (const report of snapshot.pods) {
    await slicer.point();
    if (report.netns === null) continue;
    const containers = compatContainers(report, opts.perContainer);
    const memberCount = ipsetMemberCount(report.ipsets);
    const qdiscCount = report.tc.qdiscs.length;
    const perRule = !(report.pod?.hostNetwork ?? false);
    for (const container of containers) {
      const base = { namespace: report.namespace, pod: report.name, container };
      mem.add(base, memberCount);
      tc.add(base, qdiscCount);
      if (!perRule) continue;
      for (const { table, chain, rule } of exportedRules(report.iptables, opts.maxRulesPerPod ?? DEFAULT_MAX_RULES_PER_POD).rules) {
        if (rule.counters === null) continue;
        const labels = { ...base, table, chain: chain.name, policy: chain.policy ?? '-', rule: chaosDaemonRuleLabel(rule.text) };
        pk.add(labels, rule.counters.packets);
        by.add(labels, rule.counters.bytes);
      }
    }
  }
  const emit = async (sum: SeriesSum<string>, g: { set(labels: Record<string, string>, v: number): void }): Promise<void> => {
    let n = 0;
    for (const e of sum.entries()) {
      if ((n++ & 255) === 0) await slicer.point();
      g.set(e.labels, e.value);
    }
  };
  await emit(pk, packets);
  await emit(by, bytes);
  await emit(mem, members);
  await emit(tc, tcs);
}
