/**
 * The lifecycle facts the reconciliation needs beyond the per-pod objects, and the memory of when each was first
 * seen. Pure except SinceTracker, which is the state kept at the edge (the `serve` source).
 * - An entry's owner is the NetworkChaos its `source` names (`<ns>/<name>`). Chaos Mesh clears an experiment's
 *   PodNetworkChaos entries only when it recovers (controllers/chaosimpl/networkchaos/podnetworkchaosmanager
 *   builder.go WithInit -> Clear(source), called from partition / trafficcontrol impl.go Recover). An entry whose
 *   NetworkChaos is absent (deleted without recovery: the dashboard's forced delete sets
 *   chaos-mesh.chaos-mesh.org/cleanFinalizer=forced, which drops the finalizer, controllers/common/finalizers),
 *   being deleted, or stopped (desiredPhase Stop: paused, duration over, or deleted) is not wanted any more.
 * - A PodNetworkChaos is pending while metadata.generation > status.observedGeneration: the controller changed the
 *   spec and has not yet applied it through chaos-daemon (controllers/podnetworkchaos/controller.go sets
 *   observedGeneration = generation and failedMessage after each attempt).
 * The condition keys name what is tracked; a condition's clock starts when the agent first sees it in a synced
 * view and stops when it is no longer seen (the owner reappears, the PodNetworkChaos is applied).
 */
import type { ExperimentIntent, ExperimentRef, OwnerCondition, PodNetworkIntent } from './model.js';

/** The condition of a NetworkChaos (undefined: not in the cache). */
export function ownerCondition(exp: ExperimentIntent | undefined): OwnerCondition {
  if (exp === undefined) return 'absent';
  if (exp.deleting) return 'deleting';
  if (exp.desiredPhase === 'Stop') return 'stopped';
  return 'running';
}

/** The distinct non-empty sources of a PodNetworkChaos' entries, sorted. */
export function networkSources(n: PodNetworkIntent): ExperimentRef[] {
  const all = [...n.ipsets, ...n.chains, ...n.tcs].map((e) => e.source).filter((s) => s !== '');
  return [...new Set(all)].sort();
}

/** generation > observedGeneration (an unwritten status counts as observedGeneration 0). */
export function isPending(n: PodNetworkIntent): boolean {
  return n.generation !== null && n.generation > (n.observedGeneration ?? 0);
}

export function ownerKey(ref: ExperimentRef, condition: OwnerCondition): string {
  return `owner\0${ref}\0${condition}`;
}

export function pendingKey(namespace: string, pod: string): string {
  return `pending\0${namespace}/${pod}`;
}

/** Every condition key the caches show now: owners not running, pending PodNetworkChaos objects. */
export function conditionKeys(network: readonly PodNetworkIntent[], networkChaos: ReadonlyMap<ExperimentRef, ExperimentIntent>): string[] {
  const keys = new Set<string>();
  for (const n of network) {
    for (const ref of networkSources(n)) {
      const c = ownerCondition(networkChaos.get(ref));
      if (c !== 'running') keys.add(ownerKey(ref, c));
    }
    if (isPending(n)) keys.add(pendingKey(n.namespace, n.name));
  }
  return [...keys];
}

/** The next first-seen map: keys seen now keep their time or start at `now`; keys not seen are forgotten. */
export function advanceSince(prev: ReadonlyMap<string, number>, keys: Iterable<string>, now: number): Map<string, number> {
  const next = new Map<string, number>();
  for (const k of keys) next.set(k, prev.get(k) ?? now);
  return next;
}

/** First-seen times of condition keys across views (`serve`). Unix seconds. */
export class SinceTracker {
  private seen = new Map<string, number>();

  observe(keys: Iterable<string>, now: number): void {
    this.seen = advanceSince(this.seen, keys, now);
  }

  since(key: string): number | undefined {
    return this.seen.get(key);
  }
}
