/**
 * Injection state per pod: chaos_daemon_injection_active, chaos_daemon_injection_first_seen_timestamp_seconds,
 * chaos_daemon_pod_verdict and chaos_daemon_pod_errors. `experiment` on injection_active is the owner
 * (`<ns>/<name>`) of the kind's active findings from the intent reconciliation, one series per owner; empty when
 * nothing owns it or the Kubernetes API source is off.
 */
import type { ChaosKind, Verdict } from '../chaos/types.js';
import type { Snapshot } from '../snapshot.js';
import { CACHED, gauge, labelPrefix, type CollectionFamilies } from './families.js';
import { MAX_QDISCS_PER_POD, qdiscsTruncated } from './qdisc-cap.js';
import { DEFAULT_MAX_RULES_PER_POD, rulesTruncated } from './rule-cap.js';
import { Slicer } from './slicer.js';

const VERDICTS: readonly Verdict[] = ['clean', 'scaffolding', 'active', 'unknown'];
const POD = ['namespace', 'pod'] as const;

export type FirstSeenLookup = (namespace: string, pod: string, kind: ChaosKind) => number | undefined;

/** Yields to the event loop between pods when `slicer`'s slice is used up. */
export async function registerInjectionMetrics(registry: CollectionFamilies, snapshot: Snapshot, firstSeen: FirstSeenLookup, maxRulesPerPod = DEFAULT_MAX_RULES_PER_POD, slicer = new Slicer()): Promise<void> {
  const active = gauge(registry, 'chaos_daemon_injection_active',
    `1 for each kind of chaos injection currently changing the pod's traffic (absent otherwise); experiment = the Chaos Mesh experiment (<namespace>/<name>) that owns it, empty when none or unknown ${CACHED}`,
    [...POD, 'kind', 'experiment']);
  const seen = gauge(registry, 'chaos_daemon_injection_first_seen_timestamp_seconds',
    `Unix time this agent first saw the injection, kept while it stays present (for leftover alerts: time() - this) ${CACHED}`,
    [...POD, 'kind']);
  const verdict = gauge(registry, 'chaos_daemon_pod_verdict',
    `Chaos verdict of the pod's network namespace: 1 for the current verdict, 0 for the others (clean, scaffolding = empty residue of a finished experiment, active, unknown = the namespace could not be read) ${CACHED}`,
    [...POD, 'verdict']);
  const errors = gauge(registry, 'chaos_daemon_pod_errors',
    `Problems met reading the pod in the last collection (vanished pod, tool failure, unresolved namespace); its other series may be incomplete ${CACHED}`,
    POD);

  const truncated = gauge(registry, 'chaos_daemon_pod_truncated',
    `1 when something of the pod was cut at a bound: what="rules" (more iptables rules than --max-rules-per-pod: the rest is not exported, chaos chains first; the verdict still saw them), what="qdiscs" (more than ${MAX_QDISCS_PER_POD} qdiscs: the rest have no chaos_daemon_qdisc_* series, netem and tbf first) or what=<source> (a namespace source cut at --max-output: the verdict is unknown unless what was read proves an active injection) ${CACHED}`,
    [...POD, 'what']);
  const done = new Set<string>();
  for (const report of snapshot.pods) {
    await slicer.point();
    const podKey = `${report.namespace}\0${report.name}`;
    if (done.has(podKey)) continue; // one entry per pod; a duplicate name would collide
    done.add(podKey);
    const pod = labelPrefix(POD, [report.namespace, report.name]);
    for (const v of VERDICTS) verdict.setAfter(pod, [v], report.chaos.verdict === v ? 1 : 0);
    errors.setAfter(pod, [], report.errors.length);
    for (const src of report.sources) if (src.status === 'truncated') truncated.setAfter(pod, [src.source], 1);
    if (rulesTruncated(report.iptables, maxRulesPerPod)) truncated.setAfter(pod, ['rules'], 1);
    if (qdiscsTruncated(report.tc.qdiscs)) truncated.setAfter(pod, ['qdiscs'], 1);
    for (const kind of new Set(report.chaos.kinds)) {
      const owners = report.drift?.kindOwners[kind] ?? [];
      for (const experiment of owners.length > 0 ? owners : ['']) active.setAfter(pod, [kind, experiment], 1);
      const t = firstSeen(report.namespace, report.name, kind);
      if (t !== undefined) seen.setAfter(pod, [kind], t);
    }
  }
}
