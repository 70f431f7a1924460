/**
 * Joins the pod entries of a collection with the intent: each entry gets `intent` (what Chaos Mesh says about
 * it) and `drift` (reconcile.ts). Pure apart from mutating the entries it is given, before anything publishes
 * them. Entries without a pod name (--netns / --pid targets, the node's namespace) are left alone.
 */
import type { ChaosKind } from '../chaos/types.js';
import type { PodProcFacts } from '../proc/model.js';
import type { PodReport } from '../snapshot.js';
import type { LifecycleLimits } from './lifecycle.js';
import type { ChaosProcess } from './processes.js';
import { reconcilePod } from './reconcile.js';
import type { IntentView } from './view.js';

export type FirstSeen = (namespace: string, pod: string, kind: ChaosKind) => number | undefined;

/**
 * The pod's chaos processes as the reconciliation sees them (the /proc facts, agent/proc), or null when they are not
 * known (the proc collector off, or its process source incomplete): then no process drift is claimed. `tproxy --proxy`
 * runs in chaos-tproxy's own namespace and is not what PodHttpChaos records; the `-i` one is.
 */
export function processesOf(facts: PodProcFacts | undefined): ChaosProcess[] | null {
  if (!facts || !facts.sources.processes.complete) return null;
  const out: ChaosProcess[] = [];
  for (const p of facts.processes) if (p.role !== 'tproxy-proxy') out.push({ command: p.role, pid: p.pid, startTimeMs: p.startTimeMs });
  return out;
}

/**
 * `now` and first-seen times in unix seconds; an injection the tracker has no first-seen time for counts from `now`.
 * Without a tracker (`firstSeen` absent: one-shot commands, which watch nothing) leftovers have no age (null), rather
 * than an age of 0 s for injections of any age. `limits`: the lifecycle clocks (absent: lifecycle.ts's defaults).
 */
export function attachIntent(reports: Iterable<PodReport>, view: IntentView, firstSeen: FirstSeen | undefined, now: number, limits?: LifecycleLimits): void {
  for (const report of reports) {
    if (report.name === '') continue;
    const pod = view.pod(report.namespace, report.name);
    report.intent = { status: view.status, pod };
    report.drift = reconcilePod({
      intent: pod,
      status: view.status,
      state: report,
      chaos: report.chaos,
      firstSeen: firstSeen ? (kind) => firstSeen(report.namespace, report.name, kind) ?? now : noFirstSeen,
      now,
      processes: processesOf(report.proc),
      ...limits,
    });
  }
}

/** No first-seen times: no memory of when an injection appeared. */
function noFirstSeen(): undefined {
  return undefined;
}
