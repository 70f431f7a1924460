/**
 * The sandboxes and container PIDs a CriRuntime (cri-runtime.ts) resolves, and their caches: PodSandboxStatus(verbose)
 * once per new READY sandbox, ContainerStatus(verbose) once per new RUNNING container, cached by ID until the ID
 * leaves the list (evict), a failure retried after RETRY_FAILED_MS, a cached netns re-checked with a stat.
 */
import { errorMessage } from '../errors.js';
import type { Container, CriClient, PodSandbox } from './cri-client.js';
import { parseContainerInfo, parseSandboxInfo } from './cri-info.js';
import { hostNetnsInode, netnsInodeSync, procNetnsPath, resolveNetns, validateId } from './netns-resolve.js';
import { SettledMap } from './settled-map.js';
import type { ClientOptions, NetnsRef } from './types.js';

/** A failed sandbox/container resolution is retried after this long (ms). */
export const RETRY_FAILED_MS = 30_000;

interface Resolved {
  ok: true;
  pid: number | null;
  netns: NetnsRef;
  hostNetwork: boolean;
  /** netns.path is <procRoot>/<pid>/ns/net, a procfs namespace link (netnsInodeSync). */
  procLink: boolean;
}
export interface Unresolved {
  ok: false;
  reason: string;
  hostNetwork: boolean;
  retryAt: number;
}
export type Resolution = Resolved | Unresolved;

export interface PidResult {
  pid: number | null;
  error: string | null;
  retryAt: number;
}

export class CriResolver {
  private readonly sandboxes = new SettledMap<Resolution>();
  readonly containerPids = new SettledMap<PidResult>();
  private hostInode: Promise<number | null> | null = null;
  /** Last unexpected failure reading /proc/1/ns/net (kept for debugging; null when none). */
  hostInodeError: string | null = null;
  /** Why the last cached resolution was dropped as stale (for debugging; null when none yet). */
  lastStale: string | null = null;

  constructor(
    private readonly client: CriClient,
    private readonly opts: ClientOptions,
  ) {}

  /** Drop cache entries whose sandbox/container is gone (or, for sandboxes, no longer READY). */
  evict(sandboxes: PodSandbox[], containers: Container[]): void {
    const ready = new Set<string>();
    for (let i = 0; i < sandboxes.length; i++) if (sandboxes[i]!.state === 'SANDBOX_READY') ready.add(sandboxes[i]!.id);
    this.sandboxes.deleteUnless(ready);
    const runningIds = new Set<string>();
    for (let i = 0; i < containers.length; i++) if (containers[i]!.state === 'CONTAINER_RUNNING') runningIds.add(containers[i]!.id);
    this.containerPids.deleteUnless(runningIds);
  }

  /**
   * The sandbox's resolution when it is known without waiting: not READY, a bad ID, or a settled cached one still
   * valid (checked as sandboxResolution checks it; an invalid one is dropped). null: sandboxResolution must run.
   */
  settledResolution(sb: PodSandbox): Resolution | null {
    if (sb.state !== 'SANDBOX_READY') {
      const reason = sb.state === 'SANDBOX_STATE_UNKNOWN' ? 'sandbox state unknown (a PodSandboxState value this agent does not know)' : `sandbox is ${sb.state}`;
      return { ok: false, reason, hostNetwork: false, retryAt: 0 };
    }
    try {
      validateId('sandbox', sb.id);
    } catch (err) {
      return { ok: false, reason: errorMessage(err), hostNetwork: false, retryAt: 0 };
    }
    const res = this.sandboxes.value(sb.id);
    if (res === undefined) return null;
    if (this.usable(res)) return res;
    this.sandboxes.delete(sb.id);
    return null;
  }

  /** A cached resolution may be served: a resolved netns still there (stillValid), a failure not yet due for a retry. */
  private usable(res: Resolution): boolean {
    return res.ok ? this.stillValid(res) : Date.now() < res.retryAt;
  }

  async sandboxResolution(sb: PodSandbox, containers: Container[]): Promise<Resolution> {
    const now = this.settledResolution(sb);
    if (now !== null) return now;
    const cached = this.sandboxes.get(sb.id);
    if (cached) {
      const res = await cached;
      if (this.usable(res)) return res;
      this.sandboxes.delete(sb.id);
    }
    // Re-check: a concurrent listPods may have started the same resolution meanwhile.
    let pending = this.sandboxes.get(sb.id);
    if (!pending) {
      pending = this.resolveSandbox(sb.id, containers);
      this.sandboxes.set(sb.id, pending);
    }
    return pending;
  }

  /**
   * The cached netns file still has the cached inode (the PID did not die or get reused). Synchronous: one procfs
   * lookup of a few microseconds, where the promise stat cost a thread-pool round trip per sandbox per collection.
   */
  private stillValid({ netns, procLink }: Resolved): boolean {
    let inode: number;
    try {
      inode = netnsInodeSync(netns.path, procLink);
    } catch (err) {
      // The process or netns file is gone: the caller drops the entry and resolves the sandbox again.
      this.lastStale = `${netns.path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`;
      return false;
    }
    if (inode !== netns.inode) this.lastStale = `${netns.path}: inode ${netns.inode} is now ${inode}`;
    return inode === netns.inode;
  }

  private async resolveSandbox(id: string, containers: Container[]): Promise<Resolution> {
    const failed = (reason: string, hostNetwork = false): Unresolved => ({
      ok: false,
      reason,
      hostNetwork,
      retryAt: Date.now() + RETRY_FAILED_MS,
    });
    let res;
    try {
      res = await this.client.call('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    } catch (err) {
      return failed(`PodSandboxStatus failed: ${errorMessage(err)}`);
    }
    const info = parseSandboxInfo(res.info);
    const mode = res.status?.linux?.namespaces?.options?.network;
    let hostNetwork = mode === 'NODE' || info.hostNetwork === true;

    let pid = info.pid;
    if (pid === null && info.netnsPath === null) {
      // No usable sandbox info (cri-dockerd; or a dropped-infra host-network pod): use a running container's pid.
      const running = containers.find((c) => c.state === 'CONTAINER_RUNNING');
      if (running) pid = (await this.containerPid(running.id)).pid;
    }
    if (pid === null && info.netnsPath === null) {
      const why = info.errors.length ? info.errors.map((e) => e.message).join('; ') : `runtime info shape ${info.shape}`;
      return failed(`no pid or netns path for the sandbox (${why}) and no running container to take it from`, hostNetwork);
    }
    let netns: NetnsRef;
    try {
      netns = await resolveNetns({ pid, netnsPath: info.netnsPath }, this.opts);
    } catch (err) {
      return failed(`cannot resolve netns: ${errorMessage(err)}`, hostNetwork);
    }
    this.hostInode ??= hostNetnsInode(this.opts.procRoot).catch((err: unknown) => {
      // An unexpected stat failure: treat the host netns as unknown, NamespaceMode NODE still decides.
      this.hostInodeError = errorMessage(err);
      return null;
    });
    const hostIno = await this.hostInode;
    if (hostIno !== null && netns.inode === hostIno) hostNetwork = true;
    return { ok: true, pid, netns, hostNetwork, procLink: pid !== null && netns.path === procNetnsPath(this.opts.procRoot, pid) };
  }

  /** PID of a running container from ContainerStatus(verbose), cached per container ID. */
  async containerPid(id: string): Promise<PidResult> {
    const cached = this.containerPids.get(id);
    if (cached) {
      const r = await cached;
      if (r.error === null || Date.now() < r.retryAt) return r;
      this.containerPids.delete(id);
    }
    let pending = this.containerPids.get(id);
    if (!pending) {
      pending = this.fetchContainerPid(id);
      this.containerPids.set(id, pending);
    }
    return pending;
  }

  private async fetchContainerPid(id: string): Promise<PidResult> {
    const retryAt = Date.now() + RETRY_FAILED_MS;
    try {
      validateId('container', id);
      const res = await this.client.call('ContainerStatus', { container_id: id, verbose: true });
      const info = parseContainerInfo(res.info);
      if (info.pid !== null) return { pid: info.pid, error: null, retryAt: 0 };
      const why = info.errors.length ? info.errors.map((e) => e.message).join('; ') : 'no pid in the verbose info';
      return { pid: null, error: why, retryAt };
    } catch (err) {
      return { pid: null, error: errorMessage(err), retryAt };
    }
  }
}
