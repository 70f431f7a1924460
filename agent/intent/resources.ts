/**
 * The chaos-mesh.org resources the agent reads, and nothing else: the three per-pod intent kinds and the
 * experiment kinds whose records name pods on a node. The DaemonSet's ClusterRole grants get/list/watch on
 * exactly these plurals (a test keeps the two in step).
 */
import { CHAOS_MESH_GROUP, CHAOS_MESH_VERSION } from './crd.js';
import type { ExperimentIntent, PodHttpIntent, PodIoIntent, PodNetworkIntent } from './model.js';
import { normaliseExperiment, normalisePodHttpChaos, normalisePodIoChaos, normalisePodNetworkChaos } from './normalise.js';

export type Normalised =
  | { type: 'network'; value: PodNetworkIntent }
  | { type: 'http'; value: PodHttpIntent }
  | { type: 'io'; value: PodIoIntent }
  | { type: 'experiment'; value: ExperimentIntent };

export interface ResourceSpec {
  plural: string;
  kind: string;
  /** Raw API object -> what the cache keeps (null: malformed, skipped). */
  normalise: (raw: unknown) => Normalised | null;
}

function wrap<T extends Normalised['type'], V>(type: T, f: (raw: unknown) => V | null) {
  return (raw: unknown): Normalised | null => {
    const value = f(raw);
    return value === null ? null : ({ type, value } as Normalised);
  };
}

const experiment = (kind: string) => wrap('experiment', (raw) => normaliseExperiment(kind, raw));

export const RESOURCES: readonly ResourceSpec[] = [
  { plural: 'podnetworkchaos', kind: 'PodNetworkChaos', normalise: wrap('network', normalisePodNetworkChaos) },
  { plural: 'podhttpchaos', kind: 'PodHttpChaos', normalise: wrap('http', normalisePodHttpChaos) },
  { plural: 'podiochaos', kind: 'PodIOChaos', normalise: wrap('io', normalisePodIoChaos) },
  { plural: 'networkchaos', kind: 'NetworkChaos', normalise: experiment('NetworkChaos') },
  { plural: 'httpchaos', kind: 'HTTPChaos', normalise: experiment('HTTPChaos') },
  { plural: 'iochaos', kind: 'IOChaos', normalise: experiment('IOChaos') },
  { plural: 'stresschaos', kind: 'StressChaos', normalise: experiment('StressChaos') },
  { plural: 'dnschaos', kind: 'DNSChaos', normalise: experiment('DNSChaos') },
  { plural: 'timechaos', kind: 'TimeChaos', normalise: experiment('TimeChaos') },
  { plural: 'jvmchaos', kind: 'JVMChaos', normalise: experiment('JVMChaos') },
];

export const API_GROUP = CHAOS_MESH_GROUP;
export const API_VERSION = CHAOS_MESH_VERSION;

/** The cluster-wide collection path of a resource: /apis/chaos-mesh.org/v1alpha1/<plural>. */
export function collectionPath(plural: string): string {
  return `/apis/${API_GROUP}/${API_VERSION}/${plural}`;
}
