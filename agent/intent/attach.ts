/**
 * Joins a finished collection with the intent: each pod entry gets `intent` (what Chaos Mesh says about it)
 * and `drift` (reconcile.ts), and the snapshot gets the source's health. Pure apart from mutating the snapshot
 * it is given, before anything publishes it. Entries without a pod (--netns / --pid targets) are left alone.
 */
import type { ChaosKind } from '../chaos/types.js';
import type { Snapshot } from '../snapshot.js';
import { reconcilePod } from './reconcile.js';
import type { IntentSource } from './source.js';

export type FirstSeen = (namespace: string, pod: string, kind: ChaosKind) => number | undefined;

export function attachIntent(snapshot: Snapshot, source: IntentSource, firstSeen: FirstSeen, now: number = snapshot.finishedAt): void {
  const view = source.view();
  snapshot.kube = source.health();
  for (const report of snapshot.pods) {
    if (report.name === '') continue;
    const pod = view.pod(report.namespace, report.name);
    report.intent = { status: view.status, pod };
    report.drift = reconcilePod({
      intent: pod,
      status: view.status,
      state: report,
      chaos: report.chaos,
      firstSeen: (kind) => firstSeen(report.namespace, report.name, kind),
      now,
    });
  }
}
