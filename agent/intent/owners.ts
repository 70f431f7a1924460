/**
 * The lifecycle facts the reconciliation needs beyond the per-pod objects, and the memory of when each was first
 * seen. Pure except SinceTracker, which is the state kept at the edge (the `serve` source).
 * - An entry's owner is the NetworkChaos its `source` names (`<ns>/<name>`). Chaos Mesh clears an experiment's
 *   PodNetworkChaos entries only when it recovers (controllers/chaosimpl/networkchaos/podnetworkchaosmanager
 *   builder.go WithInit -> Clear(source), called from partition / trafficcontrol impl.go Recover). An entry whose
 *   NetworkChaos is absent (deleted without recovery: the dashboard's forced delete sets
 *   chaos-mesh.chaos-mesh.org/cleanFinalizer=forced, which drops the finalizer, controllers/common/finalizers),
 *   being deleted, or stopped (desiredPhase Stop: paused, duration over, or deleted) is not wanted any more.
 * - The same holds for the other per-pod objects and their experiments: a PodHttpChaos rule's `source` names its
 *   HTTPChaos, a PodIOChaos action's `source` its IOChaos (api/v1alpha1/podhttpchaos_types.go PodHttpChaosRule.Source,
 *   podiochaos_types.go IOChaosAction.Source, both `<namespace>/<name>`: controllers/chaosimpl/httpchaos/impl.go and
 *   iochaos/impl.go set `source := ns + "/" + name`). Both managers' WithInit start every transaction with
 *   Clear(source), which drops that source's rules / actions (controllers/chaosimpl/httpchaos/podhttpchaosmanager
 *   builder.go + transaction.go, iochaos/podiochaosmanager builder.go + transaction.go), and Recover commits that
 *   transaction alone: only a recovery removes them. chaos-daemon then re-applies what is left
 *   (controllers/podhttpchaos/controller.go, controllers/podiochaos/controller.go): toda is killed and not restarted
 *   when no action is left (pkg/chaosdaemon/iochaos_server.go ApplyIOChaos), tproxy gets the remaining rules and
 *   ports (pkg/chaosdaemon/httpchaos_server.go). So rules / actions of an absent, deleting or stopped experiment keep
 *   the proxy and the FUSE mount in place.
 * - A PodNetworkChaos is pending while metadata.generation > status.observedGeneration: the controller changed the
 *   spec and has not yet applied it through chaos-daemon (controllers/podnetworkchaos/controller.go sets
 *   observedGeneration = generation and failedMessage after each attempt).
 * The condition keys name what is tracked; a condition's clock starts when the agent first sees it in a synced
 * view and stops when it is no longer seen (the owner reappears, the PodNetworkChaos is applied).
 */
import type { ApplyState, ExperimentIntent, ExperimentRef, OwnerCondition, OwnerKind, PodHttpIntent, PodIoIntent, PodNetworkIntent } from './model.js';

/** The condition of an owning experiment (undefined: not in the cache). */
export function ownerCondition(exp: ExperimentIntent | undefined): OwnerCondition {
  if (exp === undefined) return 'absent';
  if (exp.deleting) return 'deleting';
  if (exp.desiredPhase === 'Stop') return 'stopped';
  return 'running';
}

function distinct(sources: readonly (string | null)[]): ExperimentRef[] {
  return [...new Set(sources.filter((s): s is string => s !== null && s !== ''))].sort();
}

/** The distinct non-empty sources of a PodNetworkChaos' entries, sorted. */
export function networkSources(n: PodNetworkIntent): ExperimentRef[] {
  return distinct([...n.ipsets, ...n.chains, ...n.tcs].map((e) => e.source));
}

/** The distinct non-empty sources of a PodHttpChaos' rules (their HTTPChaos), sorted. */
export function httpSources(h: PodHttpIntent): ExperimentRef[] {
  return distinct(h.rules.map((r) => r.source));
}

/** The distinct non-empty sources of a PodIOChaos' actions (their IOChaos), sorted. */
export function ioSources(i: PodIoIntent): ExperimentRef[] {
  return distinct(i.actions.map((a) => a.source));
}

/** generation > observedGeneration (an unwritten status counts as observedGeneration 0). */
export function isPending(n: ApplyState): boolean {
  return n.generation !== null && n.generation > (n.observedGeneration ?? 0);
}

/** The per-pod objects chaos-daemon applies, each with an apply state. */
export type PodChaosKind = 'PodNetworkChaos' | 'PodHttpChaos' | 'PodIOChaos';

export function ownerKey(ref: ExperimentRef, condition: OwnerCondition, kind: OwnerKind = 'NetworkChaos'): string {
  return `owner\0${kind}\0${ref}\0${condition}`;
}

export function pendingKey(namespace: string, pod: string, kind: PodChaosKind = 'PodNetworkChaos'): string {
  return kind === 'PodNetworkChaos' ? `pending\0${namespace}/${pod}` : `pending\0${kind}\0${namespace}/${pod}`;
}

/** The PodHttpChaos / PodIOChaos objects and their experiments by `<ns>/<name>`, for conditionKeys. */
export interface PodChaosOwners {
  http: readonly PodHttpIntent[];
  io: readonly PodIoIntent[];
  httpChaos: ReadonlyMap<ExperimentRef, ExperimentIntent>;
  ioChaos: ReadonlyMap<ExperimentRef, ExperimentIntent>;
}

/** Every condition key the caches show now: owners not running (of each kind), pending per-pod objects. */
export function conditionKeys(network: readonly PodNetworkIntent[], networkChaos: ReadonlyMap<ExperimentRef, ExperimentIntent>, other?: PodChaosOwners): string[] {
  const keys = new Set<string>();
  const add = (refs: ExperimentRef[], experiments: ReadonlyMap<ExperimentRef, ExperimentIntent>, kind: OwnerKind): void => {
    for (const ref of refs) {
      const c = ownerCondition(experiments.get(ref));
      if (c !== 'running') keys.add(ownerKey(ref, c, kind));
    }
  };
  for (const n of network) {
    add(networkSources(n), networkChaos, 'NetworkChaos');
    if (isPending(n)) keys.add(pendingKey(n.namespace, n.name));
  }
  if (other !== undefined) {
    for (const h of other.http) {
      add(httpSources(h), other.httpChaos, 'HTTPChaos');
      if (isPending(h)) keys.add(pendingKey(h.namespace, h.name, 'PodHttpChaos'));
    }
    for (const i of other.io) {
      add(ioSources(i), other.ioChaos, 'IOChaos');
      if (isPending(i)) keys.add(pendingKey(i.namespace, i.name, 'PodIOChaos'));
    }
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
