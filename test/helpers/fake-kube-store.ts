/**
 * The data side of the fake kube-apiserver (fake-kube-apiserver.ts): chaos-mesh.org objects per resource, one
 * global resourceVersion counter (etcd's revision), the event history watches replay, and compaction (which
 * expires old resourceVersions and continue tokens). Writes notify subscribers (the open watches).
 */
import { randomUUID } from 'node:crypto';

export const GROUP = 'chaos-mesh.org';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Plural -> Kind of every namespaced chaos-mesh.org resource served (chaos-mesh config/crd/bases). */
export const CHAOS_MESH_KINDS: Record<string, string> = {
  podnetworkchaos: 'PodNetworkChaos',
  podhttpchaos: 'PodHttpChaos',
  podiochaos: 'PodIOChaos',
  networkchaos: 'NetworkChaos',
  httpchaos: 'HTTPChaos',
  iochaos: 'IOChaos',
  stresschaos: 'StressChaos',
  dnschaos: 'DNSChaos',
  timechaos: 'TimeChaos',
  jvmchaos: 'JVMChaos',
  podchaos: 'PodChaos',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = { metadata: { name: string; namespace: string; [k: string]: any }; [k: string]: any };

export interface KubeEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

export type Subscriber = (plural: string, event: KubeEvent) => void;

/** A Kubernetes Status object (what the API answers errors with, also inside ERROR watch events). */
export function kubeStatus(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class KubeStore {
  private rvCounter = 1;
  private compacted = 0;
  private compactions = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history = new Map<string, KubeEvent[]>();
  private readonly subscribers = new Set<Subscriber>();

  constructor() {
    for (const plural of Object.keys(CHAOS_MESH_KINDS)) {
      this.objects.set(plural, new Map());
      this.history.set(plural, []);
    }
  }

  /** The current resourceVersion. */
  get rv(): number {
    return this.rvCounter;
  }

  /** resourceVersions below this have expired. */
  get compactedRv(): number {
    return this.compacted;
  }

  /** Bumped by every compaction: continue tokens of an earlier epoch have expired. */
  get epoch(): number {
    return this.compactions;
  }

  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  has(plural: string): boolean {
    return this.objects.has(plural);
  }

  private bucket(plural: string): Map<string, KubeObject> {
    const b = this.objects.get(plural);
    if (!b) throw new Error(`fake kube-apiserver: unknown resource ${plural}`);
    return b;
  }

  private record(plural: string, type: KubeEvent['type'], object: KubeObject): void {
    const ev: KubeEvent = { rv: Number(object.metadata.resourceVersion), type, object: structuredClone(object) };
    this.history.get(plural)!.push(ev);
    for (const s of this.subscribers) s(plural, ev);
  }

  private stamp(plural: string, obj: KubeObject): KubeObject {
    const stored = structuredClone(obj);
    stored.apiVersion = API_VERSION;
    stored.kind = CHAOS_MESH_KINDS[plural];
    this.rvCounter += 1;
    return stored;
  }

  create(plural: string, obj: KubeObject): KubeObject {
    const b = this.bucket(plural);
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    if (b.has(key)) throw new Error(`fake kube-apiserver: ${plural} ${key} exists`);
    const stored = this.stamp(plural, obj);
    Object.assign(stored.metadata, {
      uid: randomUUID(),
      resourceVersion: String(this.rvCounter),
      generation: 1,
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    b.set(key, stored);
    this.record(plural, 'ADDED', stored);
    return structuredClone(stored);
  }

  /** Replace an object (spec and/or status); generation is bumped when the spec changed. */
  update(plural: string, obj: KubeObject): KubeObject {
    const b = this.bucket(plural);
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const old = b.get(key);
    if (!old) throw new Error(`fake kube-apiserver: ${plural} ${key} not found`);
    const stored = this.stamp(plural, obj);
    const specChanged = JSON.stringify(old.spec ?? null) !== JSON.stringify(stored.spec ?? null);
    stored.metadata = {
      ...old.metadata,
      ...stored.metadata,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      resourceVersion: String(this.rvCounter),
      generation: Number(old.metadata.generation) + (specChanged ? 1 : 0),
    };
    b.set(key, stored);
    this.record(plural, 'MODIFIED', stored);
    return structuredClone(stored);
  }

  remove(plural: string, namespace: string, name: string): void {
    const b = this.bucket(plural);
    const key = `${namespace}/${name}`;
    const old = b.get(key);
    if (!old) throw new Error(`fake kube-apiserver: ${plural} ${key} not found`);
    b.delete(key);
    this.rvCounter += 1;
    const last = structuredClone(old);
    last.metadata.resourceVersion = String(this.rvCounter);
    this.record(plural, 'DELETED', last);
  }

  get(plural: string, namespace: string, name: string): KubeObject | undefined {
    const o = this.bucket(plural).get(`${namespace}/${name}`);
    return o ? structuredClone(o) : undefined;
  }

  /** Objects of a resource (one namespace or all), sorted by namespace/name. */
  items(plural: string, namespace: string | null): KubeObject[] {
    const all = [...this.bucket(plural).values()].filter((o) => namespace === null || o.metadata.namespace === namespace);
    return all.sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  }

  /** Recorded events after `rv` (for a watch resuming from it). */
  eventsAfter(plural: string, rv: number, namespace: string | null): KubeEvent[] {
    return this.history.get(plural)!.filter((ev) => ev.rv > rv && (namespace === null || ev.object.metadata.namespace === namespace));
  }

  /** Expire every resourceVersion up to now (etcd compaction). */
  compact(): void {
    this.compacted = this.rvCounter;
    this.compactions += 1;
    for (const h of this.history.values()) h.length = 0;
  }
}
