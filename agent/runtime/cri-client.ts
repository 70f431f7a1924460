/**
 * Low-level CRI RuntimeService client over a unix socket (@grpc/grpc-js + @grpc/proto-loader on protos/cri.proto).
 *
 * - One grpc channel per client (one client per endpoint), reused across calls, with its own subchannel pool so a
 *   reset really opens a new connection; authority "localhost" and 16 MiB max messages, as crictl does.
 * - A deadline on every call (default 2 s).
 * - runtime.v1 first; when the runtime answers UNIMPLEMENTED and v1 has never worked on this endpoint, the same
 *   call is retried on runtime.v1alpha2 (same messages, renamed method paths) and, if that works, v1alpha2 is
 *   remembered for the endpoint.
 * - Survives the runtime restarting: a call failing with UNAVAILABLE closes the channel, opens a fresh one and is
 *   retried once, so the next collection after a restart reconnects instead of waiting out grpc's backoff.
 * - Every request is counted (`requestCount`) and reported to the CallObserver with its gRPC code name.
 * Failures are CriCallError (a RuntimeError) carrying the gRPC code.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { AgentError, RuntimeError } from '../errors.js';
import type { CallObserver } from './types.js';

export type CriApi = 'v1' | 'v1alpha2';

export const DEFAULT_TIMEOUT_MS = 2000;
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes, as decoded by proto-loader with { keepCase, longs: String, enums: String, defaults: true }.
// int64/uint64 arrive as decimal strings; missing sub-messages as null; maps as {}.

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type WirePodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type WireContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}
export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}
export interface NamespaceOption {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
  target_id: string;
}
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: WirePodSandboxState;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}
export interface PodSandboxStatusResponse {
  status: {
    id: string;
    metadata: PodSandboxMetadata | null;
    state: WirePodSandboxState;
    created_at: string;
    network: { ip: string; additional_ips: { ip: string }[] } | null;
    linux: { namespaces: { options: NamespaceOption | null } | null } | null;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    runtime_handler: string;
  } | null;
  info: Record<string, string>;
}
export interface ContainerMetadata {
  name: string;
  attempt: number;
}
export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: ContainerMetadata | null;
  image: { image: string } | null;
  image_ref: string;
  state: WireContainerState;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface ContainerStatusResponse {
  status: {
    id: string;
    metadata: ContainerMetadata | null;
    state: WireContainerState;
    created_at: string;
    started_at: string;
    finished_at: string;
    exit_code: number;
    reason: string;
    message: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  } | null;
  info: Record<string, string>;
}
export interface UInt64Value {
  value: string;
}
export interface ContainerStats {
  attributes: { id: string; metadata: ContainerMetadata | null; labels: Record<string, string>; annotations: Record<string, string> } | null;
  cpu: { timestamp: string; usage_core_nano_seconds: UInt64Value | null; usage_nano_cores: UInt64Value | null } | null;
  memory: { timestamp: string; working_set_bytes: UInt64Value | null; usage_bytes: UInt64Value | null; rss_bytes: UInt64Value | null } | null;
}

/** Request and response of every RPC in protos/cri.proto (requests are partial: proto3 defaults fill the rest). */
export interface CriMethods {
  Version: [{ version?: string }, VersionResponse];
  ListPodSandbox: [{ filter?: unknown }, { items: PodSandbox[] }];
  PodSandboxStatus: [{ pod_sandbox_id: string; verbose?: boolean }, PodSandboxStatusResponse];
  ListContainers: [{ filter?: unknown }, { containers: Container[] }];
  ContainerStatus: [{ container_id: string; verbose?: boolean }, ContainerStatusResponse];
  ListContainerStats: [{ filter?: unknown }, { stats: ContainerStats[] }];
  RunPodSandbox: [{ config: unknown; runtime_handler?: string }, { pod_sandbox_id: string }];
  StopPodSandbox: [{ pod_sandbox_id: string }, Record<string, never>];
  RemovePodSandbox: [{ pod_sandbox_id: string }, Record<string, never>];
  CreateContainer: [{ pod_sandbox_id: string; config: unknown; sandbox_config: unknown }, { container_id: string }];
  StartContainer: [{ container_id: string }, Record<string, never>];
  StopContainer: [{ container_id: string; timeout?: number }, Record<string, never>];
  RemoveContainer: [{ container_id: string }, Record<string, never>];
}
export type CriMethod = keyof CriMethods;

// ---------------------------------------------------------------------------------------------------------------
// Proto loading

/** protos/cri.proto, found from this module both as agent/runtime/*.ts (vitest) and dist/agent/runtime/*.js. */
export function criProtoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../../protos/cri.proto'), join(here, '../../../protos/cri.proto')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new AgentError('CRI_PROTO', `protos/cri.proto not found (looked at ${candidates.join(', ')})`);
}

let loaded: protoLoader.PackageDefinition | null = null;
function packageDefinition(): protoLoader.PackageDefinition {
  loaded ??= protoLoader.loadSync(criProtoPath(), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    objects: true,
    oneofs: true,
  });
  return loaded;
}

const serviceCache = new Map<CriApi, grpc.ServiceDefinition>();
/**
 * The RuntimeService definition for one CRI API version. v1alpha2 is the v1 definition with every method path
 * renamed to /runtime.v1alpha2.RuntimeService/<Method>; messages and field numbers are identical.
 * Also used by test servers (fake CRI-O) with grpc.Server#addService.
 */
export function criServiceDefinition(api: CriApi): grpc.ServiceDefinition {
  const cached = serviceCache.get(api);
  if (cached) return cached;
  const v1 = packageDefinition()['runtime.v1.RuntimeService'] as grpc.ServiceDefinition | undefined;
  if (!v1) throw new AgentError('CRI_PROTO', 'runtime.v1.RuntimeService missing from protos/cri.proto');
  let def: grpc.ServiceDefinition = v1;
  if (api === 'v1alpha2') {
    const renamed: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [name, m] of Object.entries(v1)) {
      renamed[name] = { ...m, path: m.path.replace('/runtime.v1.RuntimeService/', '/runtime.v1alpha2.RuntimeService/') };
    }
    def = renamed;
  }
  serviceCache.set(api, def);
  return def;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** A failed CRI call: a RuntimeError whose `code` is CRI_<GRPC CODE NAME> and which carries the numeric gRPC code. */
export class CriCallError extends RuntimeError {
  readonly grpcCode: number;
  readonly grpcCodeName: string;
  constructor(endpoint: string, method: string, grpcCode: number, message: string, options?: { cause?: unknown }) {
    const name = grpcCodeName(grpcCode);
    super(endpoint, method, message, { cause: options?.cause, code: `CRI_${name}` });
    this.grpcCode = grpcCode;
    this.grpcCodeName = name;
  }
}

export function grpcCodeName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number';
}

// ---------------------------------------------------------------------------------------------------------------
// Client

export interface CriClientOptions {
  /** unix:///path/to/socket, shown in errors and passed to the observer. */
  url: string;
  /** Absolute path of the socket (host root applied). */
  socketPath: string;
  timeoutMs?: number;
  onCall?: CallObserver;
  /** Runtime label for the observer before Version told us (e.g. the runtime expected at a discovered path). */
  runtimeHint?: string;
}

export interface CallOptions {
  /** Overrides the client's deadline for this call (the test harness uses long ones for pod creation). */
  timeoutMs?: number;
}

export class CriClient {
  readonly url: string;
  readonly socketPath: string;
  readonly timeoutMs: number;
  /** Runtime name for observer labels; set by the runtime layer once Version answered. */
  runtimeName: string;
  private readonly onCall: CallObserver | undefined;
  private client: grpc.Client | null = null;
  private apiInUse: CriApi = 'v1';
  /** True once a call succeeded on apiInUse: no more version fallback on this channel. */
  private apiConfirmed = false;
  private requests = 0;
  private closed = false;
  /** The channel each failed call used (to reset a channel only once). */
  private readonly failedChannel = new WeakMap<CriCallError, grpc.Client>();

  constructor(opts: CriClientOptions) {
    this.url = opts.url;
    this.socketPath = opts.socketPath;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onCall = opts.onCall;
    this.runtimeName = opts.runtimeHint ?? 'unknown';
  }

  /** Requests sent since creation (retries and fallbacks included). */
  get requestCount(): number {
    return this.requests;
  }

  /** The CRI API version in use: v1 until a v1alpha2 fallback succeeded. */
  get api(): CriApi {
    return this.apiInUse;
  }

  /**
   * One unary CRI call with a deadline. v1 -> v1alpha2 fallback on UNIMPLEMENTED (until v1 is confirmed), one
   * reconnect-and-retry on UNAVAILABLE. Throws CriCallError.
   */
  async call<M extends CriMethod>(method: M, request: CriMethods[M][0], opts: CallOptions = {}): Promise<CriMethods[M][1]> {
    if (this.closed) throw new RuntimeError(this.url, method, 'client is closed', { code: 'CRI_CLOSED' });
    try {
      return await this.callOnce(method, request, this.apiInUse, opts);
    } catch (err) {
      if (!(err instanceof CriCallError)) throw err;
      if (err.grpcCode === grpc.status.UNIMPLEMENTED && this.apiInUse === 'v1' && !this.apiConfirmed) {
        try {
          const res = await this.callOnce(method, request, 'v1alpha2', opts);
          this.apiInUse = 'v1alpha2';
          this.apiConfirmed = true;
          return res;
        } catch (fallbackErr) {
          if (fallbackErr instanceof CriCallError && fallbackErr.grpcCode === grpc.status.UNIMPLEMENTED) throw err;
          throw fallbackErr;
        }
      }
      if (err.grpcCode === grpc.status.UNAVAILABLE) {
        // The runtime restarted or the socket was recreated: start over on a fresh channel, once. Only the first
        // of several concurrent failures resets (a later one must not close the channel just reopened).
        const failedOn = this.failedChannel.get(err);
        if (failedOn === undefined || failedOn === this.client) this.resetChannel();
        return await this.callOnce(method, request, this.apiInUse, opts);
      }
      throw err;
    }
  }

  private channel(): grpc.Client {
    if (!this.client) {
      this.client = new grpc.Client(`unix://${this.socketPath}`, grpc.credentials.createInsecure(), {
        'grpc.default_authority': 'localhost',
        'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
        'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
        'grpc.use_local_subchannel_pool': 1,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2000,
        'grpc.enable_retries': 0,
      });
    }
    return this.client;
  }

  /** Close the channel; the next call opens a new one and may probe the API version again. */
  resetChannel(): void {
    this.client?.close();
    this.client = null;
    this.apiConfirmed = false;
  }

  private callOnce<M extends CriMethod>(
    method: M,
    request: CriMethods[M][0],
    api: CriApi,
    opts: CallOptions,
  ): Promise<CriMethods[M][1]> {
    const def = criServiceDefinition(api)[method];
    if (!def) return Promise.reject(new RuntimeError(this.url, method, 'method not in protos/cri.proto'));
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const client = this.channel();
    this.requests += 1;
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const code = err ? (isServiceError(err) ? err.code : grpc.status.UNKNOWN) : grpc.status.OK;
          this.observe(method, grpcCodeName(code), seconds);
          if (err || value === undefined) {
            const wrapped = this.wrap(method, api, code, timeoutMs, err);
            this.failedChannel.set(wrapped, client);
            reject(wrapped);
            return;
          }
          if (api === 'v1' && !this.apiConfirmed && this.apiInUse === 'v1') this.apiConfirmed = true;
          resolve(value as CriMethods[M][1]);
        },
      );
    });
  }

  private wrap(method: string, api: CriApi, code: number, timeoutMs: number, err: unknown): CriCallError {
    const details = isServiceError(err) ? err.details || err.message : String(err ?? 'empty response');
    let message: string;
    switch (code) {
      case grpc.status.DEADLINE_EXCEEDED:
        message = `no answer within the ${timeoutMs} ms deadline (runtime ${api}; DEADLINE_EXCEEDED)`;
        break;
      case grpc.status.UNAVAILABLE:
        message = `runtime unreachable at ${this.socketPath}: ${details} (UNAVAILABLE)`;
        break;
      default:
        message = `${details} (${grpcCodeName(code)}, runtime.${api})`;
    }
    return new CriCallError(this.url, method, code, message, { cause: err });
  }

  private observe(method: string, code: string, seconds: number): void {
    if (!this.onCall) return;
    try {
      this.onCall({ runtime: this.runtimeName, endpoint: this.url, method, code, seconds });
    } catch (err) {
      // An observer bug must never fail a runtime call; surface it on the process instead of hiding it.
      process.emitWarning(`CRI call observer threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = null;
  }
}
