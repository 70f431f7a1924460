/**
 * What the collectors of one collection build together before it becomes a Snapshot.
 */
import type { KubeHealth } from '../intent/source.js';
import type { PodReport, StaleSandbox } from '../snapshot.js';
import type { ContainerStat, PodInfo, RuntimeStatus } from '../runtime/types.js';

export interface Draft {
  runtimes: RuntimeStatus[];
  /** One entry per pod (namespace/name): the sandbox chosen to stand for it (runtime collector). */
  pods: PodInfo[];
  /** Other sandboxes listed for the same pods (a recreated sandbox's old NOTREADY one...), reported apart. */
  stale: StaleSandbox[];
  /** What was read for each pod (netns collector). */
  reports: Map<PodInfo, PodReport>;
  /** The node's own network namespace, read once for every host-network pod (null when no such pod). */
  host: PodReport | null;
  containerStats: ContainerStat[];
  /** Namespaces whose read had an incomplete source (failed or truncated). */
  incompleteNamespaces: number;
  /** The Kubernetes API source's health (kube collector; absent when the source is off). */
  kube?: KubeHealth;
}

export function emptyDraft(): Draft {
  return { runtimes: [], pods: [], stale: [], reports: new Map(), host: null, containerStats: [], incompleteNamespaces: 0 };
}
