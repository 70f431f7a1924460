/**
 * Docker Engine API client over the unix socket (node:http, keep-alive): /_ping + API version negotiation,
 * pods from the kubelet/cri-dockerd labels, PIDs from container inspect (cached per container ID), and plain
 * (non-Kubernetes) containers as one pod each.
 *
 * Steady-state cost of listPods(): one GET /containers/json?all=1; inspect runs only for running containers
 * not yet cached, whose cached PID no longer holds the same network namespace (restart), or whose resolution
 * failed more than DOCKER_RETRY_FAILED_MS ago. Cached PIDs are re-checked with a stat of /proc/<pid>/ns/net.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { compareNames } from '../compare-names.js';
import { RuntimeError, ValidationError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { netnsInode, procNetnsPath, resolveNetns, validateId, validatePid } from './netns-resolve.js';
import type {
  ClientOptions,
  ContainerInfo,
  ContainerStat,
  ContainerState,
  Endpoint,
  NetnsRef,
  PodInfo,
  RuntimeClient,
  RuntimeStatus,
} from './types.js';
import { mapLimit } from '../map-limit.js';

/** Newest Engine API version this client speaks; older servers are talked to in their own version. */
export const DOCKER_CLIENT_MAX_API = '1.47';
/** Oldest Engine API accepted (Docker 19.03). */
export const DOCKER_MIN_API = '1.40';
/** Cap on one response body. */
export const DOCKER_MAX_RESPONSE_BYTES = 16 << 20;
/** A container whose PID/netns could not be resolved is inspected again after this long (ms). */
export const DOCKER_RETRY_FAILED_MS = 30_000;
/** Inspect calls in flight at once (first pass on a busy node). */
const INSPECT_CONCURRENCY = 8;

const LABEL_TYPE = 'io.kubernetes.docker.type';
const LABEL_SANDBOX_ID = 'io.kubernetes.sandbox.id';
const LABEL_POD_NAME = 'io.kubernetes.pod.name';
const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
const LABEL_POD_UID = 'io.kubernetes.pod.uid';
const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';

export type DockerClientOptions = ClientOptions & { log?: Logger };

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One entry of GET /containers/json, after validation. */
interface ListedContainer {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  networkMode: string;
}

/** What inspect told us about a running container, kept until the container is gone or restarted. */
interface PidEntry {
  pid: number | null;
  /** Inode of /proc/<pid>/ns/net when inspected; null when /proc is not the host's (no hostPID). */
  pidInode: number | null;
  /** NetworkSettings.SandboxKey (a netns bind mount under Docker's exec root), fallback when /proc is not the host's. */
  sandboxKey: string | null;
  /** Why pid/netns could not be resolved. */
  reason?: string;
  /** performance.now() of a failed resolution: retried after DOCKER_RETRY_FAILED_MS, not on every pass. */
  failedAt?: number;
}

interface Resolved {
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

/** Docker container state -> CRI enum name. */
export function dockerContainerState(state: string): ContainerState {
  switch (state) {
    case 'running':
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
function hasProcess(state: string): boolean {
  return state === 'running' || state === 'paused';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Inode of a netns file, or null when it cannot be read (process gone): the caller treats null as "unknown". */
async function inodeOrNull(path: string): Promise<number | null> {
  try {
    return await netnsInode(path);
  } catch (err) {
    if (err instanceof ValidationError) return null;
    throw err;
  }
}

class DockerRuntime implements RuntimeClient {
  readonly endpoint: Endpoint;
  private readonly opts: DockerClientOptions;
  private readonly agent: http.Agent;
  private requests = 0;
  /** Negotiated API version; null until the first successful /_ping (and again after a connection failure). */
  private apiVersion: string | null = null;
  private readonly pids = new Map<string, PidEntry>();
  /** Invalid list entries already logged: a bad container is reported once, not at every collection. */
  private readonly warned = new Set<string>();

  constructor(endpoint: Endpoint, opts: DockerClientOptions) {
    this.endpoint = endpoint;
    this.opts = opts;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: INSPECT_CONCURRENCY, maxFreeSockets: 2, timeout: 30_000 });
  }

  get requestCount(): number {
    return this.requests;
  }

  close(): void {
    this.agent.destroy();
  }

  async containerStats(): Promise<ContainerStat[]> {
    return [];
  }

  async status(): Promise<RuntimeStatus> {
    const base: RuntimeStatus = {
      endpoint: this.endpoint.url,
      protocol: 'docker',
      source: this.endpoint.source,
      up: false,
      runtime: null,
      version: null,
      apiVersion: null,
      error: null,
    };
    try {
      const api = await this.negotiate();
      const v = await this.getJson(`/v${api}/version`, 'GET /version');
      const version = isRecord(v) && typeof v.Version === 'string' ? v.Version : null;
      return { ...base, up: true, runtime: 'docker', version, apiVersion: api };
    } catch (err) {
      return { ...base, error: errorMessage(err) };
    }
  }

  async listPods(): Promise<PodInfo[]> {
    const api = this.apiVersion ?? (await this.negotiate());
    const raw = await this.getJson(`/v${api}/containers/json?all=1`, 'GET /containers/json');
    if (!Array.isArray(raw)) {
      throw new RuntimeError(this.endpoint.url, 'GET /containers/json', 'expected a JSON array', { code: 'DOCKER_RESPONSE' });
    }
    const listed: ListedContainer[] = [];
    for (const item of raw) {
      try {
        listed.push(this.parseListed(item));
      } catch (err) {
        const msg = errorMessage(err);
        if (!this.warned.has(msg)) {
          if (this.warned.size >= 1000) this.warned.clear();
          this.warned.add(msg);
          this.opts.log?.warn({ endpoint: this.endpoint.url, err: msg }, 'docker: skipping a container with invalid data');
        }
      }
    }

    // Evict cache entries of containers that are gone or no longer have a process.
    const live = new Set(listed.filter((c) => hasProcess(c.state)).map((c) => c.id));
    for (const id of this.pids.keys()) if (!live.has(id)) this.pids.delete(id);

    const resolved = new Map<string, Resolved>();
    await mapLimit(listed, INSPECT_CONCURRENCY, async (c) => {
      resolved.set(c.id, await this.resolve(api, c));
    });

    return this.buildPods(listed, resolved);
  }

  private parseListed(item: unknown): ListedContainer {
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
   * PID (and netns) of one listed container. Cached per ID: re-inspected only when new, restarted (its cached
   * PID no longer holds the same namespace), or DOCKER_RETRY_FAILED_MS after a failed resolution.
   */
  private async resolve(api: string, c: ListedContainer): Promise<Resolved> {
    if (!hasProcess(c.state)) return { pid: null, netns: null, reason: `container is ${c.state || 'in an unknown state'}` };
    const cached = this.pids.get(c.id);
    if (cached) {
      if (cached.failedAt === undefined) {
        const hit = await this.fromCache(cached);
        if (hit) return hit;
      } else if (performance.now() - cached.failedAt < DOCKER_RETRY_FAILED_MS) {
        return { pid: null, netns: null, reason: cached.reason ?? 'unresolved' };
      }
      this.pids.delete(c.id);
    }
    const entry = await this.inspect(api, c.id);
    if (entry.pid !== null) entry.pidInode = await inodeOrNull(procNetnsPath(this.opts.procRoot, entry.pid));
    const out = await this.fromEntry(entry);
    if (out.netns === null) {
      entry.failedAt = performance.now();
      entry.reason = out.reason;
    }
    this.pids.set(c.id, entry);
    return out;
  }

  /**
   * A cached entry, still valid when its PID still holds the namespace seen at inspect time (a restarted
   * container has a new PID; its old /proc entry is gone). Null when stale.
   */
  private async fromCache(entry: PidEntry): Promise<Resolved | null> {
    if (entry.pid === null) return null;
    if (entry.pidInode === null) {
      // /proc is not the host's: nothing to check the PID against; use the netns path again.
      const r = await this.fromEntry(entry);
      return r.netns ? r : null;
    }
    const path = procNetnsPath(this.opts.procRoot, entry.pid);
    const inode = await inodeOrNull(path);
    return inode === entry.pidInode ? { pid: entry.pid, netns: { inode, path } } : null;
  }

  private async fromEntry(entry: PidEntry): Promise<Resolved> {
    if (entry.pid === null) return { pid: null, netns: null, reason: entry.reason ?? 'no pid' };
    try {
      const netns = await resolveNetns(
        { pid: entry.pid, netnsPath: entry.sandboxKey },
        { procRoot: this.opts.procRoot, hostRoot: this.opts.hostRoot },
      );
      return { pid: entry.pid, netns };
    } catch (err) {
      return { pid: null, netns: null, reason: `pid ${entry.pid}: ${errorMessage(err)}` };
    }
  }

  /** GET /containers/{id}/json -> State.Pid and NetworkSettings.SandboxKey; failures become a reason. */
  private async inspect(api: string, id: string): Promise<PidEntry> {
    const none = (reason: string): PidEntry => ({ pid: null, pidInode: null, sandboxKey: null, reason });
    let raw: unknown;
    try {
      raw = await this.getJson(`/v${api}/containers/${id}/json`, 'GET /containers/{id}/json');
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'DOCKER_NOT_FOUND') return none('container vanished');
      return none(errorMessage(err));
    }
    const state = isRecord(raw) && isRecord(raw.State) ? raw.State : {};
    const settings = isRecord(raw) && isRecord(raw.NetworkSettings) ? raw.NetworkSettings : {};
    const sandboxKey = typeof settings.SandboxKey === 'string' && settings.SandboxKey !== '' ? settings.SandboxKey : null;
    // Stopped between list and inspect: the next list shows it stopped (and evicts it).
    if (state.Pid === 0 || state.Pid === undefined) return none('container has no process (pid 0)');
    try {
      return { pid: validatePid(`docker container ${id}`, state.Pid), pidInode: null, sandboxKey };
    } catch (err) {
      return none(errorMessage(err));
    }
  }

  private buildPods(listed: ListedContainer[], resolved: Map<string, Resolved>): PodInfo[] {
    const url = this.endpoint.url;
    const get = (id: string): Resolved => resolved.get(id) ?? { pid: null, netns: null, reason: 'not resolved' };
    const containerInfo = (c: ListedContainer, name: string): ContainerInfo => ({
      id: c.id,
      name,
      state: dockerContainerState(c.state),
      pid: get(c.id).pid,
    });
    const pod = (c: ListedContainer, meta: { namespace: string; name: string; uid: string }, containers: ContainerInfo[]): PodInfo => {
      const r = get(c.id);
      const p: PodInfo = {
        ...meta,
        runtime: 'docker',
        endpoint: url,
        sandboxId: c.id,
        state: c.state === 'running' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
        pid: r.netns ? r.pid : null,
        hostNetwork: c.networkMode === 'host',
        netns: r.netns,
        containers,
      };
      if (!r.netns) p.reason = r.reason ?? 'unresolved';
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
        this.opts.log?.debug({ endpoint: url, container: c.id, sandbox: sb }, 'docker: app container without a listed sandbox, skipped');
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

  /** GET /_ping (unversioned) and negotiate; remembers the version for later calls. */
  private async negotiate(): Promise<string> {
    const res = await this.request('/_ping', 'GET /_ping');
    if (res.status !== 200) throw this.httpError('GET /_ping', res);
    this.apiVersion = negotiateApiVersion(this.endpoint.url, res.headers['api-version']);
    return this.apiVersion;
  }

  private async getJson(path: string, label: string): Promise<unknown> {
    const res = await this.request(path, label);
    if (res.status < 200 || res.status > 299) throw this.httpError(label, res);
    try {
      return JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new RuntimeError(this.endpoint.url, label, 'invalid JSON in response', { cause: err, code: 'DOCKER_RESPONSE' });
    }
  }

  private httpError(label: string, res: HttpResult): RuntimeError {
    let detail = res.body.toString('utf8', 0, Math.min(res.body.length, 300)).trim();
    if (String(res.headers['content-type'] ?? '').includes('json')) {
      try {
        const j: unknown = JSON.parse(res.body.toString('utf8'));
        if (isRecord(j) && typeof j.message === 'string') detail = j.message.slice(0, 300);
      } catch (err) {
        detail = `${detail} (invalid JSON: ${errorMessage(err)})`;
      }
    }
    return new RuntimeError(this.endpoint.url, label, `HTTP ${res.status}${detail ? `: ${detail}` : ''}`, {
      code: res.status === 404 ? 'DOCKER_NOT_FOUND' : 'DOCKER_HTTP',
    });
  }

  /** One GET over the socket, bounded by opts.timeoutMs and DOCKER_MAX_RESPONSE_BYTES; observed and counted. */
  private request(path: string, label: string): Promise<HttpResult> {
    this.requests += 1;
    const started = performance.now();
    const url = this.endpoint.url;
    const timeoutMs = this.opts.timeoutMs;
    return new Promise<HttpResult>((resolve, reject) => {
      let settled = false;
      const finish = (err: unknown, result?: HttpResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const code = result ? String(result.status) : err instanceof RuntimeError ? err.code : ((err as NodeJS.ErrnoException)?.code ?? 'ERROR');
        this.opts.onCall?.({ runtime: 'docker', endpoint: url, method: label, code, seconds: (performance.now() - started) / 1000 });
        if (result) {
          resolve(result);
          return;
        }
        // A transport failure may mean the daemon restarted (possibly upgraded): negotiate again next time.
        this.apiVersion = null;
        reject(
          err instanceof RuntimeError
            ? err
            : new RuntimeError(url, label, errorMessage(err), { cause: err, code: 'DOCKER_UNREACHABLE' }),
        );
      };
      const req = http.request({
        socketPath: this.endpoint.socketPath,
        path,
        method: 'GET',
        headers: { Host: 'docker', Accept: 'application/json' },
        agent: this.agent,
      });
      const timer = setTimeout(() => {
        const err = new RuntimeError(url, label, `timed out after ${timeoutMs}ms`, { code: 'TIMEOUT' });
        finish(err);
        req.destroy(err);
      }, timeoutMs);
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const declared = Number(res.headers['content-length'] ?? 0);
        const tooLarge = (): RuntimeError =>
          new RuntimeError(url, label, `response larger than ${DOCKER_MAX_RESPONSE_BYTES} bytes`, { code: 'DOCKER_TOO_LARGE' });
        if (declared > DOCKER_MAX_RESPONSE_BYTES) {
          const err = tooLarge();
          finish(err);
          req.destroy(err);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > DOCKER_MAX_RESPONSE_BYTES) {
            const err = tooLarge();
            finish(err);
            req.destroy(err);
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(err));
        res.on('aborted', () => finish(new Error('connection closed mid-response')));
        res.on('end', () => {
          if (!res.complete) {
            finish(new Error('connection closed mid-response'));
            return;
          }
          finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      });
      req.end();
    });
  }
}

export function createDockerRuntime(endpoint: Endpoint, opts: DockerClientOptions): RuntimeClient {
  return new DockerRuntime(endpoint, opts);
}

