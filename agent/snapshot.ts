/**
 * The result of one collection: what `inspect --json`, /debug/pods and every metric are built from.
 * Produced by collection.ts; consumed read-only.
 */
import type { ChaosReport } from './chaos/types.js';
import type { PodDrift } from './intent/drift.js';
import type { IntentStatus, PodIntent } from './intent/model.js';
import type { KubeHealth } from './intent/source.js';
import type { IpsetDump, IptablesDump, NetnsState, TcDump } from './netns/state.js';
import type { ContainerStat, NetnsRef, PodInfo, RuntimeStatus } from './runtime/types.js';

/** One pod (or one --netns/--pid target) and what was read from its network namespace. */
export interface PodReport {
  /** Empty for --netns / --pid targets and for non-Kubernetes Docker containers' namespace. */
  namespace: string;
  name: string;
  runtime: string;
  netns: NetnsRef | null;
  /** The runtime's view of the pod; null for --netns / --pid targets. */
  pod: PodInfo | null;
  chaos: ChaosReport;
  iptables: IptablesDump[];
  ipsets: IpsetDump;
  tc: TcDump;
  ipRules: NetnsState['ipRules'];
  dnsChaos: NetnsState['dnsChaos'];
  /** Vanished pod, tool failure, unresolved netns...: human sentences; the rest of the entry holds what could be read. */
  errors: string[];
  /** Process spawns this entry's namespace read cost (0 when shared with another pod of the same netns). */
  spawns: number;
  /** The reader's notes: what it skipped and why (NetnsState.notes). */
  notes?: string[];
  /** What Chaos Mesh intends for this pod (Kubernetes API source on; absent when it is off). */
  intent?: { status: IntentStatus; pod: PodIntent };
  /** Intent reconciled with the namespace's state (Kubernetes API source on). */
  drift?: PodDrift;
}

export interface CollectorResult {
  collector: string;
  success: boolean;
  seconds: number;
  error?: string;
}

export interface Snapshot {
  /** Unix seconds. */
  startedAt: number;
  finishedAt: number;
  durationSeconds: number;
  /** CPU time (user+system) of the collection, seconds: the agent process plus its netns workers and their tools. */
  cpuSeconds: number;
  runtimes: RuntimeStatus[];
  pods: PodReport[];
  containerStats: ContainerStat[];
  collectors: CollectorResult[];
  /** Processes the agent process itself spawned in the collection (netns workers when (re)started, `ip rule` reads). */
  spawns: number;
  /** Namespace reads (one nsenter + read script each, run by the long-lived netns workers). */
  reads?: number;
  /** The Kubernetes API source's health when it is on (chaos_daemon_kube_*). */
  kube?: KubeHealth;
}
