/**
 * The Kubernetes API source and the intent reconciliation (only when the source is on):
 * chaos_daemon_kube_up, chaos_daemon_kube_sync_age_seconds, chaos_daemon_kube_objects{resource} (resources listed
 * completely at least once) and
 * chaos_daemon_injection_drift{namespace,pod,kind,state} (missing, mismatch, failed, and leftovers that change
 * traffic; 0 for the leftover / missing / mismatch states of the pod's active and drifting kinds without entries;
 * absent for pods whose drift is unknown). A pod held through a runtime outage or a failed read of its namespace
 * (injection-tracker.ts HeldPod; its drift then unknown) keeps the drift series of its last reconciliation, so the
 * drift alerts on it neither resolve nor restart.
 */
import type { ChaosKind } from '../chaos/types.js';
import type { PodDrift } from '../intent/drift.js';
import { driftCounts } from '../intent/reconcile.js';
import type { HeldPod } from './injection-tracker.js';
import type { Snapshot } from '../snapshot.js';
import { CACHED, gauge, type CollectionFamilies } from './families.js';

export function registerKubeMetrics(registry: CollectionFamilies, snapshot: Snapshot, held: readonly HeldPod[] = []): void {
  const kube = snapshot.kube;
  if (kube === undefined) return;
  gauge(registry, 'chaos_daemon_kube_up',
    `1 when every chaos-mesh.org resource the agent reads is listed and watched, else 0 (the intent is then served from the last caches, see chaos_daemon_kube_sync_age_seconds) ${CACHED}`, [])
    .set([], kube.up ? 1 : 0);
  if (kube.syncAgeSeconds !== null) {
    // Registered only with a value: an unlabelled prom-client gauge would otherwise print 0.
    gauge(registry, 'chaos_daemon_kube_sync_age_seconds',
      `Seconds since the intent caches were last known to match the Kubernetes API (0 while watching; absent before the first complete list) ${CACHED}`, [])
      .set([], kube.syncAgeSeconds);
  }
  const objects = gauge(registry, 'chaos_daemon_kube_objects',
    `chaos-mesh.org objects held in the intent caches, by resource; absent for a resource never listed completely (every list failed: chaos_daemon_kube_up is 0), whose cache holds nothing known ${CACHED}`, ['resource']);
  // A resource never listed has an empty cache that says nothing about the server: no series rather than a 0.
  for (const r of kube.resources) if (r.synced) objects.set([r.resource], r.objects);

  const drift = gauge(registry, 'chaos_daemon_injection_drift',
    `Chaos state that differs from Chaos Mesh's intent (PodNetworkChaos, experiment records), by kind: state=leftover (in the kernel, changing traffic, intended by nothing, or only by an experiment that no longer exists, is being deleted or is stopped), missing (intended, not in the kernel), mismatch (in the kernel with other parameters), failed (differs while chaos-daemon's last apply of the PodNetworkChaos failed; exported only while > 0); differences while a PodNetworkChaos generation is not applied yet are not counted ${CACHED}`,
    ['namespace', 'pod', 'kind', 'state']);
  // A pod's series once, from its first reconciled drift: the snapshot's, then a held pod's last one.
  const done = new Set<string>();
  const podDrift = (namespace: string, pod: string, d: PodDrift | undefined, kinds: readonly ChaosKind[]): void => {
    const key = `${namespace}\0${pod}`;
    if (d === undefined || d.status !== 'reconciled' || done.has(key)) return;
    done.add(key);
    for (const c of driftCounts(d, kinds)) drift.set([namespace, pod, c.kind, c.state], c.count);
  };
  for (const report of snapshot.pods) podDrift(report.namespace, report.name, report.drift, report.chaos.kinds);
  for (const h of held) podDrift(h.namespace, h.pod, h.drift, h.kinds);
}
