/**
 * The Docker Engine API's facts, pure: API version negotiation, container states, the kubelet / cri-dockerd labels,
 * and a container listing turned into pods. The I/O (the socket, inspect, the PID cache) is docker-client.ts.
 */
import { compareNames } from '../compare-names.js';
import { RuntimeError, ValidationError } from '../errors.js';
import { validateId } from './netns-resolve.js';
import type { ContainerInfo, ContainerState, NetnsRef, PodInfo, SandboxState } from './types.js';

/** Newest Engine API version this client speaks; older servers are talked to in their own version. */
export const DOCKER_CLIENT_MAX_API = '1.47';
/** Oldest Engine API accepted (Docker 19.03). */
export const DOCKER_MIN_API = '1.40';

const LABEL_TYPE = 'io.kubernetes.docker.type';
const LABEL_SANDBOX_ID = 'io.kubernetes.sandbox.id';
const LABEL_POD_NAME = 'io.kubernetes.pod.name';
const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
const LABEL_POD_UID = 'io.kubernetes.pod.uid';
const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';

/** One entry of GET /containers/json, after validation. */
export interface ListedContainer {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  networkMode: string;
}

/** A listed container's PID and namespace, as the client resolved them. */
export interface Resolved {
  pid: number | null;
  netns: NetnsRef | null;
  reason?: string;
}

/** "1.41" -> [1, 41]; null when malformed. */
export function parseApiVersion(v: unknown): [number, number] | null {
  if (typeof v !== 'string') return null;
  const m = /^(\d{1,3})\.(\d{1,3})$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function compareApi(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/**
 * Negotiated version: min(client max, server's Api-Version). Throws when the server is older than 1.40 or
 * the header is missing/malformed.
 */
export function negotiateApiVersion(endpoint: string, serverHeader: unknown): string {
  const server = parseApiVersion(serverHeader);
  if (!server) {
    throw new RuntimeError(endpoint, 'GET /_ping', `no valid Api-Version header (got ${JSON.stringify(serverHeader ?? null)}); not a Docker Engine?`, {
      code: 'DOCKER_API',
    });
  }
  const min = parseApiVersion(DOCKER_MIN_API)!;
  if (compareApi(server, min) < 0) {
    throw new RuntimeError(
      endpoint,
      'GET /_ping',
      `Docker Engine API ${server.join('.')} is too old: at least ${DOCKER_MIN_API} (Docker 19.03) is required`,
      { code: 'DOCKER_API_TOO_OLD' },
    );
  }
  const max = parseApiVersion(DOCKER_CLIENT_MAX_API)!;
  return (compareApi(server, max) < 0 ? server : max).join('.');
}

/**
 * Docker's documented container states (the Engine API's ContainerState.Status): the only ones a sandbox state is
 * derived from; any other string is a state this agent does not know.
 */
const DOCKER_STATES: ReadonlySet<string> = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

/**
 * Docker container state -> CRI enum name, as cri-dockerd maps the same containers (its "Up ..." status, paused
 * included, is CONTAINER_RUNNING): a paused container is frozen (cgroup freezer), its process and namespaces live on.
 */
export function dockerContainerState(state: string): ContainerState {
  switch (state) {
    case 'running':
    case 'paused':
      return 'CONTAINER_RUNNING';
    case 'created':
      return 'CONTAINER_CREATED';
    case 'exited':
    case 'dead':
      return 'CONTAINER_EXITED';
    default:
      return 'CONTAINER_UNKNOWN';
  }
}

/** States in which a container has a process (and so a PID and a live network namespace). */
export function hasProcess(state: string): boolean {
  return state === 'running' || state === 'paused';
}

/**
 * A sandbox (pause) container's state -> the CRI sandbox state, as cri-dockerd gives it for the same container:
 * READY while it has a process (running, or paused: `docker pause` freezes it, its network namespace and what is
 * injected there stay), NOTREADY otherwise. A state Docker does not document is NOTREADY too, marked `unknown`.
 */
export function dockerSandboxState(state: string): { state: SandboxState; unknown: boolean } {
  return { state: hasProcess(state) ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY', unknown: !DOCKER_STATES.has(state) };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** One entry of GET /containers/json, validated (its ID before anything uses it). */
export function parseListedContainer(item: unknown): ListedContainer {
  if (!isRecord(item)) throw new ValidationError('container entry is not an object');
  const id = validateId('docker container', item.Id);
  const names = Array.isArray(item.Names) ? item.Names.filter((n): n is string => typeof n === 'string') : [];
  const first = names[0] ?? '';
  const name = first.replace(/^\//, '') || id.slice(0, 12);
  const state = typeof item.State === 'string' ? item.State : '';
  const hostConfig = isRecord(item.HostConfig) ? item.HostConfig : {};
  const networkMode = typeof hostConfig.NetworkMode === 'string' ? hostConfig.NetworkMode : '';
  return { id, name, state, labels: stringLabels(item.Labels), networkMode };
}

/**
 * The pods of one listing: kubelet / cri-dockerd sandboxes (label io.kubernetes.docker.type=podsandbox) with the
 * app containers naming them, and every other container as a pod of its own. `onOrphan` hears of an app container
 * whose sandbox is not listed (skipped).
 */
export function podsFromContainers(
  listed: readonly ListedContainer[],
  resolved: ReadonlyMap<string, Resolved>,
  url: string,
  onOrphan: (container: string, sandbox: string) => void = () => undefined,
): PodInfo[] {
  const get = (id: string): Resolved => resolved.get(id) ?? { pid: null, netns: null, reason: 'not resolved' };
  const containerInfo = (c: ListedContainer, name: string): ContainerInfo => ({
    id: c.id,
    name,
    state: dockerContainerState(c.state),
    pid: get(c.id).pid,
  });
  const pod = (c: ListedContainer, meta: { namespace: string; name: string; uid: string }, containers: ContainerInfo[]): PodInfo => {
    const r = get(c.id);
    const sandbox = dockerSandboxState(c.state);
    const p: PodInfo = {
      ...meta,
      runtime: 'docker',
      endpoint: url,
      sandboxId: c.id,
      state: sandbox.state,
      pid: r.netns ? r.pid : null,
      hostNetwork: c.networkMode === 'host',
      netns: r.netns,
      containers,
    };
    if (!r.netns) p.reason = r.reason ?? 'unresolved';
    if (sandbox.unknown) p.stateUnknown = true;
    return p;
  };

  const sandboxes = new Map<string, ListedContainer>();
  const members = new Map<string, ContainerInfo[]>();
  const plain: ListedContainer[] = [];
  const apps: ListedContainer[] = [];
  for (const c of listed) {
    const type = c.labels[LABEL_TYPE];
    if (type === 'podsandbox') {
      sandboxes.set(c.id, c);
      members.set(c.id, []);
    } else if (type === 'container' || c.labels[LABEL_SANDBOX_ID] !== undefined) apps.push(c);
    else plain.push(c);
  }
  for (const c of apps) {
    const sb = c.labels[LABEL_SANDBOX_ID] ?? '';
    const list = members.get(sb);
    if (!list) {
      onOrphan(c.id, sb);
      continue;
    }
    list.push(containerInfo(c, c.labels[LABEL_CONTAINER_NAME] ?? c.name));
  }

  const pods: PodInfo[] = [];
  for (const [id, c] of sandboxes) {
    const containers = members.get(id)!.sort((a, b) => compareNames(a.name, b.name) || compareNames(a.id, b.id));
    pods.push(
      pod(
        c,
        {
          namespace: c.labels[LABEL_POD_NAMESPACE] ?? '',
          name: c.labels[LABEL_POD_NAME] ?? c.name,
          uid: c.labels[LABEL_POD_UID] ?? '',
        },
        containers,
      ),
    );
  }
  for (const c of plain) pods.push(pod(c, { namespace: '', name: c.name, uid: '' }, [containerInfo(c, c.name)]));
  return pods;
}
