/**
 * Chaos Mesh's custom resources as the Kubernetes API serves them (group chaos-mesh.org, version v1alpha1), with
 * the JSON names of chaos-mesh/chaos-mesh api/v1alpha1/*_types.go. Only the fields the agent reads are typed;
 * everything arrives as untrusted JSON and goes through normalise.ts before use.
 */

export const CHAOS_MESH_GROUP = 'chaos-mesh.org';
export const CHAOS_MESH_VERSION = 'v1alpha1';

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

/** RawRuleSource: `<namespace>/<name>` of the NetworkChaos that owns the entry. */
interface RuleSource {
  source: string;
}

/** podnetworkchaos_types.go RawIPSet: ipsetType list:set | hash:net,port | hash:net. */
export interface RawIPSet extends RuleSource {
  name: string;
  ipsetType: 'list:set' | 'hash:net,port' | 'hash:net';
  cidrs?: string[];
  cidrAndPorts?: { cidr: string; port: number }[];
  setNames?: string[];
}

/** RawIptables: `name` is the chain's full name (INPUT/<x> or OUTPUT/<x>). */
export interface RawIptables extends RuleSource {
  name: string;
  ipsets?: string[] | null;
  direction: 'input' | 'output';
  device?: string;
}

/** networkchaos_types.go DelaySpec / LossSpec / DuplicateSpec / CorruptSpec / BandwidthSpec / RateSpec / ReorderSpec. */
export interface DelaySpec {
  latency: string;
  correlation?: string;
  jitter?: string;
  reorder?: { reorder: string; correlation?: string; gap: number };
}
export interface LossSpec {
  loss: string;
  correlation?: string;
}
export interface DuplicateSpec {
  duplicate: string;
  correlation?: string;
}
export interface CorruptSpec {
  corrupt: string;
  correlation?: string;
}
export interface BandwidthSpec {
  rate: string;
  limit: number;
  buffer: number;
  peakrate?: number;
  minburst?: number;
}
export interface RateSpec {
  rate: string;
}

/** RawTrafficControl: type netem | bandwidth, TcParameter inline. */
export interface RawTrafficControl extends RuleSource {
  type: 'netem' | 'bandwidth';
  delay?: DelaySpec;
  loss?: LossSpec;
  duplicate?: DuplicateSpec;
  corrupt?: CorruptSpec;
  bandwidth?: BandwidthSpec;
  rate?: RateSpec;
  ipset?: string;
  device?: string;
}

export interface PodNetworkChaos {
  apiVersion: string;
  kind: 'PodNetworkChaos';
  metadata: ObjectMeta;
  spec: { ipsets?: RawIPSet[]; iptables?: RawIptables[]; tcs?: RawTrafficControl[] };
  status?: { failedMessage?: string; observedGeneration?: number };
}

/** podhttpchaos_types.go: one rule per port/selector, each with the HTTPChaos it comes from. */
export interface PodHttpChaos {
  apiVersion: string;
  kind: 'PodHttpChaos';
  metadata: ObjectMeta;
  spec: { rules?: { source?: string; port: number; target: string; selector?: unknown; actions?: unknown }[]; tls?: unknown };
  status?: { pid?: number; startTime?: number; failedMessage?: string; observedGeneration?: number };
}

/** podiochaos_types.go. */
export interface PodIOChaos {
  apiVersion: string;
  kind: 'PodIOChaos';
  metadata: ObjectMeta;
  spec: { volumeMountPath: string; container?: string; actions?: { type: string; path?: string; source?: string; [k: string]: unknown }[] };
  status?: { pid?: number; startTime?: number; failedMessage?: string; observedGeneration?: number };
}

/** common_types.go Record: `id` is `<ns>/<pod>` (pod selectors) or `<ns>/<pod>/<container>` (container selectors). */
export interface ContainerRecord {
  id: string;
  selectorKey: string;
  phase: 'Injected' | 'Not Injected';
  injectedCount: number;
  recoveredCount: number;
  events?: unknown[];
}

/** Any experiment kind (NetworkChaos, StressChaos, ...): ChaosStatus.experiment. */
export interface ExperimentObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: { action?: string; [k: string]: unknown };
  status?: {
    experiment?: { desiredPhase?: 'Run' | 'Stop'; containerRecords?: ContainerRecord[] | null };
    /** StressChaos: record id -> the stress-ng / memStress instance (NetworkChaos: record id -> PodNetworkChaos generation). */
    instances?: Record<string, { uid?: string; memoryUid?: string; startTime?: string; memoryStartTime?: string } | number>;
  };
}
