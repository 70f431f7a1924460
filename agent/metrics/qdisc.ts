/**
 * Traffic-control state per pod: netem and tbf parameters as gauges in base units
 * ({namespace,pod,interface,handle}) and the statistics of every qdisc ({namespace,pod,interface,kind,handle}).
 * Every netem is chaos; a tbf is exported whoever installed it (TBF_SCOPE says so in the help).
 * `noqueue` qdiscs (the default on veth and lo) have no queue and always-zero statistics: they are skipped.
 * Qdiscs that share interface+kind+handle (e.g. the `0:` children of an mq root) are summed. At most
 * MAX_QDISCS_PER_POD qdiscs per pod are exported, netem and tbf first (qdisc-cap.ts; chaos_daemon_pod_truncated{what="qdiscs"}).
 * A pod's lines are kept and reused while its series are unchanged (pod-blocks.ts).
 */
import type { NetemOptions, Qdisc, QdiscStats, TbfOptions } from '../netns/state.js';
import type { Snapshot } from '../snapshot.js';
import { BlockFamily, CACHED, type CollectionFamilies } from './families.js';
import { PodBlockCache, type PodFamilySpec, type PodSeriesSink } from './pod-blocks.js';
import { exportedQdiscs, qdiscsTruncated } from './qdisc-cap.js';
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

/** The families in registration order: netem parameters, tbf parameters, statistics (pod-blocks.ts specs). */
const SPECS: readonly PodFamilySpec[] = [
  ...NETEM.map((p) => ({ name: p.name, type: 'gauge' as const, labelNames: PARAM_LABELS, add: false })),
  ...TBF.map((p) => ({ name: p.name, type: 'gauge' as const, labelNames: PARAM_LABELS, add: false })),
  // Summed per series (qdiscs sharing interface+kind+handle), counters and the backlog gauge alike.
  ...STATS.map((p) => ({ name: p.name, type: p.type, labelNames: STAT_LABELS, add: true })),
];
const TBF_AT = NETEM.length;
const STATS_AT = TBF_AT + TBF.length;

const HELPS: readonly string[] = [
  ...NETEM.map((p) => `${p.help}, per netem qdisc in the pod's network namespace ${CACHED}`),
  ...TBF.map((p) => `${p.help}, ${TBF_SCOPE} ${CACHED}`),
  ...STATS.map((p) => (p.type === 'counter'
    ? `${p.help} (kernel counter read with tc -s), per qdisc in the pod's network namespace ${CACHED}`
    : `${p.help}, per qdisc in the pod's network namespace ${CACHED}`)),
];

/** Whether a qdisc before `i` has the same interface, handle and kind (its parameters were exported already). */
function seenBefore(qdiscs: readonly Qdisc[], i: number): boolean {
  const q = qdiscs[i]!;
  for (let j = 0; j < i; j++) {
    const p = qdiscs[j]!;
    if (p.interface === q.interface && p.handle === q.handle && p.kind === q.kind) return true;
  }
  return false;
}

/** A pod's series: per exported qdisc, its parameters (once per interface+handle+kind) and its statistics. */
function emitPod(sink: PodSeriesSink, all: readonly Qdisc[]): void {
  const qdiscs = qdiscsTruncated(all) ? exportedQdiscs(all).qdiscs : all;
  for (let i = 0; i < qdiscs.length; i++) {
    const q = qdiscs[i]!;
    if (!seenBefore(qdiscs, i)) {
      if (q.netem) {
        for (let k = 0; k < NETEM.length; k++) {
          const v = q.netem[NETEM[k]!.field];
          if (numeric(v)) sink.series(k, v, q.interface, q.handle);
        }
      }
      if (q.tbf) {
        for (let k = 0; k < TBF.length; k++) {
          const v = q.tbf[TBF[k]!.field];
          if (numeric(v)) sink.series(TBF_AT + k, v, q.interface, q.handle);
        }
      }
    }
    if (q.stats === null || q.kind === 'noqueue') continue;
    for (let k = 0; k < STATS.length; k++) sink.series(STATS_AT + k, q.stats[STATS[k]!.field], q.interface, q.kind, q.handle);
  }
}

/**
 * Yields to the event loop between pods when `slicer`'s slice is used up. `cache`: the pods' blocks kept across
 * collections (pod-blocks.ts); none: rendered afresh.
 */
export async function registerQdiscMetrics(registry: CollectionFamilies, snapshot: Snapshot, slicer = new Slicer(), cache = new PodBlockCache()): Promise<void> {
  const families = SPECS.map((s, i) => registry.register(new BlockFamily(s.name, HELPS[i]!, s.labelNames, s.type)));
  cache.begin();
  const podSeen = new Set<string>();
  for (const report of snapshot.pods) {
    if (slicer.due) await slicer.point();
    const podKey = `${report.namespace}\0${report.name}`;
    if (podSeen.has(podKey)) continue;
    podSeen.add(podKey);
    const b = cache.blocks(podKey, report.namespace, report.name, SPECS, emitPod, report.tc.qdiscs);
    for (let i = 0; i < families.length; i++) families[i]!.addLines(b.blocks[i]!, b.lines[i]!);
  }
}
