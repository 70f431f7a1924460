/**
 * What Chaos Mesh intends, as the agent keeps it: the Pod*Chaos objects and the experiments' records, normalised
 * from the API's JSON (normalise.ts) into compact, validated values in base units. This is what the informer
 * cache holds (not the raw objects: no managedFields, no record events), what `chaos.intent` prints and what the
 * reconciliation compares with the kernel. `<namespace>/<name>` strings name experiments (ExperimentRef).
 */

/** `<namespace>/<name>` of an experiment (NetworkChaos, HTTPChaos, ...). */
export type ExperimentRef = string;

export interface IpsetIntent {
  name: string;
  type: 'list:set' | 'hash:net,port' | 'hash:net';
  /** Members as `ipset save` prints them: `10.0.0.0/24`, `10.0.0.7` (a /32 host), `10.0.0.7,tcp:80`, set names. */
  members: string[];
  source: ExperimentRef;
}

export interface ChainIntent {
  /** The kernel chain's full name, INPUT/<x> or OUTPUT/<x>. */
  name: string;
  direction: 'input' | 'output';
  ipsets: string[];
  device: string | null;
  source: ExperimentRef;
}

/** netem parameters chaos-daemon would install, in base units (seconds, ratios 0..1, bytes/s); 0 = not set. */
export interface NetemIntent {
  delaySeconds: number;
  jitterSeconds: number;
  delayCorrelation: number;
  loss: number;
  lossCorrelation: number;
  duplicate: number;
  duplicateCorrelation: number;
  corrupt: number;
  corruptCorrelation: number;
  reorder: number;
  reorderCorrelation: number;
  gap: number;
  rateBytesPerSecond: number;
}

/** tbf parameters chaos-daemon would install (`tbf rate R burst BUFFER limit LIMIT [peakrate P mtu MINBURST]`). */
export interface TbfIntent {
  rateBytesPerSecond: number;
  burstBytes: number;
  limitBytes: number;
  peakrateBytesPerSecond: number | null;
  mtuBytes: number | null;
}

export interface TcIntent {
  type: 'netem' | 'bandwidth';
  /** chaos-daemon's default device is eth0. */
  device: string;
  /** Target ipset (filtered traffic control), null for the whole device. */
  ipset: string | null;
  source: ExperimentRef;
  netem?: NetemIntent;
  tbf?: TbfIntent;
  /** The spec as written, for display (`delay 100ms jitter 10ms`, `rate 1mbps limit 20000 buffer 10000`). */
  text: string;
  /**
   * Present only when chaos-daemon itself leaves the delay out of tc's arguments: its latency (with it the jitter,
   * correlation and reorder) or its jitter (with it the correlation) is a non-zero duration whose text fails
   * chaos-daemon's string comparison with "0ms" (units.ts passesChaosDaemonTimeCheck). The spec values above
   * stay what Chaos Mesh intends; the reconciliation says why the kernel differs.
   */
  delayDroppedByChaosDaemon?: { param: 'latency' | 'jitter'; text: string };
  /**
   * Present only when chaos-daemon hands tc a latency or jitter text that Go accepts and its tc refuses (units.ts
   * tcNetemTimeError: "1m", "250µs", "1m30s", "300s"): its `tc qdisc add ... netem` fails with `error`, tc's own
   * words, so no netem is added.
   */
  delayRejectedByTc?: { param: 'latency' | 'jitter'; text: string; error: string };
}

export interface PodNetworkIntent extends ApplyState {
  namespace: string;
  name: string;
  ipsets: IpsetIntent[];
  chains: ChainIntent[];
  tcs: TcIntent[];
  /** Entries that could not be read (bad values): sentences; the entry is left out. */
  problems: string[];
}

/** A per-pod object's apply state: chaos-daemon applies generation `generation`, then writes observedGeneration. */
export interface ApplyState {
  generation: number | null;
  observedGeneration: number | null;
  failedMessage: string | null;
}

export interface PodHttpIntent extends ApplyState {
  namespace: string;
  name: string;
  rules: { source: ExperimentRef | null; port: number; target: string }[];
  /** The tproxy process chaos-daemon started (pid and its start time, ms since the epoch). */
  pid: number | null;
  startTime: number | null;
}

export interface PodIoIntent extends ApplyState {
  namespace: string;
  name: string;
  volumeMountPath: string;
  container: string | null;
  actions: { type: string; path: string | null; source: ExperimentRef | null }[];
  /** The toda process (pid and its start time, ms since the epoch). */
  pid: number | null;
  startTime: number | null;
}

export interface ExperimentRecord {
  /** `<ns>/<pod>` or `<ns>/<pod>/<container>`. */
  id: string;
  selectorKey: string;
  phase: 'Injected' | 'Not Injected';
  injectedCount: number;
  recoveredCount: number;
}

export interface StressInstance {
  /** The record id it belongs to. */
  key: string;
  /** stress-ng / memStress: pid (as chaos-daemon reports it) and start time (RFC 3339). */
  uid: string | null;
  memoryUid: string | null;
  startTime: string | null;
  memoryStartTime: string | null;
}

export interface ExperimentIntent {
  kind: string;
  namespace: string;
  name: string;
  /** spec.action when the kind has one (partition, delay, cpu-burn ...). */
  action: string | null;
  desiredPhase: 'Run' | 'Stop' | null;
  deleting: boolean;
  records: ExperimentRecord[];
  instances: StressInstance[];
  /** Records or instances dropped at the per-object cap. */
  truncated: boolean;
}

/**
 * Where the experiment named by a per-pod object's `source` stands (owners.ts): the NetworkChaos of a
 * PodNetworkChaos entry, the HTTPChaos of a PodHttpChaos rule, the IOChaos of a PodIOChaos action. Running
 * (desiredPhase Run or not yet set), absent (no such object in the cache: deleted without recovery, e.g. the
 * dashboard's forced delete), deleting (deletionTimestamp set, its finalizer not yet removed) or stopped
 * (desiredPhase Stop: paused or its duration over). Chaos Mesh clears an experiment's entries only when it
 * recovers them.
 */
export type OwnerCondition = 'running' | 'absent' | 'deleting' | 'stopped';

/** The experiment kinds that own per-pod entries, and the per-pod object each one writes. */
export type OwnerKind = 'NetworkChaos' | 'HTTPChaos' | 'IOChaos';

export interface OwnerStatus {
  ref: ExperimentRef;
  condition: OwnerCondition;
  /** When the agent first saw the owner in this condition (unix seconds); null: no memory (a one-shot list), or running. */
  since: number | null;
}

/** The intent concerning one pod, assembled from the caches (view.ts). */
export interface PodIntent {
  network: PodNetworkIntent | null;
  http: PodHttpIntent | null;
  io: PodIoIntent | null;
  /** Experiments with a record for this pod (or one of its containers), with only those records. */
  experiments: (Omit<ExperimentIntent, 'records' | 'instances'> & { records: ExperimentRecord[]; instances: StressInstance[] })[];
  /** The NetworkChaos of every source the pod's PodNetworkChaos names, sorted by ref ([] without one). */
  owners: OwnerStatus[];
  /** The HTTPChaos of every source the pod's PodHttpChaos rules name, sorted by ref (absent or [] without one). */
  httpOwners?: OwnerStatus[];
  /** The IOChaos of every source the pod's PodIOChaos actions name, sorted by ref (absent or [] without one). */
  ioOwners?: OwnerStatus[];
  /** When the agent first saw the PodNetworkChaos with generation > observedGeneration (unix seconds); null when
   *  it is not pending, or without memory (a one-shot list). */
  networkPendingSince: number | null;
  /** The same for the PodHttpChaos and the PodIOChaos (absent: not known, as null). */
  httpPendingSince?: number | null;
  ioPendingSince?: number | null;
}

/** How fresh the intent is: the API source's state when the view was taken. */
export interface IntentStatus {
  /** synced: every resource listed and watched; stale: served from the cache while the API is unreachable;
   *  unavailable: never listed completely (no drift can be claimed). */
  state: 'synced' | 'stale' | 'unavailable';
  /** Seconds since the cache was last known to match the API server (null before the first list). */
  syncAgeSeconds: number | null;
  /** Why not synced (the last error per resource), sentences. */
  errors: string[];
  /** unavailable: some resources were listed (completely, or up to the cache's cap), so the intent was read in part
   *  (false / absent: no resource was listed, the intent was not read). */
  readInPart?: boolean;
}

export function experimentRef(namespace: string, name: string): ExperimentRef {
  return `${namespace}/${name}`;
}
