/**
 * Unary gRPC calls over HTTP/2 on a unix socket, with node:http2 (grpc.github.io/grpc/core/md_doc_PROTOCOL-HTTP2):
 * POST /<service>/<method>, content-type application/grpc, te: trailers, grpc-timeout; one length-prefixed
 * message each way (1 byte compressed flag = 0, 4 bytes big-endian length); the status in the trailers (grpc-status,
 * grpc-message percent-encoded) or in the headers of a trailers-only answer.
 *
 * Why not @grpc/grpc-js: loading it and protobufjs costs ~0.15-0.25 s of CPU, more than a whole CLI answer may take
 * (bench/cli-start.ts). This does only what the agent needs: one connection per channel, opened on first use and
 * again after it closed (a runtime restart), a deadline per call (connection included), message size caps both
 * ways, no compression (none is advertised, a compressed answer is an error), and the failure -> gRPC code mapping
 * of the spec (connection failures UNAVAILABLE, HTTP statuses and RST_STREAM codes as in doc/http-grpc-status-mapping).
 * The connection keeps the process alive only while a call is in flight.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { AgentError } from '../../errors.js';

/** gRPC status code names by number (grpc/doc/statuscodes.md). */
export const GRPC_CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;
export type GrpcCodeName = (typeof GRPC_CODE_NAMES)[number];
export const GrpcCode = Object.fromEntries(GRPC_CODE_NAMES.map((n, i) => [n, i])) as Record<GrpcCodeName, number>;

export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? `CODE_${code}`;
}

/** A call that ended with a non-OK status: `grpcCode` as the server (or the mapping of the spec) gave it. */
export class GrpcStatusError extends AgentError {
  readonly grpcCode: number;
  readonly details: string;
  constructor(grpcCode: number, details: string, options?: { cause?: unknown }) {
    super(`GRPC_${grpcCodeName(grpcCode)}`, `${details} (${grpcCodeName(grpcCode)})`, options);
    this.grpcCode = grpcCode;
    this.details = details;
  }
}

/** HTTP status of a non-gRPC answer -> gRPC code (doc/http-grpc-status-mapping.md). */
export function httpStatusToGrpc(status: number): number {
  if (status === 400) return GrpcCode.INTERNAL;
  if (status === 401) return GrpcCode.UNAUTHENTICATED;
  if (status === 403) return GrpcCode.PERMISSION_DENIED;
  if (status === 404) return GrpcCode.UNIMPLEMENTED;
  if (status === 429 || status === 502 || status === 503 || status === 504) return GrpcCode.UNAVAILABLE;
  return GrpcCode.UNKNOWN;
}

/** RST_STREAM error code -> gRPC code (same document). */
export function rstCodeToGrpc(rst: number): number {
  const c = http2.constants;
  if (rst === c.NGHTTP2_REFUSED_STREAM) return GrpcCode.UNAVAILABLE;
  if (rst === c.NGHTTP2_CANCEL) return GrpcCode.CANCELLED;
  if (rst === c.NGHTTP2_ENHANCE_YOUR_CALM) return GrpcCode.RESOURCE_EXHAUSTED;
  if (rst === c.NGHTTP2_INADEQUATE_SECURITY) return GrpcCode.PERMISSION_DENIED;
  return GrpcCode.INTERNAL;
}

function decodeGrpcMessage(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v.join(',') : (v ?? '');
  try {
    return decodeURIComponent(s);
  } catch (err) {
    void err; // not valid percent-encoding: shown as sent
    return s;
  }
}

/** One gRPC length-prefixed message: flag 0 (not compressed), u32 big-endian length, the message. */
export function frameMessage(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/**
 * Length-prefixed messages out of DATA frames; at most `max` bytes per message and at most `maxMessages` messages: a
 * byte past the last message allowed is an error at once, so a unary call holds one message at most, never what a
 * broken server streams until the deadline.
 */
export class MessageFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private failed = false;
  readonly messages: Buffer[] = [];

  constructor(
    private readonly max: number,
    private readonly maxMessages = Infinity,
  ) {}

  /** Throws GrpcStatusError on a compressed or oversized message, or data past `maxMessages`; ignores data after. */
  push(chunk: Buffer): void {
    if (this.failed) return;
    try {
      this.take(chunk);
    } catch (err) {
      this.failed = true;
      this.pending = [];
      this.pendingBytes = 0;
      throw err;
    }
  }

  private take(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      // INTERNAL, as grpc-java and grpc-go clients report it; not the spec's UNIMPLEMENTED for a cardinality
      // violation, which the CRI client takes for "no such API version" (cri-client.ts falls back to v1alpha2).
      if (this.messages.length >= this.maxMessages && this.pendingBytes > 0) {
        throw new GrpcStatusError(GrpcCode.INTERNAL, `more than ${this.maxMessages} response message${this.maxMessages === 1 ? '' : 's'} (a unary call has one)`);
      }
      if (this.pendingBytes < 5) return;
      const head = this.peek(5);
      if (head[0] !== 0) throw new GrpcStatusError(GrpcCode.INTERNAL, `compressed message (flag ${head[0]}) but no compression was negotiated`);
      const len = head.readUInt32BE(1);
      if (len > this.max) throw new GrpcStatusError(GrpcCode.RESOURCE_EXHAUSTED, `Received message larger than max (${len} vs. ${this.max})`);
      if (this.pendingBytes < 5 + len) return;
      const all = this.peek(5 + len);
      this.messages.push(Buffer.from(all.subarray(5, 5 + len)));
      this.drop(5 + len);
    }
  }

  /** Bytes of an unfinished message left at the end of the stream. */
  get leftover(): number {
    return this.pendingBytes;
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!;
  }

  private drop(n: number): void {
    const first = Buffer.concat(this.pending);
    this.pending = first.length > n ? [first.subarray(n)] : [];
    this.pendingBytes -= n;
  }
}

export interface GrpcChannelOptions {
  socketPath: string;
  /** :authority (crictl and grpc-js use "localhost" on unix sockets). */
  authority?: string;
  maxReceiveBytes: number;
  maxSendBytes: number;
}

interface Connection {
  session: http2.ClientHttp2Session;
  /** Calls in flight (the connection keeps the process alive while there are some). */
  calls: Set<(err: GrpcStatusError) => void>;
  /** Why the connection failed (error event), when it did. */
  error: Error | null;
}

export class GrpcChannel {
  private conn: Connection | null = null;
  private closed = false;

  constructor(private readonly opts: GrpcChannelOptions) {}

  /** One unary call; resolves to the response message's bytes, rejects with GrpcStatusError. */
  unary(path: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new GrpcStatusError(GrpcCode.CANCELLED, 'channel closed'));
    if (message.length > this.opts.maxSendBytes) {
      return Promise.reject(new GrpcStatusError(GrpcCode.RESOURCE_EXHAUSTED, `Sent message larger than max (${message.length} vs. ${this.opts.maxSendBytes})`));
    }
    return new Promise<Buffer>((resolve, reject) => {
      const conn = this.connection();
      let done = false;
      let stream: http2.ClientHttp2Stream | null = null;
      const finish = (err: GrpcStatusError | null, value?: Buffer): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        conn.calls.delete(fail);
        if (conn.calls.size === 0 && !conn.session.destroyed) conn.session.unref();
        if (err) {
          if (stream && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(err);
        } else resolve(value!);
      };
      const fail = (err: GrpcStatusError): void => finish(err);
      const timer = setTimeout(() => finish(new GrpcStatusError(GrpcCode.DEADLINE_EXCEEDED, `Deadline exceeded after ${timeoutMs} ms`)), timeoutMs);
      conn.calls.add(fail);
      conn.session.ref();
      if (conn.error) {
        finish(this.unavailable(conn));
        return;
      }
      try {
        stream = conn.session.request({
          ':method': 'POST',
          ':scheme': 'http',
          ':path': path,
          ':authority': this.opts.authority ?? 'localhost',
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
          'user-agent': 'chaos-node-agent',
        });
      } catch (err) {
        finish(new GrpcStatusError(GrpcCode.UNAVAILABLE, `cannot start a call: ${(err as Error).message}`, { cause: err }));
        return;
      }
      this.exchange(conn, stream, message, finish);
    });
  }

  /** Stop using the connection: calls in flight finish on it, the next call opens a new one. */
  reset(): void {
    const c = this.conn;
    this.conn = null;
    if (c && !c.session.destroyed) c.session.close();
  }

  /** Close for good: calls in flight fail (UNAVAILABLE), later calls fail (CANCELLED). */
  close(): void {
    this.closed = true;
    const c = this.conn;
    this.conn = null;
    if (!c) return;
    for (const fail of [...c.calls]) fail(new GrpcStatusError(GrpcCode.UNAVAILABLE, 'the client was closed'));
    c.session.destroy();
  }

  private exchange(conn: Connection, stream: http2.ClientHttp2Stream, message: Buffer, finish: (err: GrpcStatusError | null, value?: Buffer) => void): void {
    const framer = new MessageFramer(this.opts.maxReceiveBytes, 1);
    let httpStatus = 0;
    let grpcStatus: number | null = null;
    let grpcMessage = '';
    let contentType = '';
    let streamError: Error | null = null;
    const status = (h: http2.IncomingHttpHeaders): void => {
      const s = h['grpc-status'];
      if (s === undefined) return;
      const n = Number(Array.isArray(s) ? s[0] : s);
      grpcStatus = Number.isInteger(n) && n >= 0 ? n : GrpcCode.UNKNOWN;
      grpcMessage = decodeGrpcMessage(h['grpc-message']);
    };
    stream.on('response', (h) => {
      httpStatus = Number(h[':status'] ?? 0);
      contentType = String(h['content-type'] ?? '');
      status(h);
    });
    stream.on('trailers', status);
    stream.on('data', (chunk: Buffer) => {
      try {
        framer.push(chunk);
      } catch (err) {
        finish(err as GrpcStatusError);
      }
    });
    stream.on('error', (err) => {
      streamError = err;
    });
    stream.on('close', () => {
      if (grpcStatus === null) {
        if (conn.error || (streamError as NodeJS.ErrnoException | null)?.code === 'ERR_HTTP2_STREAM_CANCEL' || conn.session.destroyed) {
          finish(this.unavailable(conn, streamError));
        } else if (httpStatus !== 0 && (httpStatus !== 200 || !contentType.startsWith('application/grpc'))) {
          finish(new GrpcStatusError(httpStatusToGrpc(httpStatus), `Received HTTP status ${httpStatus} (content-type ${JSON.stringify(contentType)})`));
        } else if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
          finish(new GrpcStatusError(rstCodeToGrpc(stream.rstCode), `stream reset by the runtime (HTTP/2 error ${stream.rstCode})`, { cause: streamError }));
        } else {
          finish(new GrpcStatusError(GrpcCode.INTERNAL, 'the call ended without a gRPC status', { cause: streamError }));
        }
        return;
      }
      if (grpcStatus !== GrpcCode.OK) finish(new GrpcStatusError(grpcStatus, grpcMessage || `status ${grpcCodeName(grpcStatus)} without a message`));
      else if (framer.messages.length !== 1 || framer.leftover !== 0) {
        finish(new GrpcStatusError(GrpcCode.INTERNAL, `a unary call got ${framer.messages.length} response messages${framer.leftover ? ` and ${framer.leftover} stray bytes` : ''}`));
      } else finish(null, framer.messages[0]!);
    });
    stream.end(frameMessage(message));
  }

  private unavailable(conn: Connection, streamError?: Error | null): GrpcStatusError {
    const cause = conn.error ?? (streamError as { cause?: Error } | null | undefined)?.cause ?? streamError ?? null;
    const why = cause ? cause.message : 'connection closed';
    return new GrpcStatusError(GrpcCode.UNAVAILABLE, why, { cause });
  }

  private connection(): Connection {
    const live = this.conn;
    if (live && !live.error && !live.session.closed && !live.session.destroyed) return live;
    const socketPath = this.opts.socketPath;
    const session = http2.connect(`http://${this.opts.authority ?? 'localhost'}`, {
      createConnection: () => net.connect(socketPath),
      settings: { enablePush: false },
    });
    const conn: Connection = { session, calls: new Set(), error: null };
    // Streams of a failed or closed connection close too, and their calls end as UNAVAILABLE there.
    const drop = (err: Error | null): void => {
      if (err) conn.error ??= err;
      if (this.conn === conn) this.conn = null;
    };
    session.on('error', (err) => drop(err));
    session.on('close', () => drop(null));
    // A GOAWAY: calls already started finish on this connection, new ones open another.
    session.on('goaway', () => {
      if (this.conn === conn) this.conn = null;
    });
    session.unref();
    this.conn = conn;
    return conn;
  }
}
