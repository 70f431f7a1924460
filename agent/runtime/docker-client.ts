/**
 * Docker Engine API client over the unix socket (node:http, keep-alive): /_ping + API version negotiation,
 * pods from the kubelet/cri-dockerd labels, PIDs from container inspect (cached per container ID), and plain
 * (non-Kubernetes) containers as one pod each. The API's pure facts (versions, states, labels, listing -> pods)
 * are in docker-engine.ts.
 *
 * Steady-state cost of listPods(): one GET /containers/json?all=1; inspect runs only for running containers
 * not yet cached, whose cached PID no longer holds the same network namespace (restart), or whose resolution
 * failed more than DOCKER_RETRY_FAILED_MS ago. Cached PIDs are re-checked with a stat of /proc/<pid>/ns/net.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { RuntimeError, ValidationError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { mapLimit } from '../map-limit.js';
import { hasProcess, isRecord, negotiateApiVersion, parseListedContainer, podsFromContainers, type ListedContainer, type Resolved } from './docker-engine.js';
import { netnsInode, procNetnsPath, resolveNetns, validatePid } from './netns-resolve.js';
import type { ClientOptions, ContainerStat, Endpoint, PodInfo, RuntimeClient, RuntimeStatus } from './types.js';

/** Cap on one response body. */
export const DOCKER_MAX_RESPONSE_BYTES = 16 << 20;
/** A container whose PID/netns could not be resolved is inspected again after this long (ms). */
export const DOCKER_RETRY_FAILED_MS = 30_000;
/** Inspect calls in flight at once (first pass on a busy node). */
const INSPECT_CONCURRENCY = 8;

export type DockerClientOptions = ClientOptions & { log?: Logger };

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
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

  /**
   * None: the stats collector reads Docker containers from their cgroups and never asks this (the Engine's stats API
   * is one request per container, each sampling for a second); a container whose cgroup cannot be read is reported
   * missing there (collect/stats.ts), not given a value here.
   */
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
        listed.push(parseListedContainer(item));
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

    const url = this.endpoint.url;
    return podsFromContainers(listed, resolved, url, (container, sandbox) =>
      this.opts.log?.debug({ endpoint: url, container, sandbox }, 'docker: app container without a listed sandbox, skipped'));
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
        this.opts.onCall?.({ runtime: 'docker', endpoint: url, method: label, code: dockerCallCode(result, err), seconds: (performance.now() - started) / 1000 });
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

/**
 * The `code` a Docker request is observed with (chaos_daemon_runtime_request_duration_seconds): the HTTP status of
 * an answer; for a request that got none, the gRPC code name a CRI call gets in the same case, so that one query
 * covers both protocols and the label's values stay few: DEADLINE_EXCEEDED (no answer within --runtime-timeout),
 * RESOURCE_EXHAUSTED (an answer over DOCKER_MAX_RESPONSE_BYTES), UNAVAILABLE (every transport failure: no socket,
 * connection refused or reset, closed mid-answer; the errno is in the endpoint's error, `runtimes`).
 */
export function dockerCallCode(result: { status: number } | undefined, err: unknown): string {
  if (result) return String(result.status);
  if (err instanceof RuntimeError && err.code === 'TIMEOUT') return 'DEADLINE_EXCEEDED';
  if (err instanceof RuntimeError && err.code === 'DOCKER_TOO_LARGE') return 'RESOURCE_EXHAUSTED';
  return 'UNAVAILABLE';
}

export function createDockerRuntime(endpoint: Endpoint, opts: DockerClientOptions): RuntimeClient {
  return new DockerRuntime(endpoint, opts);
}

