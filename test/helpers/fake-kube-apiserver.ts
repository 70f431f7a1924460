/**
 * A stand-in for kube-apiserver (none can be installed on these machines): an HTTPS server that speaks the
 * Kubernetes API's real list and watch protocol for the chaos-mesh.org/v1alpha1 resources, so the agent's real
 * client (@kubernetes/client-node, through a kubeconfig) talks to it exactly as to a cluster:
 * - HTTPS with a self-signed certificate (openssl) given to clients as `certificate-authority-data`;
 *   `Authorization: Bearer <token>` required (401 Status otherwise), 403 for resources made forbidden (RBAC);
 * - lists: `{kind: <Kind>List, apiVersion, metadata: {resourceVersion, continue?, remainingItemCount?}, items}`,
 *   cluster-wide or per namespace, `limit` + `continue` paging, 410 Expired for a `resourceVersion` or continue
 *   token older than the compaction point;
 * - watches (`?watch=1|true`): a chunked stream of `{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object"}`
 *   lines; from `resourceVersion` the history after it is replayed, without one every object is sent as ADDED;
 *   `allowWatchBookmarks=true` adds BOOKMARK events; `timeoutSeconds` ends the stream; a version older than the
 *   compaction point gets an ERROR event carrying a Status 410 (what kube-apiserver does), then the end;
 * - the data (fake-kube-store.ts): one global resourceVersion counter (etcd's revision), generation bumped on
 *   spec changes, uid and creationTimestamp set on create, the history watches replay, compaction.
 * Test controls: create/update/remove objects, compact the history, end every watch, kill (every connection
 * destroyed, port closed: what a client sees when the process dies) and restart on the same port with the same
 * data, answer watch requests otherwise (`watchAnswer`: an HTTP error Status, or never any headers, as an API server
 * or load balancer that accepts the connection and then hangs; `held` says which of those are still open). What it
 * does not do: field/label selectors, server-side apply, admission, RBAC beyond `forbid`,
 * consistent snapshots across pages (a continued list reads the current data).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { API_VERSION, CHAOS_MESH_KINDS, GROUP, KubeStore, kubeStatus as status, VERSION, type KubeEvent, type KubeObject } from './fake-kube-store.js';

export { API_VERSION, CHAOS_MESH_KINDS, GROUP, VERSION, type KubeObject } from './fake-kube-store.js';

const run = promisify(execFile);

interface Watcher {
  plural: string;
  namespace: string | null;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
}

export interface RequestRecord {
  path: string;
  query: Record<string, string>;
  status: number;
  watch: boolean;
}

/** A self-signed certificate for 127.0.0.1 / localhost (also its own CA). */
export async function selfSignedCert(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cna-kube-tls-'));
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=fake-kube-apiserver',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE',
    ], { timeout: 20_000 });
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How a watch request is answered instead of streaming: never (no headers), or with an HTTP error Status. */
export type WatchAnswer = 'hold' | { code: number; reason: string; message: string };
/** A watch request left without an answer; `open` until the client closes its connection. */
export type HeldWatch = { query: Record<string, string>; open: boolean };

export interface FakeKubeOptions {
  /** Bearer token clients must send (default: random). */
  token?: string;
  /** BOOKMARK period for watches that allow them (default 1 s). */
  bookmarkIntervalMs?: number;
}

export class FakeKubeApiServer {
  readonly token: string;
  readonly requests: RequestRecord[] = [];
  private readonly store = new KubeStore();
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private readonly forbidden = new Set<string>();
  /** Per resource, the highest resourceVersion a BOOKMARK written to one of its watch streams carried. */
  private readonly bookmarkedRv = new Map<string, number>();
  private server: Server | null = null;
  private portNumber = 0;
  /** Delay before answering lists (a slow API server). */
  listDelayMs = 0;
  /** Called with each request before it is answered (tests use it to act at a precise point). */
  onRequest: ((rec: RequestRecord) => void) | null = null;
  /** Consulted for each watch request: null streams it as usual. */
  watchAnswer: ((rec: RequestRecord) => WatchAnswer | null) | null = null;
  /** Every watch request `watchAnswer` held, in order. */
  readonly held: HeldWatch[] = [];

  private constructor(private readonly tls: { key: string; cert: string }, private readonly opts: FakeKubeOptions) {
    this.token = opts.token ?? randomUUID();
    // Every write reaches the open watches of its resource (and namespace).
    this.store.subscribe((plural: string, ev: KubeEvent) => {
      for (const w of this.watchers) {
        if (w.plural === plural && (w.namespace === null || w.namespace === ev.object.metadata.namespace)) this.send(w, ev.type, ev.object);
      }
    });
  }

  static async start(opts: FakeKubeOptions = {}): Promise<FakeKubeApiServer> {
    const s = new FakeKubeApiServer(await selfSignedCert(), opts);
    await s.listen(0);
    return s;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `https://127.0.0.1:${this.portNumber}`;
  }

  get caPem(): string {
    return this.tls.cert;
  }

  get resourceVersion(): number {
    return this.store.rv;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** A kubeconfig (JSON is valid YAML) pointing at this server with its CA and token. */
  kubeconfig(token = this.token): Record<string, unknown> {
    return {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.tls.cert).toString('base64') } }],
      users: [{ name: 'fake', user: { token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    };
  }

  async writeKubeconfig(path: string, token = this.token): Promise<string> {
    await writeFile(path, JSON.stringify(this.kubeconfig(token), null, 2), { mode: 0o600 });
    return path;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Data

  create(plural: string, obj: KubeObject): KubeObject {
    return this.store.create(plural, obj);
  }

  /** Replace an object (spec and/or status); generation is bumped when the spec changed. */
  update(plural: string, obj: KubeObject): KubeObject {
    return this.store.update(plural, obj);
  }

  remove(plural: string, namespace: string, name: string): void {
    this.store.remove(plural, namespace, name);
  }

  get(plural: string, namespace: string, name: string): KubeObject | undefined {
    return this.store.get(plural, namespace, name);
  }

  /** Expire every resourceVersion up to now (etcd compaction): old watches and lists get 410. */
  compact(): void {
    this.store.compact();
    for (const w of [...this.watchers]) {
      this.send(w, 'ERROR', status(410, 'Expired', `too old resource version: (${this.store.compactedRv})`));
      this.endWatch(w);
    }
  }

  /** Answer 403 Forbidden for this resource (an RBAC rule missing). */
  forbid(plural: string, on = true): void {
    if (on) this.forbidden.add(plural);
    else this.forbidden.delete(plural);
  }

  /**
   * The highest resourceVersion a BOOKMARK has carried to a watch of `plural` (0 before any). A client reads its
   * stream in order, so a watch ended after this returns has delivered that bookmark before its end.
   */
  bookmarked(plural: string): number {
    return this.bookmarkedRv.get(plural) ?? 0;
  }

  /** End every open watch gracefully (as the server-side watch timeout does). */
  endWatches(): void {
    for (const w of [...this.watchers]) this.endWatch(w);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Lifecycle

  private listen(port: number): Promise<void> {
    const server = createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('tlsClientError', () => undefined); // clients that refuse our certificate: their problem
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        const addr = server.address();
        this.portNumber = typeof addr === 'object' && addr ? addr.port : port;
        resolve();
      });
    });
  }

  /** What a client sees when the API server process dies: every connection reset, nothing listening. */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const w of this.watchers) for (const t of w.timers) clearInterval(t);
    this.watchers.clear();
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Listen again on the same port, with the same data and history. */
  async restart(): Promise<void> {
    if (this.server) return;
    for (let i = 0; ; i++) {
      try {
        await this.listen(this.portNumber);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  stop(): Promise<void> {
    return this.kill();
  }

  // ------------------------------------------------------------------------------------------------------------
  // HTTP

  private reply(req: IncomingMessage, res: ServerResponse, code: number, body: unknown, rec: RequestRecord): void {
    rec.status = code;
    this.requests.push(rec);
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const query = Object.fromEntries(url.searchParams.entries());
    const watch = query.watch === 'true' || query.watch === '1';
    const rec: RequestRecord = { path: url.pathname, query, status: 0, watch };
    this.onRequest?.(rec);
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.reply(req, res, 401, status(401, 'Unauthorized', 'Unauthorized'), rec);
    if (req.method !== 'GET') return this.reply(req, res, 405, status(405, 'MethodNotAllowed', `${req.method} is not supported by this server`), rec);
    if (url.pathname === '/version') return this.reply(req, res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake' }, rec);
    const prefix = `/apis/${GROUP}/${VERSION}/`;
    if (!url.pathname.startsWith(prefix)) return this.reply(req, res, 404, status(404, 'NotFound', 'the server could not find the requested resource'), rec);
    const parts = url.pathname.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent);
    let namespace: string | null = null;
    let plural: string | undefined;
    let name: string | null = null;
    if (parts[0] === 'namespaces' && parts.length >= 3) {
      namespace = parts[1]!;
      plural = parts[2];
      name = parts[3] ?? null;
      if (parts.length > 4) plural = undefined;
    } else if (parts.length === 1) {
      plural = parts[0];
    }
    if (plural === undefined || !this.store.has(plural)) {
      return this.reply(req, res, 404, status(404, 'NotFound', 'the server could not find the requested resource'), rec);
    }
    if (this.forbidden.has(plural)) {
      return this.reply(req, res, 403, status(403, 'Forbidden', `${plural}.${GROUP} is forbidden: User cannot list resource "${plural}" in API group "${GROUP}" at the cluster scope`), rec);
    }
    if (name !== null) {
      const o = this.store.get(plural, namespace!, name);
      if (!o) return this.reply(req, res, 404, status(404, 'NotFound', `${plural}.${GROUP} "${name}" not found`), rec);
      return this.reply(req, res, 200, o, rec);
    }
    const instead = watch ? this.watchAnswer?.(rec) : null;
    if (instead === 'hold') return this.hold(req, rec);
    if (instead) return this.reply(req, res, instead.code, status(instead.code, instead.reason, instead.message), rec);
    if (watch) return this.startWatch(plural, namespace, query, res, rec);
    const answer = (): void => this.list(req, res, plural!, namespace, query, rec);
    if (this.listDelayMs > 0) setTimeout(answer, this.listDelayMs);
    else answer();
  }

  private list(req: IncomingMessage, res: ServerResponse, plural: string, namespace: string | null, query: Record<string, string>, rec: RequestRecord): void {
    if (res.destroyed) return;
    let offset = 0;
    let listRv = this.store.rv;
    if (query.continue) {
      let token: { rv: number; offset: number; epoch: number };
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString('utf8')) as { rv: number; offset: number; epoch: number };
      } catch {
        return this.reply(req, res, 400, status(400, 'BadRequest', 'continue key is not valid'), rec);
      }
      if (token.epoch !== this.store.epoch) {
        return this.reply(req, res, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.'), rec);
      }
      offset = token.offset;
      listRv = token.rv;
    } else if (query.resourceVersion && query.resourceVersion !== '0') {
      const want = Number(query.resourceVersion);
      if (!Number.isInteger(want)) return this.reply(req, res, 400, status(400, 'BadRequest', `invalid resource version "${query.resourceVersion}"`), rec);
      if (want < this.store.compactedRv) {
        return this.reply(req, res, 410, status(410, 'Expired', `The resourceVersion for the provided list is too old.`), rec);
      }
    }
    const all = this.store.items(plural, namespace);
    const limit = query.limit ? Number(query.limit) : 0;
    const page = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (limit > 0 && offset + limit < all.length) {
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, offset: offset + limit, epoch: this.store.epoch })).toString('base64url');
      metadata.remainingItemCount = all.length - offset - limit;
    }
    this.reply(req, res, 200, { kind: `${CHAOS_MESH_KINDS[plural]}List`, apiVersion: API_VERSION, metadata, items: page }, rec);
  }

  private hold(req: IncomingMessage, rec: RequestRecord): void {
    const h: HeldWatch = { query: rec.query, open: true };
    this.requests.push(rec);
    this.held.push(h);
    req.socket.once('close', () => void (h.open = false));
  }

  /** Write one event to a watch stream; false when the stream is already closed. */
  private send(w: Watcher, type: string, object: unknown): boolean {
    if (w.res.writableEnded || w.res.destroyed) return false;
    w.res.write(`${JSON.stringify({ type, object })}\n`);
    return true;
  }

  private endWatch(w: Watcher): void {
    for (const t of w.timers) clearInterval(t);
    this.watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  private startWatch(plural: string, namespace: string | null, query: Record<string, string>, res: ServerResponse, rec: RequestRecord): void {
    rec.status = 200;
    this.requests.push(rec);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const w: Watcher = { plural, namespace, res, timers: [] };
    const from = query.resourceVersion ?? '';
    if (from !== '' && from !== '0') {
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < this.store.compactedRv) {
        this.send(w, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${this.store.compactedRv})`));
        res.end();
        return;
      }
      for (const ev of this.store.eventsAfter(plural, rv, namespace)) this.send(w, ev.type, ev.object);
    } else {
      for (const o of this.store.items(plural, namespace)) this.send(w, 'ADDED', o);
    }
    this.watchers.add(w);
    res.once('close', () => {
      for (const t of w.timers) clearInterval(t);
      this.watchers.delete(w);
    });
    if (query.allowWatchBookmarks === 'true') {
      w.timers.push(setInterval(() => {
        const rv = this.store.rv;
        if (this.send(w, 'BOOKMARK', { kind: CHAOS_MESH_KINDS[plural], apiVersion: API_VERSION, metadata: { resourceVersion: String(rv) } })) {
          this.bookmarkedRv.set(plural, Math.max(rv, this.bookmarked(plural)));
        }
      }, this.opts.bookmarkIntervalMs ?? 1000));
    }
    const timeout = Number(query.timeoutSeconds ?? 0);
    if (timeout > 0) w.timers.push(setTimeout(() => this.endWatch(w), timeout * 1000));
  }
}
