/**
 * Traffic-control state per pod: netem and tbf parameters as gauges in base units
 * ({namespace,pod,interface,handle}) and the statistics of every qdisc ({namespace,pod,interface,kind,handle}).
 * Every netem is chaos; a tbf is exported whoever installed it (TBF_SCOPE says so in the help).
 * `noqueue` qdiscs (the default on veth and lo) have no queue and always-zero statistics: they are skipped.
 * Qdiscs that share interface+kind+handle (e.g. the `0:` children of an mq root) are summed. At most
 * MAX_QDISCS_PER_POD qdiscs per pod are exported, netem and tbf first (qdisc-cap.ts; chaos_daemon_pod_truncated{what="qdiscs"}).
 */
import type { NetemOptions, QdiscStats, TbfOptions } from '../netns/state.js';
import type { Snapshot } from '../snapshot.js';
import { CACHED, counter, gauge, labelPairs, labelPrefix, type CollectionFamilies, type Family } from './families.js';
import { exportedQdiscs } from './qdisc-cap.js';
import { Slicer } from './slicer.js';

const PARAM_LABELS = ['namespace', 'pod', 'interface', 'handle'] as const;
const STAT_LABELS = ['namespace', 'pod', 'interface', 'kind', 'handle'] as const;

interface ParamSpec<T> {
  field: keyof T;
  name: string;
  help: string;
}

const NETEM: ParamSpec<NetemOptions>[] = [
  { field: 'delaySeconds', name: 'chaos_daemon_netem_delay_seconds', help: 'netem added delay' },
  { field: 'jitterSeconds', name: 'chaos_daemon_netem_jitter_seconds', help: 'netem delay jitter' },
  { field: 'delayCorrelation', name: 'chaos_daemon_netem_delay_correlation_ratio', help: 'netem delay correlation (0-1)' },
  { field: 'loss', name: 'chaos_daemon_netem_loss_ratio', help: 'netem packet loss probability (0-1)' },
  { field: 'lossCorrelation', name: 'chaos_daemon_netem_loss_correlation_ratio', help: 'netem loss correlation (0-1)' },
  { field: 'duplicate', name: 'chaos_daemon_netem_duplicate_ratio', help: 'netem packet duplication probability (0-1)' },
  { field: 'corrupt', name: 'chaos_daemon_netem_corrupt_ratio', help: 'netem packet corruption probability (0-1)' },
  { field: 'reorder', name: 'chaos_daemon_netem_reorder_ratio', help: 'netem reordering probability (0-1)' },
  { field: 'rateBytesPerSecond', name: 'chaos_daemon_netem_rate_bytes_per_second', help: 'netem rate limit' },
  { field: 'limit', name: 'chaos_daemon_netem_limit_packets', help: 'netem queue limit' },
];

const TBF: ParamSpec<TbfOptions>[] = [
  { field: 'rateBytesPerSecond', name: 'chaos_daemon_tbf_rate_bytes_per_second', help: 'tbf token rate' },
  { field: 'burstBytes', name: 'chaos_daemon_tbf_burst_bytes', help: 'tbf bucket size (burst)' },
  { field: 'limitBytes', name: 'chaos_daemon_tbf_limit_bytes', help: 'tbf queue limit' },
  { field: 'latencySeconds', name: 'chaos_daemon_tbf_latency_seconds', help: 'tbf maximum queueing latency' },
  { field: 'peakrateBytesPerSecond', name: 'chaos_daemon_tbf_peakrate_bytes_per_second', help: 'tbf peak rate' },
  { field: 'mtuBytes', name: 'chaos_daemon_tbf_mtu_bytes', help: 'tbf peak-rate bucket size (mtu)' },
];

/**
 * What chaos_daemon_tbf_* covers: every tbf read in a pod's own namespace, Chaos Mesh's or not (the fingerprint
 * decides which are, tc-tree.ts); host-network pods export no qdisc series (the node's namespace, where the CNI
 * bandwidth plugin's tbfs are, is reported once as the host entry, not per pod: collect/netns.ts).
 */
const TBF_SCOPE =
  "per tbf qdisc in the pod's own network namespace, whoever installed it (Chaos Mesh's bandwidth chaos or the pod's own shaping: chaos_daemon_injection_active{kind=\"bandwidth\"} says whether Chaos Mesh's is there); none for host-network pods (the node's namespace, with the CNI bandwidth plugin's tbfs, is not exported per pod)";

const STATS: { field: keyof QdiscStats; name: string; help: string; type: 'counter' | 'gauge' }[] = [
  { field: 'bytes', name: 'chaos_daemon_qdisc_bytes_total', help: 'Bytes sent through the qdisc', type: 'counter' },
  { field: 'packets', name: 'chaos_daemon_qdisc_packets_total', help: 'Packets sent through the qdisc', type: 'counter' },
  { field: 'drops', name: 'chaos_daemon_qdisc_drops_total', help: 'Packets dropped by the qdisc', type: 'counter' },
  { field: 'overlimits', name: 'chaos_daemon_qdisc_overlimits_total', help: 'Times the qdisc was over its limit', type: 'counter' },
  { field: 'requeues', name: 'chaos_daemon_qdisc_requeues_total', help: 'Packets requeued by the qdisc', type: 'counter' },
  { field: 'backlog', name: 'chaos_daemon_qdisc_backlog_bytes', help: 'Bytes queued in the qdisc', type: 'gauge' },
];

function numeric(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function statFamily(registry: CollectionFamilies, s: (typeof STATS)[number]): Family {
  return s.type === 'counter'
    ? counter(registry, s.name, `${s.help} (kernel counter read with tc -s), per qdisc in the pod's network namespace ${CACHED}`, STAT_LABELS)
    : gauge(registry, s.name, `${s.help}, per qdisc in the pod's network namespace ${CACHED}`, STAT_LABELS);
}

/** Yields to the event loop between pods when `slicer`'s slice is used up. */
export async function registerQdiscMetrics(registry: CollectionFamilies, snapshot: Snapshot, slicer = new Slicer()): Promise<void> {
  const netem = NETEM.map((s) => ({ ...s, g: gauge(registry, s.name, `${s.help}, per netem qdisc in the pod's network namespace ${CACHED}`, PARAM_LABELS) }));
  const tbf = TBF.map((s) => ({ ...s, g: gauge(registry, s.name, `${s.help}, ${TBF_SCOPE} ${CACHED}`, PARAM_LABELS) }));
  // Summed per series (qdiscs sharing interface+kind+handle), counters and the backlog gauge alike.
  const stats = STATS.map((s) => ({ ...s, family: statFamily(registry, s) }));

  const paramSeen = new Set<string>();
  const podSeen = new Set<string>();
  for (const report of snapshot.pods) {
    await slicer.point();
    const podKey = `${report.namespace}\0${report.name}`;
    if (podSeen.has(podKey)) continue;
    podSeen.add(podKey);
    for (const q of exportedQdiscs(report.tc.qdiscs).qdiscs) {
      const pkey = `${podKey}\0${q.interface}\0${q.handle}\0${q.kind}`;
      if (!paramSeen.has(pkey)) {
        paramSeen.add(pkey);
        const params = q.netem || q.tbf ? labelPrefix(PARAM_LABELS, [report.namespace, report.name, q.interface, q.handle]) : null;
        if (q.netem && params) for (const s of netem) { const v = q.netem[s.field]; if (numeric(v)) s.g.setAfter(params, [], v); }
        if (q.tbf && params) for (const s of tbf) { const v = q.tbf[s.field]; if (numeric(v)) s.g.setAfter(params, [], v); }
      }
      if (q.stats === null || q.kind === 'noqueue') continue;
      const text = `{${labelPairs(STAT_LABELS, [report.namespace, report.name, q.interface, q.kind, q.handle])}}`;
      for (const s of stats) s.family.addText(text, q.stats[s.field]);
    }
  }
}
