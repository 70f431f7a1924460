/**
 * A point-in-time view of the intent caches, indexed by pod: the Pod*Chaos objects named after the pod, the
 * experiments holding a record for the pod or one of its containers (record ids `<ns>/<pod>` and
 * `<ns>/<pod>/<container>`; StressChaos instances are keyed by the same ids), and the condition of every
 * NetworkChaos the pod's PodNetworkChaos names, HTTPChaos its PodHttpChaos rules name and IOChaos its PodIOChaos
 * actions name (owners.ts), with since when the agent has seen it so (`since`: the source's memory; without one,
 * null: no memory). Pure; built once per collection.
 */
import type { ApplyState, ExperimentIntent, ExperimentRef, IntentStatus, OwnerKind, OwnerStatus, PodHttpIntent, PodIntent, PodIoIntent, PodNetworkIntent } from './model.js';
import { conditionKeys, httpSources, ioSources, isPending, networkSources, ownerCondition, ownerKey, pendingKey, type PodChaosKind } from './owners.js';
import type { Normalised } from './resources.js';

/** When a condition key (owners.ts) was first seen, unix seconds; null: no memory. */
export type SinceLookup = (key: string) => number | null;

export interface IntentCaches {
  network: PodNetworkIntent[];
  http: PodHttpIntent[];
  io: PodIoIntent[];
  experiments: ExperimentIntent[];
}

export function cachesFrom(objects: Iterable<Normalised>): IntentCaches {
  const c: IntentCaches = { network: [], http: [], io: [], experiments: [] };
  for (const o of objects) {
    if (o.type === 'network') c.network.push(o.value);
    else if (o.type === 'http') c.http.push(o.value);
    else if (o.type === 'io') c.io.push(o.value);
    else c.experiments.push(o.value);
  }
  return c;
}

/** `<ns>/<pod>` of a record id (`<ns>/<pod>` or `<ns>/<pod>/<container>`), null for anything else. */
export function podOfRecordId(id: string): string | null {
  const parts = id.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) return null;
  return `${parts[0]}/${parts[1]}`;
}

export class IntentView {
  private readonly network = new Map<string, PodNetworkIntent>();
  private readonly http = new Map<string, PodHttpIntent>();
  private readonly io = new Map<string, PodIoIntent>();
  private readonly byPod = new Map<string, ExperimentIntent[]>();
  private readonly networkChaos: ReadonlyMap<ExperimentRef, ExperimentIntent>;
  private readonly httpChaos: ReadonlyMap<ExperimentRef, ExperimentIntent>;
  private readonly ioChaos: ReadonlyMap<ExperimentRef, ExperimentIntent>;

  constructor(
    private readonly caches: IntentCaches,
    readonly status: IntentStatus,
    private readonly since: SinceLookup = () => null,
  ) {
    this.networkChaos = networkChaosByRef(caches.experiments);
    this.httpChaos = experimentsByRef(caches.experiments, 'HTTPChaos');
    this.ioChaos = experimentsByRef(caches.experiments, 'IOChaos');
    for (const n of caches.network) this.network.set(`${n.namespace}/${n.name}`, n);
    for (const h of caches.http) this.http.set(`${h.namespace}/${h.name}`, h);
    for (const i of caches.io) this.io.set(`${i.namespace}/${i.name}`, i);
    for (const e of caches.experiments) {
      const pods = new Set<string>();
      for (const r of e.records) {
        const p = podOfRecordId(r.id);
        if (p !== null) pods.add(p);
      }
      for (const i of e.instances) {
        const p = podOfRecordId(i.key);
        if (p !== null) pods.add(p);
      }
      for (const p of pods) {
        const list = this.byPod.get(p) ?? [];
        list.push(e);
        this.byPod.set(p, list);
      }
    }
  }

  /** Everything Chaos Mesh says about one pod (empty parts are null / []). */
  pod(namespace: string, name: string): PodIntent {
    const key = `${namespace}/${name}`;
    const mine = (id: string): boolean => podOfRecordId(id) === key;
    const experiments = (this.byPod.get(key) ?? [])
      .map((e) => ({
        kind: e.kind,
        namespace: e.namespace,
        name: e.name,
        action: e.action,
        desiredPhase: e.desiredPhase,
        deleting: e.deleting,
        truncated: e.truncated,
        records: e.records.filter((r) => mine(r.id)),
        instances: e.instances.filter((i) => mine(i.key)),
      }))
      .sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));
    const network = this.network.get(key) ?? null;
    const http = this.http.get(key) ?? null;
    const io = this.io.get(key) ?? null;
    const owners = network === null ? [] : this.owners(networkSources(network), this.networkChaos, 'NetworkChaos');
    const httpOwners = http === null ? [] : this.owners(httpSources(http), this.httpChaos, 'HTTPChaos');
    const ioOwners = io === null ? [] : this.owners(ioSources(io), this.ioChaos, 'IOChaos');
    return {
      network, http, io, experiments, owners, httpOwners, ioOwners,
      networkPendingSince: this.pendingSince(network, namespace, name, 'PodNetworkChaos'),
      httpPendingSince: this.pendingSince(http, namespace, name, 'PodHttpChaos'),
      ioPendingSince: this.pendingSince(io, namespace, name, 'PodIOChaos'),
    };
  }

  /**
   * Every condition key this view shows (owners.ts conditionKeys), from the maps built above. The `since` lookup is
   * called only by pod(): the serve source may build the view, then record these keys, then hand the view out.
   */
  conditionKeys(): string[] {
    const { network, http, io } = this.caches;
    return conditionKeys(network, this.networkChaos, { http, io, httpChaos: this.httpChaos, ioChaos: this.ioChaos });
  }

  /** Since when the pod's `kind` object has had a generation not applied (null: applied, none, or no memory). */
  private pendingSince(o: ApplyState | null, namespace: string, pod: string, kind: PodChaosKind): number | null {
    return o !== null && isPending(o) ? this.since(pendingKey(namespace, pod, kind)) : null;
  }

  private owners(refs: ExperimentRef[], experiments: ReadonlyMap<ExperimentRef, ExperimentIntent>, kind: OwnerKind): OwnerStatus[] {
    return refs.map((ref) => {
      const condition = ownerCondition(experiments.get(ref));
      return { ref, condition, since: condition === 'running' ? null : this.since(ownerKey(ref, condition, kind)) };
    });
  }
}

/** The experiments of one kind by `<ns>/<name>`. */
export function experimentsByRef(experiments: readonly ExperimentIntent[], kind: OwnerKind): Map<ExperimentRef, ExperimentIntent> {
  return new Map(experiments.filter((e) => e.kind === kind).map((e) => [`${e.namespace}/${e.name}`, e]));
}

/** The NetworkChaos objects by `<ns>/<name>`. */
export function networkChaosByRef(experiments: readonly ExperimentIntent[]): Map<ExperimentRef, ExperimentIntent> {
  return experimentsByRef(experiments, 'NetworkChaos');
}
