/**
 * Every runtime on the node at once: endpoints from detect.ts (re-discovered on every pass, so a runtime that
 * starts after the agent is picked up), one long-lived client per endpoint (their caches survive across
 * passes), statuses and pods of all of them in parallel. One failing runtime never stops the others. A pod seen
 * through two endpoints (cri-dockerd and Docker share sandbox IDs) is reported once.
 */
import { compareNames } from '../compare-names.js';
import type { Config } from '../config.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { CallLabels } from './call-labels.js';
import { endpointCandidates, type Candidate } from './detect.js';
import type { CallObserver, ClientOptions, ContainerStat, Endpoint, ListPodsOptions, PodInfo, Protocol, RuntimeClient, RuntimeStatus } from './types.js';

export interface InventoryResult {
  runtimes: RuntimeStatus[];
  pods: PodInfo[];
  /** One sentence per runtime whose pods could not be listed. */
  errors: string[];
}

export type InventoryConfig = Pick<Config, 'runtimeEndpoints' | 'dockerEndpoints' | 'hostRoot' | 'procRoot' | 'runtimeTimeoutMs'>;

export interface InventoryDeps {
  log: Logger;
  onCall?: CallObserver;
}

interface Probed {
  status: RuntimeStatus;
  client: RuntimeClient | null;
}

/** A pod and the protocol of the endpoint it came from. */
export interface SeenPod {
  pod: PodInfo;
  protocol: Protocol;
}

/**
 * One entry per sandbox ID. Among duplicates keep the one with a resolved netns, then the CRI one, then the
 * first seen. Result sorted by namespace, name, sandbox ID.
 */
export function dedupePods(seen: SeenPod[]): PodInfo[] {
  const best = new Map<string, SeenPod>();
  const rank = (s: SeenPod): number => (s.pod.netns ? 2 : 0) + (s.protocol === 'cri' ? 1 : 0);
  for (const s of seen) {
    const prev = best.get(s.pod.sandboxId);
    if (!prev || rank(s) > rank(prev)) best.set(s.pod.sandboxId, s);
  }
  return sortPods([...best.values()].map((s) => s.pod));
}

/** Namespace, name, sandbox ID (module level: see chaos/processes.ts on per-call closures). */
const byPodName = (a: PodInfo, b: PodInfo): number =>
  compareNames(a.namespace, b.namespace) || compareNames(a.name, b.name) || compareNames(a.sandboxId, b.sandboxId);

export function sortPods(pods: PodInfo[]): PodInfo[] {
  return pods.sort(byPodName);
}

/** "no container runtime reachable" + one line per endpoint tried and why. */
export function unreachableMessage(statuses: RuntimeStatus[]): string {
  const lines = statuses.map((s) => `  ${s.endpoint} (${s.protocol}): ${s.error ?? 'down'}`);
  return `no container runtime reachable; tried:\n${lines.join('\n')}\n`;
}

function downStatus(c: Candidate, error: string): RuntimeStatus {
  return {
    endpoint: c.endpoint.url,
    protocol: c.endpoint.protocol,
    source: c.endpoint.source,
    up: false,
    runtime: null,
    version: null,
    apiVersion: null,
    error,
  };
}

function key(e: Endpoint): string {
  return `${e.protocol} ${e.url} ${e.socketPath}`;
}

/** Inventory.containerStatsReport(): the stats, and the runtimes whose ListContainerStats failed outright. */
export interface ContainerStatsReport {
  stats: ContainerStat[];
  failed: { endpoint: string; error: string }[];
}

export class Inventory {
  private readonly cfg: InventoryConfig;
  private readonly deps: InventoryDeps;
  private readonly clients = new Map<string, RuntimeClient>();
  /** Requests made by clients closed since (their endpoint disappeared). */
  private retiredRequests = 0;
  /** Last listing error per endpoint: a persistent failure is logged at warn once, then at debug. */
  private readonly failing = new Map<string, string>();
  /** Clients that were up at the last runtimes()/collect(). */
  private lastUp: RuntimeClient[] | null = null;
  /**
   * The runtime each endpoint last said it was, kept while it is down (its client may even be closed and recreated
   * meanwhile): a down endpoint keeps the `runtime` label it had while up, so chaos_daemon_runtime_up of a
   * containerd that died goes to 0 on the same series instead of a new {runtime="cri"} one that alerts never saw at 1.
   */
  private readonly lastRuntime = new Map<string, string>();
  /** The clients' calls, labelled as chaos_daemon_runtime_up labels their endpoint (call-labels.ts); null without an observer. */
  private readonly calls: CallLabels | null;

  constructor(cfg: InventoryConfig, deps: InventoryDeps) {
    this.cfg = cfg;
    this.deps = deps;
    this.calls = deps.onCall ? new CallLabels(deps.onCall) : null;
  }

  /** Status of every endpoint tried (discovered candidates that do not exist are listed as down with the reason). */
  async runtimes(): Promise<RuntimeStatus[]> {
    return (await this.probe()).map((p) => p.status);
  }

  /**
   * One pass: status of every endpoint, then pods of every up endpoint in parallel; one failing runtime never
   * stops the others; pods deduped (same sandboxId seen by cri-dockerd and docker: keep one, prefer the entry
   * with a resolved netns, then the CRI one). `opts.resolve`: only those pods need their PID and netns (others may
   * come back `unresolvedByRequest`).
   */
  async collect(opts: ListPodsOptions = {}): Promise<InventoryResult> {
    const probed = await this.probe();
    const up = probed.filter((p): p is { status: RuntimeStatus; client: RuntimeClient } => p.status.up && p.client !== null);
    const results = await Promise.allSettled(up.map((p) => p.client.listPods(opts)));
    const seen: SeenPod[] = [];
    const errors: string[] = [];
    results.forEach((r, i) => {
      const { client, status } = up[i]!;
      const url = client.endpoint.url;
      if (r.status === 'fulfilled') {
        for (const pod of r.value) seen.push({ pod, protocol: client.endpoint.protocol });
        if (this.failing.delete(url)) this.deps.log.info({ endpoint: url }, 'listing pods works again');
      } else {
        const msg = errorMessage(r.reason);
        status.listError = msg;
        errors.push(msg.startsWith(url) ? msg : `${url}: ${msg}`);
        const level = this.failing.get(url) === msg ? 'debug' : 'warn';
        this.failing.set(url, msg);
        this.deps.log[level]({ endpoint: url, err: msg }, 'listing pods failed');
      }
    });
    const pods = dedupePods(seen);
    this.deps.log.debug({ runtimes: up.length, pods: pods.length, seen: seen.length }, 'inventory collected');
    return { runtimes: probed.map((p) => p.status), pods, errors };
  }

  /**
   * CPU/memory of every container of the runtimes up at the last pass (deduped by container ID); with `endpoints`,
   * of those runtimes only (by endpoint URL); and which runtimes' calls failed outright and why (each also logged).
   */
  async containerStatsReport(endpoints?: ReadonlySet<string>): Promise<ContainerStatsReport> {
    const up = this.lastUp ?? (await this.probe()).flatMap((p) => (p.status.up && p.client ? [p.client] : []));
    const clients = endpoints ? up.filter((c) => endpoints.has(c.endpoint.url)) : up;
    const results = await Promise.allSettled(clients.map((c) => c.containerStats()));
    const byId = new Map<string, ContainerStat>();
    const failed: ContainerStatsReport['failed'] = [];
    // An endpoint asked for that was not up at the last pass gets no call: named, so its containers' absence says why.
    for (const url of endpoints ?? []) if (!up.some((c) => c.endpoint.url === url)) failed.push({ endpoint: url, error: 'not up at the last pass, not asked' });
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        const endpoint = clients[i]!.endpoint.url;
        const error = errorMessage(r.reason);
        this.deps.log.warn({ endpoint, err: error }, 'container stats failed');
        failed.push({ endpoint, error });
        return;
      }
      for (const s of r.value) if (!byId.has(s.containerId)) byId.set(s.containerId, s);
    });
    return { stats: [...byId.values()], failed };
  }

  /** Total runtime requests so far (all clients). */
  requestCount(): number {
    let n = this.retiredRequests;
    for (const c of this.clients.values()) n += c.requestCount;
    return n;
  }

  close(): void {
    for (const c of this.clients.values()) {
      this.retiredRequests += c.requestCount;
      c.close();
    }
    this.clients.clear();
    this.lastUp = null;
  }

  private async probe(): Promise<Probed[]> {
    const candidates = endpointCandidates(this.cfg);
    const wanted = new Set(candidates.filter((c) => c.found).map((c) => key(c.endpoint)));
    for (const [k, c] of this.clients) {
      if (wanted.has(k)) continue;
      this.retiredRequests += c.requestCount;
      c.close();
      this.clients.delete(k);
      this.failing.delete(c.endpoint.url);
    }
    // The probes' calls (Version, _ping) are held until each endpoint's label is known (call-labels.ts).
    for (const c of candidates) if (c.found) this.calls?.probing(c.endpoint.url);
    let probed: Probed[];
    try {
      probed = await Promise.all(
        // Each endpoint settled as soon as it has its status: a slow endpoint holds only its own calls.
        candidates.map(async (c): Promise<Probed> => {
          if (!c.found) return { status: this.settled(downStatus(c, c.error ?? 'not found')), client: null };
          let client: RuntimeClient;
          try {
            client = await this.client(c.endpoint);
          } catch (err) {
            this.deps.log.warn({ endpoint: c.endpoint.url, err: errorMessage(err) }, 'cannot create runtime client');
            return { status: this.settled(downStatus(c, `cannot create client: ${errorMessage(err)}`)), client: null };
          }
          return { status: this.settled(await client.status()), client };
        }),
      );
    } catch (err) {
      // status() never throws (RuntimeClient); should one, its calls are not held for good.
      for (const c of candidates) this.calls?.release(c.endpoint.url);
      throw err;
    }
    this.lastUp = probed.flatMap((p) => (p.status.up && p.client ? [p.client] : []));
    for (const p of probed) {
      if (!p.status.up) this.deps.log.debug({ endpoint: p.status.endpoint, err: p.status.error }, 'runtime endpoint down');
    }
    return probed;
  }

  /**
   * The status with the runtime it last said while it is down (kept per endpoint), its probe's held calls observed
   * under its label (call-labels.ts).
   */
  private settled(status: RuntimeStatus): RuntimeStatus {
    if (status.runtime !== null) this.lastRuntime.set(status.endpoint, status.runtime);
    else status.runtime = this.lastRuntime.get(status.endpoint) ?? null;
    this.calls?.settle(status);
    return status;
  }

  private async client(endpoint: Endpoint): Promise<RuntimeClient> {
    const k = key(endpoint);
    const existing = this.clients.get(k);
    if (existing) return existing;
    const opts: ClientOptions & { log: Logger } = {
      timeoutMs: this.cfg.runtimeTimeoutMs,
      procRoot: this.cfg.procRoot,
      hostRoot: this.cfg.hostRoot,
      ...(this.calls ? { onCall: this.calls.observe } : {}),
      log: this.deps.log,
    };
    // Each protocol's client is loaded on first use: a CRI-only node never loads node:http's client, a Docker-only
    // node never loads HTTP/2 and the CRI codec.
    let client: RuntimeClient;
    if (endpoint.protocol === 'docker') client = (await import('./docker-client.js')).createDockerRuntime(endpoint, opts);
    else client = (await import('./cri-runtime.js')).createCriRuntime(endpoint, opts);
    // Two probes racing for the same endpoint: keep the first client.
    const raced = this.clients.get(k);
    if (raced) {
      client.close();
      return raced;
    }
    this.clients.set(k, client);
    return client;
  }
}
