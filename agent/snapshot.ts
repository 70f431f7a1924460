/**
 * The result of one collection: what `inspect --json`, /debug/pods and every metric are built from.
 * Produced by collection.ts; consumed read-only.
 */
import type { ChaosReport } from './chaos/types.js';
import type { PodDrift } from './intent/drift.js';
import type { IntentStatus, PodIntent } from './intent/model.js';
import type { KubeHealth } from './intent/source.js';
import type { IpsetDump, IptablesDump, NetnsState, SourceStatus, TcDump } from './netns/state.js';
import type { BpmReport } from './proc/bpm.js';
import type { PodProcFacts } from './proc/model.js';
import type { ContainerStat, NetnsRef, PodInfo, RuntimeStatus } from './runtime/types.js';

/** The note on a host-network pod's entry when the node's namespace is reported once, in Snapshot.host. */
export const HOST_SUMMARY_NOTE = "host network: the node's namespace is reported once (the host entry), not per pod";

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
  /** Containers whose root holds a readable /etc/resolv.conf.chaos.bak (from `proc.dns`). */
  dnsChaos: { container: string; pid: number }[];
  /** Vanished pod, tool failure, unresolved netns...: human sentences; the rest of the entry holds what could be read. */
  errors: string[];
  /** Process spawns this entry's namespace read cost (0 when shared with another pod of the same netns). */
  spawns: number;
  /** The reader that produced the state (null when nothing was read). */
  reader: NetnsState['reader'] | null;
  /** Each source's completeness (empty when nothing was read). */
  sources: SourceStatus[];
  /** What /proc says about the pod's faults that are not network state (absent for --netns / --pid targets). */
  proc?: PodProcFacts;
  /** The reader's notes: what it skipped and why (NetnsState.notes). */
  notes?: string[];
  /** Links, addresses, routes and ebtables, when the reader read them (HTTPChaos's bridge layout evidence). */
  links?: NetnsState['links'];
  addresses?: NetnsState['addresses'];
  routes?: NetnsState['routes'];
  ebtables?: NetnsState['ebtables'];
  /** What Chaos Mesh intends for this pod (Kubernetes API source on; absent when it is off). */
  intent?: { status: IntentStatus; pod: PodIntent };
  /** Intent reconciled with the namespace's state (Kubernetes API source on). */
  drift?: PodDrift;
  /** The pod uses the node's network namespace (or, on `Snapshot.host`, this is the node's namespace). */
  hostNetwork?: boolean;
  /**
   * A host-network pod's entry whose namespace, the node's, was read once and is reported in Snapshot.host: it carries
   * the verdict, not the state (its note, HOST_SUMMARY_NOTE, says so to a reader). Not in the JSON document, which
   * says the same with its `host` entry and this entry's `"hostNetwork":true` and `"reader":null`.
   */
  hostSummary?: true;
}

/** A sandbox listed for a pod that another sandbox stands for (runtime collector's choosePrimary). */
export interface StaleSandbox {
  namespace: string;
  name: string;
  uid: string;
  runtime: string;
  sandboxId: string;
  state: string;
  /** The sandbox chosen for the pod. */
  replacedBy: string;
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
  /** Processes the agent spawned in the collection: one nsenter per tool the tools reader ran (0 over netlink). */
  spawns: number;
  /** Namespace reads (netlink or through the tools). */
  reads?: number;
  /** Other sandboxes listed for pods of `pods` (not read). */
  stale?: StaleSandbox[];
  /** The node's network namespace, read once for the host-network pods, when summarised (else null). */
  host?: PodReport | null;
  /** Namespaces whose read had an incomplete source. */
  incompleteNamespaces?: number;
  /** Netlink reader threads started beyond the first since start, every running one being slow or stuck. */
  netlinkSpareThreads?: number;
  /** The root reader's threads (serve): abandoned since start, and of those still blocked in the kernel. */
  /** `skippedMountTables`: since start, only while the root reader follows mount events (mount-events.ts). */
  rootReader?: { abandonedThreads: number; blockedThreads: number; skippedMountTables?: number };
  /**
   * The collection's /proc scan (absent when it did not run): processes whose command line is unknown (read past
   * its deadline or still blocked), and command-line reads still blocked in the kernel.
   */
  procCmdlines?: { unread: number; blockedReads: number };
  /** chaos-daemon's background processes, from the collection's /proc scan; null when the scan failed or was off. */
  bpm?: BpmReport | null;
  /** The Kubernetes API source's health when it is on (chaos_daemon_kube_*). */
  kube?: KubeHealth;
}
