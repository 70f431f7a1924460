/**
 * Injection state per pod: chaos_daemon_injection_active, chaos_daemon_injection_first_seen_timestamp_seconds,
 * chaos_daemon_pod_verdict and chaos_daemon_pod_errors. `experiment` on injection_active is the owner
 * (`<ns>/<name>`) of the kind's active findings from the intent reconciliation, one series per owner; empty when
 * nothing owns it or the Kubernetes API source is off. A pod's lines are kept and reused while its series are
 * unchanged (pod-blocks.ts).
 *
 * A pod held through a runtime outage (absent from a collection whose runtime listing failed, its injections kept
 * by the tracker: injection-tracker.ts HeldPod) keeps its injection_active series (same experiment labels, from its
 * last reconciliation) and first_seen times, so leftover alerts neither resolve nor restart their `for`; it reads
 * verdict `unknown` (its namespace could not be read, as the verdict says) and has no pod_errors nor pod_truncated
 * series (no read was attempted). So does a pod listed whose read failed (verdict `unknown`: a tool timed out, a
 * read error), its injections kept by the tracker as well: its verdict, errors and truncations are those of the
 * failed read, its injection_active and first_seen series those kept.
 */
import type { ChaosKind, Verdict } from '../chaos/types.js';
import type { PodDrift } from '../intent/drift.js';
import type { PodReport, Snapshot } from '../snapshot.js';
import { BlockFamily, CACHED, type CollectionFamilies } from './families.js';
import type { HeldPod } from './injection-tracker.js';
import { PodBlockCache, type PodFamilySpec, type PodSeriesSink } from './pod-blocks.js';
import { readAttempted } from './netns-content.js';
import { MAX_QDISCS_PER_POD, qdiscsTruncated } from './qdisc-cap.js';
import { DEFAULT_MAX_RULES_PER_POD, rulesTruncated } from './rule-cap.js';
import { Slicer } from './slicer.js';

const VERDICTS: readonly Verdict[] = ['clean', 'scaffolding', 'active', 'unknown'];
const POD = ['namespace', 'pod'] as const;

export type FirstSeenLookup = (namespace: string, pod: string, kind: ChaosKind) => number | undefined;

/** The families, in registration order (the exposition's), as pod-blocks.ts specs; indices below. */
const SPECS: readonly PodFamilySpec[] = [
  { name: 'chaos_daemon_injection_active', type: 'gauge', labelNames: [...POD, 'kind', 'experiment'], add: false },
  { name: 'chaos_daemon_injection_first_seen_timestamp_seconds', type: 'gauge', labelNames: [...POD, 'kind'], add: false },
  { name: 'chaos_daemon_pod_verdict', type: 'gauge', labelNames: [...POD, 'verdict'], add: false },
  { name: 'chaos_daemon_pod_errors', type: 'gauge', labelNames: POD, add: false },
  { name: 'chaos_daemon_pod_truncated', type: 'gauge', labelNames: [...POD, 'what'], add: false },
];
const ACTIVE = 0;
const SEEN = 1;
const VERDICT = 2;
const ERRORS = 3;
const TRUNCATED = 4;

const HELPS: readonly string[] = [
  `1 for each kind of chaos injection currently changing the pod's traffic (absent otherwise); experiment = the Chaos Mesh experiment (<namespace>/<name>) that owns it, empty when none or unknown ${CACHED}`,
  `Unix time this agent first saw the injection, kept while it stays present (for leftover alerts: time() - this) ${CACHED}`,
  `Chaos verdict of the pod's network namespace: 1 for the current verdict, 0 for the others (clean, scaffolding = empty residue of a finished experiment, active, unknown = the namespace could not be read, also while its runtime cannot be listed) ${CACHED}`,
  `Problems met reading the pod in the last collection (vanished pod, tool failure, unresolved namespace); its other series may be incomplete; absent when its namespace was not read at all (netns collector off, its runtime not listed) ${CACHED}`,
  `1 when something of the pod was cut at a bound: what="rules" (more iptables rules than --max-rules-per-pod: the rest is not exported, chaos chains first; the verdict still saw them), what="qdiscs" (more than ${MAX_QDISCS_PER_POD} qdiscs: the rest have no chaos_daemon_qdisc_* series, netem and tbf first) or what=<source> (a namespace source read only in part: cut at --max-output, cut by --namespace-timeout, or part of it undecodable; the verdict is unknown unless what was read proves an active injection) ${CACHED}`,
];

interface PodInput {
  report: PodReport;
  /** The tracker's kept injections of the pod, when its read failed (verdict unknown); none: those read. */
  held: HeldPod | undefined;
  firstSeen: FirstSeenLookup;
  maxRules: number;
}

/** A pod's series, in the order they were always set (verdicts, errors, truncations, then per kind). */
function emitPod(sink: PodSeriesSink, input: PodInput): void {
  const report = input.report;
  for (const v of VERDICTS) sink.series(VERDICT, report.chaos.verdict === v ? 1 : 0, v);
  // Absent, not 0, for a pod whose namespace no read was even attempted for (netns collector off: netns-content.ts).
  if (readAttempted(report)) sink.series(ERRORS, report.errors.length);
  for (const src of report.sources) if (src.status === 'truncated') sink.series(TRUNCATED, 1, src.source);
  if (rulesTruncated(report.iptables, input.maxRules)) sink.series(TRUNCATED, 1, 'rules');
  if (qdiscsTruncated(report.tc.qdiscs)) sink.series(TRUNCATED, 1, 'qdiscs');
  const h = input.held;
  if (h === undefined) emitKinds(sink, report.namespace, report.name, report.chaos.kinds, report.drift, input.firstSeen);
  else emitKinds(sink, report.namespace, report.name, h.kinds, h.drift, input.firstSeen);
}

/** injection_active (one series per owner in `drift`) and first_seen of each kind, once each, at its first place. */
function emitKinds(sink: PodSeriesSink, namespace: string, pod: string, kinds: readonly ChaosKind[], drift: PodDrift | undefined, firstSeen: FirstSeenLookup): void {
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    if (kinds.indexOf(kind) < i) continue;
    const owners = drift?.kindOwners[kind] ?? [];
    if (owners.length === 0) sink.series(ACTIVE, 1, kind, '');
    for (const experiment of owners) sink.series(ACTIVE, 1, kind, experiment);
    const t = firstSeen(namespace, pod, kind);
    if (t !== undefined) sink.series(SEEN, t, kind);
  }
}

interface HeldInput {
  held: HeldPod;
  firstSeen: FirstSeenLookup;
}

/** A pod held through a runtime outage: verdict unknown (not read), no errors nor truncations, its kept injections. */
function emitHeld(sink: PodSeriesSink, input: HeldInput): void {
  const h = input.held;
  for (const v of VERDICTS) sink.series(VERDICT, v === 'unknown' ? 1 : 0, v);
  emitKinds(sink, h.namespace, h.pod, h.kinds, h.drift, input.firstSeen);
}

/**
 * Yields to the event loop between pods when `slicer`'s slice is used up. `cache`: the pods' blocks kept across
 * collections (pod-blocks.ts); none: rendered afresh. `held`: the pods whose injections the tracker kept unread
 * (a listed pod whose read failed: with its report's verdict and errors; the others after the snapshot's pods).
 */
export async function registerInjectionMetrics(registry: CollectionFamilies, snapshot: Snapshot, firstSeen: FirstSeenLookup, maxRulesPerPod = DEFAULT_MAX_RULES_PER_POD, slicer = new Slicer(), cache = new PodBlockCache(), held: readonly HeldPod[] = []): Promise<void> {
  const families = SPECS.map((s, i) => registry.register(new BlockFamily(s.name, HELPS[i]!, s.labelNames, s.type)));
  cache.begin();
  const done = new Set<string>();
  const heldBy = held.length === 0 ? null : new Map(held.map((h) => [`${h.namespace}\0${h.pod}`, h]));
  for (const report of snapshot.pods) {
    if (slicer.due) await slicer.point();
    const podKey = `${report.namespace}\0${report.name}`;
    if (done.has(podKey)) continue; // one entry per pod; a duplicate name would collide
    done.add(podKey);
    // The tracker holds a listed pod's injections only while its verdict is unknown (kinds: none read).
    const kept = report.chaos.verdict === 'unknown' ? heldBy?.get(podKey) : undefined;
    const b = cache.blocks(podKey, report.namespace, report.name, SPECS, emitPod, { report, held: kept, firstSeen, maxRules: maxRulesPerPod });
    for (let i = 0; i < families.length; i++) families[i]!.addLines(b.blocks[i]!, b.lines[i]!);
  }
  for (const h of held) {
    const podKey = `${h.namespace}\0${h.pod}`;
    if (done.has(podKey)) continue;
    done.add(podKey);
    const b = cache.blocks(podKey, h.namespace, h.pod, SPECS, emitHeld, { held: h, firstSeen });
    for (let i = 0; i < families.length; i++) families[i]!.addLines(b.blocks[i]!, b.lines[i]!);
  }
}
