/**
 * Low-level CRI RuntimeService client over a unix socket: gRPC on node:http2 (cri/grpc-channel.ts) with the CRI
 * messages encoded and decoded by the agent's own codec (cri/messages.ts, checked against protos/cri.proto).
 * @grpc/grpc-js and protobufjs stay out of the agent: loading them cost more CPU than a whole `pods` answer may
 * take (bench/cli-start.ts); the test servers and the pod-creating test harness still use them.
 *
 * - One HTTP/2 connection per client (one client per endpoint), reused across calls; authority "localhost" and
 *   16 MiB max messages both ways, as crictl does.
 * - A deadline on every call (default 2 s).
 * - runtime.v1 first; when the runtime answers UNIMPLEMENTED and v1 has never worked on this endpoint, the same
 *   call is retried on runtime.v1alpha2 (same messages, renamed method paths) and, if that works, v1alpha2 is
 *   remembered for the endpoint.
 * - Survives the runtime restarting: a call failing with UNAVAILABLE drops the connection, opens a fresh one and is
 *   retried once, so the next collection after a restart reconnects at once.
 * - Every request is counted (`requestCount`) and reported to the CallObserver with its gRPC code name.
 * Failures are CriCallError (a RuntimeError) carrying the gRPC code.
 */
import { DecodeError, RuntimeError } from '../errors.js';
import { GrpcChannel, GrpcCode, GrpcStatusError, grpcCodeName } from './cri/grpc-channel.js';
import { ListMemo } from './cri/list-memo.js';
import { CRI_RPCS, type CriMethod, type CriMethods } from './cri/messages.js';
import { decodeMessage, encodeMessage, type Decoded } from './cri/schema.js';
import type { CallObserver } from './types.js';

export type {
  Container,
  ContainerStats,
  ContainerStatusResponse,
  CriMethod,
  CriMethods,
  NamespaceMode,
  PodSandbox,
  PodSandboxMetadata,
  PodSandboxStatusResponse,
  VersionResponse,
  WireContainerState,
  WirePodSandboxState,
} from './cri/messages.js';
export { grpcCodeName } from './cri/grpc-channel.js';

export type CriApi = 'v1' | 'v1alpha2';

export const DEFAULT_TIMEOUT_MS = 2000;
/**
 * The lists asked every collection: their answers are decoded through a ListMemo (cri/list-memo.ts), which reuses
 * the decoded items whose bytes did not change. Their items are then frozen and shared between answers.
 */
const MEMOISED_LISTS: ReadonlySet<CriMethod> = new Set(['ListPodSandbox', 'ListContainers']);
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The HTTP/2 path of a method in one CRI API version. */
export function criMethodPath(api: CriApi, method: string): string {
  return `/runtime.${api}.RuntimeService/${method}`;
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
  private channelInUse: GrpcChannel | null = null;
  private apiInUse: CriApi = 'v1';
  /** True once a call succeeded on apiInUse: no more version fallback on this channel. */
  private apiConfirmed = false;
  private requests = 0;
  private closed = false;
  /** Per memoised list method (MEMOISED_LISTS), the items of its last answer. */
  private readonly memos = new Map<CriMethod, ListMemo>();
  /** The channel each failed call used (to reset a channel only once). */
  private readonly failedChannel = new WeakMap<CriCallError, GrpcChannel>();

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
      if (err.grpcCode === GrpcCode.UNIMPLEMENTED && this.apiInUse === 'v1' && !this.apiConfirmed) {
        try {
          const res = await this.callOnce(method, request, 'v1alpha2', opts);
          this.apiInUse = 'v1alpha2';
          this.apiConfirmed = true;
          return res;
        } catch (fallbackErr) {
          if (fallbackErr instanceof CriCallError && fallbackErr.grpcCode === GrpcCode.UNIMPLEMENTED) throw err;
          throw fallbackErr;
        }
      }
      if (err.grpcCode === GrpcCode.UNAVAILABLE) {
        // The runtime restarted or the socket was recreated: start over on a fresh channel, once. Only the first
        // of several concurrent failures resets (a later one must not close the channel just reopened).
        const failedOn = this.failedChannel.get(err);
        if (failedOn === undefined || failedOn === this.channelInUse) this.resetChannel();
        return await this.callOnce(method, request, this.apiInUse, opts);
      }
      throw err;
    }
  }

  private channel(): GrpcChannel {
    this.channelInUse ??= new GrpcChannel({
      socketPath: this.socketPath,
      authority: 'localhost',
      maxReceiveBytes: MAX_MESSAGE_BYTES,
      maxSendBytes: MAX_MESSAGE_BYTES,
    });
    return this.channelInUse;
  }

  /** Drop the connection; the next call opens a new one and may probe the API version again. */
  resetChannel(): void {
    this.channelInUse?.reset();
    this.channelInUse = null;
    this.apiConfirmed = false;
  }

  private async callOnce<M extends CriMethod>(method: M, request: CriMethods[M][0], api: CriApi, opts: CallOptions): Promise<CriMethods[M][1]> {
    const rpc = CRI_RPCS[method];
    if (!rpc) throw new RuntimeError(this.url, method, 'not a CRI method this client knows');
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const channel = this.channel();
    this.requests += 1;
    const started = process.hrtime.bigint();
    let code: number = GrpcCode.OK;
    try {
      let body: Buffer;
      try {
        body = encodeMessage(rpc.request, request as Decoded);
      } catch (err) {
        throw new GrpcStatusError(GrpcCode.INTERNAL, `cannot encode the ${rpc.request.name}: ${(err as Error).message}`, { cause: err });
      }
      const answer = await channel.unary(criMethodPath(api, method), body, timeoutMs);
      let value: CriMethods[M][1];
      try {
        value = this.decode(method, answer) as unknown as CriMethods[M][1];
      } catch (err) {
        const why = err instanceof DecodeError ? err.message : String(err);
        throw new GrpcStatusError(GrpcCode.INTERNAL, `cannot decode the ${rpc.response.name}: ${why}`, { cause: err });
      }
      if (api === 'v1' && !this.apiConfirmed && this.apiInUse === 'v1') this.apiConfirmed = true;
      return value;
    } catch (err) {
      code = err instanceof GrpcStatusError ? err.grpcCode : GrpcCode.UNKNOWN;
      const wrapped = this.wrap(method, api, code, timeoutMs, err);
      this.failedChannel.set(wrapped, channel);
      throw wrapped;
    } finally {
      this.observe(method, grpcCodeName(code), Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** The response decoded; the lists asked every collection through their memo. Throws DecodeError. */
  private decode(method: CriMethod, answer: Buffer): Decoded {
    const def = CRI_RPCS[method].response;
    if (!MEMOISED_LISTS.has(method)) return decodeMessage(def, answer);
    let memo = this.memos.get(method);
    if (!memo) this.memos.set(method, (memo = new ListMemo(def)));
    return memo.decode(answer);
  }

  private wrap(method: string, api: CriApi, code: number, timeoutMs: number, err: unknown): CriCallError {
    const details = err instanceof GrpcStatusError ? err.details : err instanceof Error ? err.message : String(err);
    let message: string;
    switch (code) {
      case GrpcCode.DEADLINE_EXCEEDED:
        message = `no answer within the ${timeoutMs} ms deadline (runtime ${api}; DEADLINE_EXCEEDED)`;
        break;
      case GrpcCode.UNAVAILABLE:
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
    this.channelInUse?.close();
    this.channelInUse = null;
  }
}
