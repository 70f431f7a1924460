/**
 * Remembers, across collections, when each injection (namespace, pod, kind) was first seen, and reports the
 * injections that appeared or disappeared since the previous collection. An injection that disappears is
 * forgotten: if it comes back it gets a new first-seen time. Times are those of this agent process (a restart
 * sees every present injection as new). A pod whose namespace could not be read in a collection (verdict
 * `unknown`: a tool timed out, the read failed) says nothing about its injections: they are kept as they were,
 * without events, so one failed read neither logs a false end/start nor resets the first-seen time. The same holds
 * for pods absent from a collection whose runtime listing failed (a runtime restarting): absence proves nothing,
 * and for a sandbox in a state the runtime layer does not know (PodInfo.stateUnknown): it proves nothing either.
 * A pod whose sandbox is not ready is not read either, and when none of its containers runs nothing is left to
 * read: its network namespace went with the sandbox, so its injections end (`reason: sandbox_not_ready`), as those
 * of a pod a complete listing no longer shows (`reason: pod_gone`). While one of its containers still runs, that
 * container holds the namespace (Docker's app containers join the pause container's with `container:<id>`; killing
 * the pause container leaves them, the namespace and its faults in place): the pod is unread, its injections kept.
 *
 * Entries are keyed by namespace and name (as the metrics are) but remember the pod's uid and sandbox: a pod deleted
 * and created again under the same name (a new uid) ends its predecessor's injections (`reason: pod_replaced`), a sandbox kubelet replaced (same
 * uid, a new sandbox and so a new network namespace) ends those of the old one (`reason: sandbox_not_ready`), and
 * what the new pod or sandbox shows starts afresh, with a new first-seen time.
 *
 * A listing fails per endpoint: on a node with several runtimes, a pod absent while the endpoint it was listed
 * through is down or could not list (RuntimeStatus.up, listError) proves nothing either, while the others answer.
 *
 * The pods whose entries were kept without their injections being read, absent for a failed listing or listed but
 * unread (verdict `unknown`, not for a sandbox gone), are `held`: the metrics go on exporting their injections (and
 * their last reconciliation's drift) as last read, so a runtime restart or one failed read neither resolves nor
 * resets an alert on them (injection.ts, kube.ts).
 */
import type { ChaosKind } from '../chaos/types.js';
import type { PodDrift } from '../intent/drift.js';
import { sameItems } from '../same-items.js';
import type { PodInfo } from '../runtime/types.js';
import type { PodReport, Snapshot } from '../snapshot.js';

export interface InjectionEvent {
  event: 'injection_started' | 'injection_ended';
  namespace: string;
  pod: string;
  kind: ChaosKind;
  /** The findings that showed this kind (for an ended injection: the last evidence seen). */
  evidence: string[];
  /**
   * Why an injection ended other than by its pod's state no longer showing it: the pod is gone from a complete
   * listing, its sandbox is not ready or was replaced (its network namespace is gone), or another pod took its
   * namespace/name (a new uid). Absent on starts and on plain ends.
   */
  reason?: EndReason;
}

export type EndReason = 'pod_gone' | 'sandbox_not_ready' | 'pod_replaced';

interface Entry {
  namespace: string;
  pod: string;
  kind: ChaosKind;
  firstSeen: number;
  evidence: string[];
  /** The pod's uid and sandbox ID when last seen ('' when the report carried no runtime facts). */
  uid: string;
  sandboxId: string;
  /** The runtime endpoint (PodInfo.endpoint) the pod was last listed through ('' when the report carried no runtime facts). */
  endpoint: string;
  /** The pod's reconciliation with Chaos Mesh's intent when last read (its kind's owners, its drift); none without --kube. */
  drift: PodDrift | undefined;
}

/**
 * A pod whose injections the last collection kept without reading them: absent, its runtime's listing having
 * failed, or listed but unread (its verdict `unknown`: the snapshot's report of it gives its verdict and errors).
 * Its kinds (first-seen times through firstSeen()) and its reconciliation when last read, to export as they were.
 */
export interface HeldPod {
  namespace: string;
  pod: string;
  kinds: ChaosKind[];
  drift: PodDrift | undefined;
}

/** Whether a runtime's listing failed in `snapshot` (the runtime collector failed). */
export function listingFailed(snapshot: Pick<Snapshot, 'collectors'>): boolean {
  return snapshot.collectors.some((c) => c.collector === 'runtime' && !c.success);
}

/**
 * Whose listings failed in a collection: a pod absent from it that was listed through one of them proves nothing.
 * `endpoints`: those down (chaos_daemon_runtime_up 0) or up but unable to list (RuntimeStatus.listError), whether
 * another runtime answered or not. `all`: the runtime collector failed and no listError says where (no runtime up,
 * or it threw): every absence proves nothing. `collectorFailed`: for a pod whose endpoint is not known.
 */
export interface FailedListings {
  all: boolean;
  collectorFailed: boolean;
  endpoints: ReadonlySet<string>;
}

export function failedListings(snapshot: Pick<Snapshot, 'collectors' | 'runtimes'>): FailedListings {
  const endpoints = new Set<string>();
  let listError = false;
  for (const r of snapshot.runtimes) {
    if (r.listError !== undefined) listError = true;
    if (!r.up || r.listError !== undefined) endpoints.add(r.endpoint);
  }
  const collectorFailed = listingFailed(snapshot);
  // The collector fails when a runtime up could not list (its listError says which) or when none is up: then
  // every absence proves nothing, as when it failed otherwise (it threw).
  return { all: collectorFailed && !listError, collectorFailed, endpoints };
}

/** Whether the absence of a pod last listed through `endpoint` proves nothing in a collection with `failed`. */
function absenceProvesNothing(failed: FailedListings, endpoint: string): boolean {
  if (failed.all) return true;
  return endpoint === '' ? failed.collectorFailed : failed.endpoints.has(endpoint);
}

function key(namespace: string, pod: string, kind: string): string {
  return `${namespace}\0${pod}\0${kind}`;
}

/** The active findings that name `kind`, or every finding when none is structured. */
export function evidenceFor(report: PodReport, kind: ChaosKind): string[] {
  const own = report.chaos.details.filter((d) => d.kind === kind && d.level === 'active').map((d) => d.message);
  return own.length > 0 ? own : [...report.chaos.findings];
}

/**
 * Whether evidenceFor(report, kind) would equal `kept` item for item, without building it: a pod whose findings
 * did not change keeps its entry object instead of two new arrays and a new entry per kind every collection.
 */
function sameEvidence(kept: readonly string[], report: PodReport, kind: ChaosKind): boolean {
  let n = 0;
  for (const d of report.chaos.details) {
    if (d.kind !== kind || d.level !== 'active') continue;
    if (n >= kept.length || kept[n] !== d.message) return false;
    n += 1;
  }
  return n > 0 ? n === kept.length : sameItems(kept, report.chaos.findings);
}

/**
 * Whether a pod left unread is so because its network namespace is gone: its sandbox is NOTREADY in a state the
 * runtime knows, no namespace was resolved, it is not a host-network pod (whose namespace is the node's), and none of
 * its containers runs (a running one, with its PID known or not, still holds the namespace it joined).
 */
function sandboxGone(pod: PodInfo | null): boolean {
  return pod !== null && pod.state === 'SANDBOX_NOTREADY' && pod.stateUnknown !== true && pod.netns === null && !pod.hostNetwork
    && !pod.containers.some((c) => c.state === 'CONTAINER_RUNNING');
}

/**
 * Why the injections `e` recorded cannot be those `pod` (listed under the same namespace/name) shows: another pod
 * (a new uid; without uids, a new sandbox), or the same pod with a new sandbox and so a new network namespace
 * (not for a host-network pod: its namespace stays the node's). null: the same pod and namespace, or no facts.
 */
function replacement(e: Pick<Entry, 'uid' | 'sandboxId'>, pod: PodInfo | null): EndReason | null {
  if (pod === null || e.sandboxId === '' || pod.sandboxId === e.sandboxId) return null;
  if (pod.uid !== e.uid || pod.uid === '') return 'pod_replaced';
  return pod.hostNetwork ? null : 'sandbox_not_ready';
}

function ended(e: Entry, reason: EndReason | null): InjectionEvent {
  const ev: InjectionEvent = { event: 'injection_ended', namespace: e.namespace, pod: e.pod, kind: e.kind, evidence: e.evidence };
  if (reason !== null) ev.reason = reason;
  return ev;
}

export class InjectionTracker {
  private entries = new Map<string, Entry>();
  private heldPods: HeldPod[] = [];

  /** Update from a finished collection; `now` (unix seconds) becomes the first-seen time of new injections. */
  observe(snapshot: Snapshot, now: number = snapshot.startedAt): InjectionEvent[] {
    const next = new Map<string, Entry>();
    const events: InjectionEvent[] = [];
    /** Pods present but not read this time: their previous entries carry over. */
    const unread = new Set<string>();
    /** Pods listed with a sandbox that is not ready: their previous entries end. */
    const notReady = new Set<string>();
    for (const report of snapshot.pods) {
      if (report.chaos.verdict === 'unknown') {
        (sandboxGone(report.pod) ? notReady : unread).add(key(report.namespace, report.name, ''));
        continue;
      }
      const uid = report.pod?.uid ?? '';
      const sandboxId = report.pod?.sandboxId ?? '';
      const endpoint = report.pod?.endpoint ?? '';
      for (const kind of report.chaos.kinds) {
        const k = key(report.namespace, report.name, kind);
        if (next.has(k)) continue;
        let prev = this.entries.get(k);
        const replaced = prev === undefined ? null : replacement(prev, report.pod);
        if (replaced !== null) {
          // The predecessor's injection ends; this one is new (the end logged first).
          events.push(ended(prev!, replaced));
          prev = undefined;
        }
        // Same pod, sandbox, kind and first-seen time, equal evidence: the entry (never modified) stands as it is.
        if (prev !== undefined && prev.sandboxId === sandboxId && prev.uid === uid && sameEvidence(prev.evidence, report, kind)) {
          // A new reconciliation (with --kube, each collection's) replaces the drift alone; the pod listed through
          // another endpoint (cri-dockerd and Docker list the same sandboxes), the endpoint.
          next.set(k, prev.drift === report.drift && prev.endpoint === endpoint ? prev : { ...prev, drift: report.drift, endpoint });
          continue;
        }
        const evidence = evidenceFor(report, kind);
        next.set(k, { namespace: report.namespace, pod: report.name, kind, firstSeen: prev?.firstSeen ?? now, evidence, uid, sandboxId, endpoint, drift: report.drift });
        if (!prev) events.push({ event: 'injection_started', namespace: report.namespace, pod: report.name, kind, evidence });
      }
    }
    const failed = failedListings(snapshot);
    const held = new Map<string, HeldPod>();
    // Pods listed, with their runtime facts: when its endpoint's listing failed, a pod absent proves nothing; else it is gone.
    let listed: Map<string, PodInfo | null> | null = null;
    for (const [k, e] of this.entries) {
      if (next.has(k)) continue;
      const podKey = key(e.namespace, e.pod, '');
      listed ??= new Map(snapshot.pods.map((p) => [key(p.namespace, p.name, ''), p.pod]));
      const pod = listed.get(podKey);
      // Another pod or sandbox under the name ends the old one's injections, read or not.
      const replaced = pod === undefined ? null : replacement(e, pod);
      const gone = pod === undefined;
      if ((replaced === null && unread.has(podKey)) || (gone && absenceProvesNothing(failed, e.endpoint))) {
        next.set(k, e);
        const h = held.get(podKey);
        if (h === undefined) held.set(podKey, { namespace: e.namespace, pod: e.pod, kinds: [e.kind], drift: e.drift });
        else h.kinds.push(e.kind);
        continue;
      }
      events.push(ended(e, replaced ?? (gone ? 'pod_gone' : notReady.has(podKey) ? 'sandbox_not_ready' : null)));
    }
    this.entries = next;
    this.heldPods = held.size === 0 ? [] : [...held.values()];
    return events;
  }

  /** The pods the last observe() kept unread, listed or not (see HeldPod), in the order their injections were first kept. */
  get held(): readonly HeldPod[] {
    return this.heldPods;
  }

  firstSeen(namespace: string, pod: string, kind: ChaosKind): number | undefined {
    return this.entries.get(key(namespace, pod, kind))?.firstSeen;
  }

  get size(): number {
    return this.entries.size;
  }
}
