/**
 * Remembers, across collections, when each injection (namespace, pod, kind) was first seen, and reports the
 * injections that appeared or disappeared since the previous collection. An injection that disappears is
 * forgotten: if it comes back it gets a new first-seen time. Times are those of this agent process (a restart
 * sees every present injection as new). A pod whose namespace could not be read in a collection (verdict
 * `unknown`: a tool timed out, the read failed) says nothing about its injections: they are kept as they were,
 * without events, so one failed read neither logs a false end/start nor resets the first-seen time. The same holds
 * for pods absent from a collection whose runtime listing failed (a runtime restarting): absence proves nothing,
 * and for a sandbox in a state the runtime layer does not know (PodInfo.stateUnknown): it proves nothing either.
 * A pod whose sandbox is not ready is not read either, but there nothing is left to read: its network namespace
 * went with the sandbox and its containers are stopped, so its injections end (`reason: sandbox_not_ready`), as
 * those of a pod a complete listing no longer shows (`reason: pod_gone`).
 */
import type { ChaosKind } from '../chaos/types.js';
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
   * listing, or its sandbox is not ready (its network namespace is gone). Absent on starts and on plain ends.
   */
  reason?: 'pod_gone' | 'sandbox_not_ready';
}

interface Entry {
  namespace: string;
  pod: string;
  kind: ChaosKind;
  firstSeen: number;
  evidence: string[];
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
 * runtime knows, no namespace was resolved, and it is not a host-network pod (whose namespace is the node's).
 */
function sandboxGone(pod: PodInfo | null): boolean {
  return pod !== null && pod.state === 'SANDBOX_NOTREADY' && pod.stateUnknown !== true && pod.netns === null && !pod.hostNetwork;
}

export class InjectionTracker {
  private entries = new Map<string, Entry>();

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
      for (const kind of report.chaos.kinds) {
        const k = key(report.namespace, report.name, kind);
        if (next.has(k)) continue;
        const prev = this.entries.get(k);
        // Same pod, kind and first-seen time, equal evidence: the entry (never modified) stands as it is.
        if (prev !== undefined && sameEvidence(prev.evidence, report, kind)) {
          next.set(k, prev);
          continue;
        }
        const evidence = evidenceFor(report, kind);
        next.set(k, { namespace: report.namespace, pod: report.name, kind, firstSeen: prev?.firstSeen ?? now, evidence });
        if (!prev) events.push({ event: 'injection_started', namespace: report.namespace, pod: report.name, kind, evidence });
      }
    }
    const listingFailed = snapshot.collectors.some((c) => c.collector === 'runtime' && !c.success);
    // Pods listed: when the listing failed, a pod absent proves nothing; else an absent pod is gone.
    let listed: Set<string> | null = null;
    for (const [k, e] of this.entries) {
      if (next.has(k)) continue;
      const podKey = key(e.namespace, e.pod, '');
      if (unread.has(podKey)) {
        next.set(k, e);
        continue;
      }
      listed ??= new Set(snapshot.pods.map((p) => key(p.namespace, p.name, '')));
      const gone = !listed.has(podKey);
      if (gone && listingFailed) {
        next.set(k, e);
        continue;
      }
      const ended: InjectionEvent = { event: 'injection_ended', namespace: e.namespace, pod: e.pod, kind: e.kind, evidence: e.evidence };
      if (gone) ended.reason = 'pod_gone';
      else if (notReady.has(podKey)) ended.reason = 'sandbox_not_ready';
      events.push(ended);
    }
    this.entries = next;
    return events;
  }

  firstSeen(namespace: string, pod: string, kind: ChaosKind): number | undefined {
    return this.entries.get(key(namespace, pod, kind))?.firstSeen;
  }

  get size(): number {
    return this.entries.size;
  }
}
