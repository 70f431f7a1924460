/**
 * The small interface every runtime client implements, and the pod/container shapes the rest of the
 * agent consumes. One client per endpoint; a client never throws out of `listPods` for one bad pod,
 * it marks that pod unresolved with a `reason`.
 */

export type Protocol = 'cri' | 'docker';

/** Where a runtime is reached. `url` is what the user sees (`unix:///run/containerd/containerd.sock`). */
export interface Endpoint {
  protocol: Protocol;
  url: string;
  /** Absolute filesystem path of the unix socket (host root already applied). */
  socketPath: string;
  /** flag | env | discovered */
  source: 'flag' | 'env' | 'discovered';
  /** For discovered endpoints, the runtime expected at this well-known path (containerd, k3s, cri-o, cri-dockerd, docker). */
  expected?: string;
}

/** Result of a Version / _ping probe. */
export interface RuntimeStatus {
  endpoint: string;
  protocol: Protocol;
  source: Endpoint['source'];
  up: boolean;
  /**
   * containerd, cri-o, cri-dockerd (CRI runtime_name as reported, normalised to lower case) or docker; for an endpoint
   * that is down, what it said when it last answered (null if it never did).
   */
  runtime: string | null;
  version: string | null;
  /** CRI runtime_api_version (v1, v1alpha2) or the negotiated Docker API version (1.41). */
  apiVersion: string | null;
  /** For CRI: which proto package answered, runtime.v1 or runtime.v1alpha2. */
  criApi?: 'v1' | 'v1alpha2';
  error: string | null;
  /**
   * Up, but listing its pods failed in the pass (Inventory.collect; never set by a probe alone): why. Its pods are
   * then missing from the pass.
   */
  listError?: string;
}

export interface NetnsRef {
  /** st_ino of the netns file: identifies the namespace across pods/containers. */
  inode: number;
  /** Path nsenter --net= is given: /proc/<pid>/ns/net (under --proc-root) or a bind-mounted netns file. */
  path: string;
}

export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface ContainerInfo {
  id: string;
  name: string;
  state: ContainerState;
  pid: number | null;
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  runtime: string;
  endpoint: string;
  sandboxId: string;
  state: SandboxState;
  pid: number | null;
  hostNetwork: boolean;
  netns: NetnsRef | null;
  /** Why pid/netns are null (present only when unresolved). */
  reason?: string;
  /**
   * Listed but deliberately not resolved (ListPodsOptions.resolve rejected it): pid, netns, hostNetwork and the
   * containers' pids say nothing about the pod. Absent on every pod a client resolved or tried to.
   */
  unresolvedByRequest?: true;
  /**
   * The runtime gave a sandbox state this agent does not know (a CRI PodSandboxState number protos/cri.proto does
   * not name, a Docker state the Engine API does not document): `state` is then SANDBOX_NOTREADY (never resolved
   * nor read), but nothing says the sandbox or its network namespace is gone. Absent when the state is known.
   */
  stateUnknown?: true;
  containers: ContainerInfo[];
  /**
   * The sandbox's labels as the runtime reports them (CRI: the pod's labels plus kubelet's io.kubernetes.*);
   * absent when the runtime gives none (Docker). bpm uses them to find chaos-daemon's own pod.
   */
  labels?: Record<string, string>;
}

export interface ListPodsOptions {
  /**
   * Which sandboxes need their PID and network namespace (by namespace/name); the others may be listed without them
   * (`pid` and `netns` null, containers' `pid` null, `unresolvedByRequest` true). Default: every sandbox.
   */
  resolve?: (sandbox: { namespace: string; name: string }) => boolean;
}

/** One container's resource usage: read from its cgroup, or from the runtime's CRI ListContainerStats. */
export interface ContainerStat {
  containerId: string;
  sandboxId: string;
  name: string;
  /** Cumulative CPU time in seconds, null when the runtime gave none. */
  cpuSeconds: number | null;
  memoryWorkingSetBytes: number | null;
  /** Where the values come from: the container's cgroup files, or the runtime (default: the runtime). */
  source?: 'cgroup' | 'runtime';
}

/**
 * Called once per runtime request, for the request-duration histogram. `code` is the gRPC code name (CRI, and a
 * Docker request that got no answer: docker-client.ts dockerCallCode) or the HTTP status of a Docker answer.
 */
export type CallObserver = (call: { runtime: string; endpoint: string; method: string; code: string; seconds: number }) => void;

export interface RuntimeClient {
  readonly endpoint: Endpoint;
  /** Version/_ping. Never throws: a failure is `up: false` with the error. */
  status(): Promise<RuntimeStatus>;
  /**
   * All pod sandboxes with their containers and resolved PID/netns. Throws RuntimeError only when the
   * runtime itself cannot be listed; per-pod resolution failures are reported in the pod's `reason`.
   * Resolution is cached per sandbox ID for the sandbox's lifetime. With `opts.resolve`, a client may skip the
   * resolution (the per-pod runtime calls) of the sandboxes it rejects: those come back with `unresolvedByRequest`.
   */
  listPods(opts?: ListPodsOptions): Promise<PodInfo[]>;
  /** Per-container CPU/memory; empty when the runtime has no stats API. */
  containerStats(): Promise<ContainerStat[]>;
  /** Number of runtime requests made since creation (steady-state cost checks). */
  readonly requestCount: number;
  close(): void;
}

export interface ClientOptions {
  /** Per-call deadline in milliseconds (default 2000). */
  timeoutMs: number;
  /** Where /proc/<pid> is looked up (default /proc). */
  procRoot: string;
  /** Host root prefix applied to netns paths reported by runtimes (default /). */
  hostRoot: string;
  onCall?: CallObserver;
}
