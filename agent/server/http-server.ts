/**
 * The exporter's HTTP server (node:http): GET/HEAD /metrics, /healthz, /readyz, /debug/pods and
 * /debug/pods/{namespace}/{pod} (/debug/pods//{pod} and /debug/pods/-/{pod}: a pod without a namespace); 404 for
 * unknown paths, 405 for other methods, 413 for request bodies, 400 for garbage and bad pod names, 431 for oversized
 * headers. /debug/* per DebugAccess (auth.ts): 404 when off, 403 when locked, 401
 * without the right bearer token.
 * Answers from the scheduler's latest collection: a scrape never triggers work (before the first collection
 * finishes, /metrics waits for it, up to `firstCollectionWaitMs`). No per-request logging at info.
 *
 * Abuse bounds (SERVER_LIMITS, test/server/http-abuse.test.ts): headers must arrive within 5 s and a request within
 * 10 s (slowloris), an idle keep-alive connection is closed after 5 s and any connection without traffic after
 * 15 s (a client that stops reading), at most 256 connections at once (beyond, new ones are closed at accept, so
 * a flood costs file descriptors and memory for 256 sockets at most), 8 KiB of headers, no request bodies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.js';
import type { Published } from '../scheduler.js';
import type { Snapshot } from '../snapshot.js';
import type { DebugAccess } from './auth.js';
import { acceptsGzip, wantsOpenMetrics } from './negotiate.js';
import { podsJson } from './pod-document.js';
import { describePod, podName, type PodName } from '../pod-name.js';

/** What the server reads: the scheduler (CollectionScheduler satisfies it). */
export interface ExporterState {
  readonly latest: Published | null;
  waitForFirst(timeoutMs: number): Promise<Published | null>;
}

export interface ServerOptions {
  state: ExporterState;
  /** /debug/*: off, locked, insecure or token (--debug, --debug-insecure, --debug-token-file). */
  debug: DebugAccess;
  log: Logger;
  /** --max-rules-per-pod: iptables rules per pod in /debug/pods at most. */
  maxRulesPerPod?: number;
  /** How long /metrics waits for the first collection (default 8 s, under Prometheus' 10 s scrape timeout). */
  firstCollectionWaitMs?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  idleSocketTimeoutMs?: number;
  maxConnections?: number;
}

export const SERVER_LIMITS = {
  maxHeaderSize: 8 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  /** A connection with no traffic either way for this long is destroyed (a client that stopped reading). */
  idleSocketTimeoutMs: 15_000,
  maxConnections: 256,
};

const ALLOW = 'GET, HEAD';

function send(res: ServerResponse, req: IncomingMessage, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(buf.length), ...headers });
  if (req.method === 'HEAD') res.end();
  else res.end(buf);
}

function readiness(p: Published | null): { ready: boolean; reason: string } {
  if (!p) return { ready: false, reason: 'no collection has finished yet' };
  const up = p.snapshot.runtimes.filter((r) => r.up);
  if (up.length > 0) return { ready: true, reason: `${up.length} runtime(s) up` };
  if (p.snapshot.runtimes.length === 0) return { ready: false, reason: 'no container runtime endpoint found' };
  const why = p.snapshot.runtimes.map((r) => `${r.endpoint}: ${r.error ?? 'down'}`).join('; ');
  return { ready: false, reason: `no runtime is up (${why})` };
}

export class AgentServer {
  readonly server: Server;
  /**
   * The /debug/pods document of each published snapshot, built on the first request and reused until the next
   * collection replaces the snapshot (the entry goes with it): ~1 MB of JSON at 110 pods is built once per
   * collection at most, not once per request.
   */
  private readonly allPodsDoc = new WeakMap<Snapshot, Buffer>();

  constructor(private readonly opts: ServerOptions) {
    this.server = createServer(
      {
        maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
        headersTimeout: opts.headersTimeoutMs ?? SERVER_LIMITS.headersTimeoutMs,
        requestTimeout: opts.requestTimeoutMs ?? SERVER_LIMITS.requestTimeoutMs,
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? SERVER_LIMITS.keepAliveTimeoutMs,
        connectionsCheckingInterval: 1_000,
      },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          opts.log.warn({ err: errorMessage(err), url: req.url?.slice(0, 200) }, 'request failed');
          if (!res.headersSent) send(res, req, 500, 'internal error\n');
          else res.destroy();
        });
      },
    );
    this.server.maxConnections = opts.maxConnections ?? SERVER_LIMITS.maxConnections;
    this.server.setTimeout(opts.idleSocketTimeoutMs ?? SERVER_LIMITS.idleSocketTimeoutMs); // no 'timeout' listener: the socket is destroyed
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      opts.log.debug({ err: err.code ?? err.message }, 'client error');
      if (socket.writable && !socket.destroyed) {
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      } else socket.destroy();
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stop accepting, let requests in progress finish for up to `graceMs`, then drop every connection. */
  close(graceMs = 500): Promise<void> {
    return new Promise((resolve) => {
      const force = setTimeout(() => this.server.closeAllConnections(), graceMs);
      force.unref();
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const route = this.route(path);
    if (route === null) return send(res, req, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, req, 405, 'method not allowed\n', { Allow: ALLOW, Connection: 'close' });
    const length = Number(req.headers['content-length'] ?? '0');
    if (req.headers['transfer-encoding'] !== undefined || !(length === 0)) {
      return send(res, req, 413, 'request body not accepted\n', { Connection: 'close' });
    }
    switch (route.kind) {
      case 'metrics':
        return this.metrics(req, res);
      case 'healthz':
        return send(res, req, 200, 'ok\n');
      case 'readyz': {
        const r = readiness(this.opts.state.latest);
        return send(res, req, r.ready ? 200 : 503, `${r.ready ? 'ready' : 'not ready'}: ${r.reason}\n`);
      }
      case 'debug':
        return this.debugRoute(req, res, route.namespace, route.pod);
    }
  }

  private route(path: string):
    | { kind: 'metrics' | 'healthz' | 'readyz' }
    | { kind: 'debug'; namespace: string | null; pod: string | null }
    | null {
    if (path === '/metrics') return { kind: 'metrics' };
    if (path === '/healthz') return { kind: 'healthz' };
    if (path === '/readyz') return { kind: 'readyz' };
    if (this.opts.debug.mode === 'off') return null;
    if (path === '/debug/pods') return { kind: 'debug', namespace: null, pod: null };
    // An empty namespace segment (/debug/pods//NAME) is a pod without one; the names are checked in debugRoute,
    // after the token, as the CLI checks them (agent/pod-name.ts).
    const m = /^\/debug\/pods\/([^/]*)\/([^/]*)$/.exec(path);
    if (!m) return null;
    try {
      return { kind: 'debug', namespace: decodeURIComponent(m[1]!), pod: decodeURIComponent(m[2]!) };
    } catch (err) {
      this.opts.log.debug({ err: errorMessage(err) }, 'bad percent-encoding in debug path');
      return null;
    }
  }

  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const published = this.opts.state.latest ?? (await this.opts.state.waitForFirst(this.opts.firstCollectionWaitMs ?? 8_000));
    if (!published) return send(res, req, 503, 'no collection has finished yet\n', { 'Retry-After': '5' });
    const om = wantsOpenMetrics(req.headers.accept);
    const gz = acceptsGzip(req.headers['accept-encoding']);
    // A client that left while the first collection was awaited: its 'close' has passed, a hold would never end.
    if (req.socket.destroyed) return;
    // The body is not reused by a later collection's rendering until this response is done or its connection closed.
    res.once('close', published.metrics.hold());
    let body: Buffer;
    try {
      body = await published.metrics.body(om ? 'openmetrics' : 'prometheus', gz);
    } catch (err) {
      // A variant rendered on demand failed (a bug: renderings of the same registry succeeded before it).
      this.opts.log.error({ err: errorMessage(err) }, 'rendering the metrics failed');
      return send(res, req, 500, 'rendering the metrics failed\n');
    }
    const headers: Record<string, string> = {
      'Content-Type': om ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
      Vary: 'Accept, Accept-Encoding',
      'Last-Modified': new Date(published.snapshot.finishedAt * 1000).toUTCString(),
    };
    if (gz) headers['Content-Encoding'] = 'gzip';
    send(res, req, 200, body, headers);
  }

  private async debugRoute(req: IncomingMessage, res: ServerResponse, namespace: string | null, pod: string | null): Promise<void> {
    const access = this.opts.debug;
    if (access.mode === 'locked') {
      return send(res, req, 403, 'forbidden: /debug/* is served only with --debug-token-file (bearer token) or --debug-insecure\n');
    }
    if (access.mode === 'token' && !(await access.token.check(req.headers.authorization))) {
      return send(res, req, 401, 'unauthorized: send Authorization: Bearer <token>\n', {
        'WWW-Authenticate': 'Bearer realm="chaos-node-agent debug"',
      });
    }
    let wanted: PodName | null = null;
    if (namespace !== null) {
      try {
        wanted = podName(namespace, pod ?? '');
      } catch (err) {
        return send(res, req, 400, `${JSON.stringify({ error: errorMessage(err) })}\n`, { 'Content-Type': 'application/json; charset=utf-8' });
      }
    }
    const published = this.opts.state.latest;
    if (!published) return send(res, req, 503, 'no collection has finished yet\n', { 'Retry-After': '5' });
    const headers = {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Last-Modified': new Date(published.snapshot.finishedAt * 1000).toUTCString(),
    };
    if (wanted === null) {
      const snapshot = published.snapshot;
      let doc = this.allPodsDoc.get(snapshot);
      if (!doc) {
        doc = Buffer.from(podsJson(snapshot.pods, { ...this.docOptions(), host: snapshot.host ?? null, stale: snapshot.stale ?? [] }), 'utf8');
        this.allPodsDoc.set(snapshot, doc);
      }
      return send(res, req, 200, doc, headers);
    }
    const pods = published.snapshot.pods.filter((p) => p.namespace === wanted.namespace && p.name === wanted.name);
    if (pods.length === 0) {
      return send(res, req, 404, `${JSON.stringify({ error: `pod ${describePod(wanted)} not found on this node` })}\n`, headers);
    }
    send(res, req, 200, podsJson(pods, this.docOptions()), headers);
  }

  private docOptions(): { maxRulesPerPod?: number } {
    return this.opts.maxRulesPerPod !== undefined ? { maxRulesPerPod: this.opts.maxRulesPerPod } : {};
  }
}
