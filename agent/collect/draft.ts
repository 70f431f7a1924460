/**
 * What the collectors of one collection build together before it becomes a Snapshot.
 */
import type { BpmReport } from '../proc/bpm.js';
import type { PodIndex } from '../proc/pod-match.js';
import type { ProcScan } from '../proc/scan.js';
import type { KubeHealth } from '../intent/source.js';
import type { PodReport, StaleSandbox } from '../snapshot.js';
import type { ContainerStat, PodInfo, RuntimeStatus } from '../runtime/types.js';

export interface Draft {
  runtimes: RuntimeStatus[];
  /** One entry per pod (namespace/name): the sandbox chosen to stand for it (runtime collector). */
  pods: PodInfo[];
  /** Every sandbox listed (unfiltered, stale ones too): who owns a namespace or a cgroup (proc collector). */
  allPods: PodInfo[];
  /**
   * Set when the runtime collector resolved only the pods asked for (`filter`): allPods' other entries are
   * `unresolvedByRequest` (no PIDs). Lists every sandbox again with all of them resolved, for a placement that
   * needs them (proc collector); rejects when a runtime cannot list.
   */
  resolveAll: (() => Promise<PodInfo[]>) | null;
  /** Other sandboxes listed for the same pods (a recreated sandbox's old NOTREADY one...), reported apart. */
  stale: StaleSandbox[];
  /** What was read for each pod (netns collector). */
  reports: Map<PodInfo, PodReport>;
  /** The node's own network namespace, read once for every host-network pod (null when no such pod). */
  host: PodReport | null;
  containerStats: ContainerStat[];
  /** Namespaces whose read had an incomplete source (failed or truncated). */
  incompleteNamespaces: number;
  /** The collection's one /proc scan and the pods' index over it (proc collector), for bpm. */
  proc: { scan: ProcScan; index: PodIndex } | null;
  /** chaos-daemon's background processes (bpm collector); null when not built. */
  bpm: BpmReport | null;
  /** The Kubernetes API source's health (kube collector; absent when the source is off). */
  kube?: KubeHealth;
}

export function emptyDraft(): Draft {
  return { runtimes: [], pods: [], allPods: [], resolveAll: null, stale: [], reports: new Map(), host: null, containerStats: [], incompleteNamespaces: 0, proc: null, bpm: null };
}
