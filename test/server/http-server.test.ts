import { gunzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.js';
import { MetricsPipeline } from '../../agent/metrics/pipeline.js';
import { PersistentMetrics } from '../../agent/metrics/registry.js';
import { CollectionScheduler } from '../../agent/scheduler.js';
import { TokenFile, type DebugAccess } from '../../agent/server/auth.js';
import { AgentServer, type ServerOptions } from '../../agent/server/http-server.js';
import type { PodReport, Snapshot } from '../../agent/snapshot.js';
import { lintExposition, PROM_CLIENT_GAUGE_TOTALS, valueOf } from '../helpers/metrics-lint.js';
import { chaosPod, cleanPod, runtimeUp, snapshot } from '../metrics/fixtures.js';
import { nodeScaleSnapshot } from '../metrics/node-scale.js';
import { get } from './http-client.js';
import { slowClient } from './raw-http.js';

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

interface Started {
  server: AgentServer;
  scheduler: CollectionScheduler;
  port: number;
  collections: () => number;
}

async function start(opts: {
  delayMs?: number;
  /** Every collection also waits for this (the test decides when the collection ends, whatever the load). */
  gate?: Promise<void>;
  snap?: () => Snapshot;
  debug?: DebugAccess;
  waitMs?: number;
  limits?: Pick<ServerOptions, 'maxConnections' | 'idleSocketTimeoutMs' | 'headersTimeoutMs'>;
} = {}): Promise<Started> {
  const log = silentLogger();
  const persistent = new PersistentMetrics();
  const pipeline = new MetricsPipeline({ compatMetrics: true, persistent, log });
  let collections = 0;
  const scheduler = new CollectionScheduler({
    intervalMs: 60_000,
    collect: async (signal) => {
      collections += 1;
      await sleep(opts.delayMs ?? 0, undefined, { signal });
      await opts.gate;
      return (opts.snap ?? (() => snapshot([chaosPod(), cleanPod()])))();
    },
    process: (s, signal) => pipeline.process(s, signal),
    log,
  });
  const server = new AgentServer({ state: scheduler, debug: opts.debug ?? { mode: 'insecure' }, log, firstCollectionWaitMs: opts.waitMs ?? 5_000, ...opts.limits });
  const { port } = await server.listen('127.0.0.1', 0);
  return { server, scheduler, port, collections: () => collections };
}

/** Connections the server holds now. */
function connections(s: Started): Promise<number> {
  return new Promise<number>((resolve, reject) => s.server.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

async function stop(s: Started | undefined): Promise<void> {
  if (!s) return;
  await s.scheduler.stop();
  await s.server.close(100);
}

describe('AgentServer with a slow first collection', () => {
  let s: Started;
  // The first collection lasts until the test ends it (a fixed delay can run out before the scrapes arrive on a
  // loaded machine).
  let endCollection!: () => void;
  const gate = new Promise<void>((resolve) => {
    endCollection = resolve;
  });
  beforeAll(async () => {
    s = await start({ gate });
  });
  afterAll(async () => {
    endCollection();
    await stop(s);
  });

  it('is alive but not ready before the first collection', async () => {
    s.scheduler.start();
    const [health, ready] = await Promise.all([get(s.port, '/healthz'), get(s.port, '/readyz')]);
    expect([health.status, health.text]).toEqual([200, 'ok\n']);
    expect([ready.status, ready.text]).toEqual([503, 'not ready: no collection has finished yet\n']);
  });

  it('answers 50 concurrent scrapes during the collection with 200, and exactly one collection ran', async () => {
    expect(s.scheduler.collecting).toBe(true);
    const pending = Promise.all(Array.from({ length: 50 }, () => get(s.port, '/metrics')));
    // Every scrape is in and waiting for the collection; then it ends.
    for (const t0 = Date.now(); (await connections(s)) < 50;) {
      if (Date.now() - t0 > 30_000) throw new Error(`only ${await connections(s)} of 50 scrapes reached the server`);
      await sleep(20);
    }
    expect(s.scheduler.collecting).toBe(true);
    endCollection();
    const replies = await pending;
    expect(replies.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(s.collections()).toBe(1);
    expect(s.scheduler.collectionsStarted).toBe(1);
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    const text = replies[0]!.text;
    expect(valueOf(text, 'chaos_daemon_injection_active', { namespace: 'default', pod: 'web-1', kind: 'delay' })).toBe(1);
    expect(lintExposition(text, { allowNonCounterTotal: PROM_CLIENT_GAUGE_TOTALS })).toEqual([]);
    // More scrapes on the fresh snapshot trigger no work.
    await Promise.all(Array.from({ length: 10 }, () => get(s.port, '/metrics')));
    expect(s.collections()).toBe(1);
  });

  it('is ready once a runtime is up', async () => {
    const r = await get(s.port, '/readyz');
    expect([r.status, r.text]).toEqual([200, 'ready: 1 runtime(s) up\n']);
  });

  it('negotiates the Prometheus text format, OpenMetrics and gzip', async () => {
    const plain = await get(s.port, '/metrics');
    expect(plain.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept, Accept-Encoding');

    const om = await get(s.port, '/metrics', { headers: { Accept: PROMETHEUS_ACCEPT } });
    expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.text.endsWith('# EOF\n')).toBe(true);
    expect(om.text).toContain('# TYPE chaos_daemon_qdisc_bytes counter');

    const gz = await get(s.port, '/metrics', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString('utf8')).toBe(plain.text);
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);

    const head = await get(s.port, '/metrics', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(plain.body.length);
  });

  it('answers 404 for unknown paths, 405 for other methods, 413 for bodies', async () => {
    const nf = await get(s.port, '/nope');
    expect([nf.status, nf.text]).toEqual([404, 'not found\n']);
    expect((await get(s.port, '/metrics/')).status).toBe(404);
    const post = await get(s.port, '/metrics', { method: 'POST', body: 'x' });
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await get(s.port, '/debug/pods', { method: 'DELETE' })).status).toBe(405);
    const body = await get(s.port, '/metrics', { headers: { 'Content-Length': '5' }, body: 'hello' });
    expect(body.status).toBe(413);
  });

  it('serves the inspect --json document at /debug/pods and /debug/pods/{namespace}/{pod}', async () => {
    const all = await get(s.port, '/debug/pods');
    expect(all.status).toBe(200);
    expect(all.headers['content-type']).toBe('application/json; charset=utf-8');
    const doc = JSON.parse(all.text) as { pods: Record<string, unknown>[] };
    expect(doc.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['default/web-1', 'kube-system/dns-1']);
    expect(Object.keys(doc.pods[0]!)).toEqual(['namespace', 'name', 'runtime', 'netns', 'chaos', 'iptables', 'ipsets', 'tc', 'ipRules', 'dnsChaos', 'errors', 'reader', 'sources', 'spawns']);
    expect(doc.pods[0]!.netns).toEqual({ inode: 4026532000, path: '/proc/4241/ns/net' });
    expect(doc.pods[0]!.chaos).toEqual({ verdict: 'active', kinds: ['bandwidth', 'delay', 'loss', 'partition'], findings: ['bandwidth evidence', 'delay evidence', 'loss evidence', 'partition evidence'] });

    const one = await get(s.port, '/debug/pods/default/web-1');
    const oneDoc = JSON.parse(one.text) as { pods: { name: string; tc: { qdiscs: { kind: string }[] } }[] };
    expect(oneDoc.pods.map((p) => p.name)).toEqual(['web-1']);
    expect(oneDoc.pods[0]!.tc.qdiscs.map((q) => q.kind)).toEqual(['noqueue', 'netem', 'tbf']);

    const missing = await get(s.port, '/debug/pods/default/nope');
    expect([missing.status, JSON.parse(missing.text)]).toEqual([404, { error: 'pod default/nope not found on this node' }]);
    expect((await get(s.port, '/debug/pods/default')).status).toBe(404);
  });
});

describe('AgentServer debug protection and readiness reasons', () => {
  let dir: string;
  const started: Started[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-srv-'));
  });
  afterAll(async () => {
    for (const s of started) await stop(s);
    await rm(dir, { recursive: true, force: true });
  });

  it('requires the bearer token from --debug-token-file on /debug/* only', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 's3cret-token\n');
    const s = await start({ debug: { mode: 'token', token: new TokenFile(file, { log: silentLogger() }) } });
    started.push(s);
    await s.scheduler.collectNow();
    const none = await get(s.port, '/debug/pods');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="chaos-node-agent debug"');
    expect((await get(s.port, '/debug/pods', { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await get(s.port, '/debug/pods', { headers: { Authorization: 'Bearer s3cret-token-longer' } })).status).toBe(401);
    expect((await get(s.port, '/debug/pods/default/nope')).status).toBe(401); // no pod-existence probe without the token
    expect((await get(s.port, '/debug/pods//')).status).toBe(401); // nor a name check
    expect((await get(s.port, '/debug/pods', { headers: { Authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect((await get(s.port, '/metrics')).status).toBe(200);
  });

  it('answers 403 on /debug/* without --debug-token-file or --debug-insecure (safe by default), and serves /metrics', async () => {
    const s = await start({ debug: { mode: 'locked' } });
    started.push(s);
    await s.scheduler.collectNow();
    const r = await get(s.port, '/debug/pods');
    expect([r.status, r.text]).toEqual([403, 'forbidden: /debug/* is served only with --debug-token-file (bearer token) or --debug-insecure\n']);
    expect((await get(s.port, '/debug/pods/default/web-1', { headers: { Authorization: 'Bearer anything' } })).status).toBe(403);
    expect((await get(s.port, '/metrics')).status).toBe(200);
  });

  it('locks /debug/* while the token file is missing, and opens it when the file appears', async () => {
    const file = join(dir, 'later-token');
    const s = await start({ debug: { mode: 'token', token: new TokenFile(file, { log: silentLogger(), recheckMs: 0 }) } });
    started.push(s);
    await s.scheduler.collectNow();
    expect((await get(s.port, '/debug/pods', { headers: { Authorization: 'Bearer t0ken' } })).status).toBe(401);
    await writeFile(file, 't0ken');
    expect((await get(s.port, '/debug/pods', { headers: { Authorization: 'Bearer t0ken' } })).status).toBe(200);
  });

  it('turns the debug endpoints off with --debug=false', async () => {
    const s = await start({ debug: { mode: 'off' } });
    started.push(s);
    await s.scheduler.collectNow();
    expect((await get(s.port, '/debug/pods')).status).toBe(404);
    expect((await get(s.port, '/debug/pods/default/web-1')).status).toBe(404);
  });

  it('is not ready, with the reason, when no runtime is up', async () => {
    const s = await start({ snap: () => snapshot([], { runtimes: [runtimeUp({ up: false, runtime: null, error: 'connect ECONNREFUSED' })] }) });
    started.push(s);
    await s.scheduler.collectNow();
    const r = await get(s.port, '/readyz');
    expect([r.status, r.text]).toEqual([503, 'not ready: no runtime is up (unix:///run/containerd/containerd.sock: connect ECONNREFUSED)\n']);
  });

  it('answers 503 on /metrics when no collection finishes in time', async () => {
    // stop() aborts the running collection: it returns long before the collection's 120 s would have ended
    // (a bound scheduling on a loaded machine cannot reach, unlike the 500 ms it was).
    const s = await start({ delayMs: 120_000, waitMs: 100 });
    started.push(s);
    s.scheduler.start();
    const r = await get(s.port, '/metrics');
    expect([r.status, r.headers['retry-after']]).toEqual([503, '5']);
    const t0 = Date.now();
    await s.scheduler.stop();
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe('AgentServer /debug/pods document cache', () => {
  let s: Started;
  let n = 0;
  beforeAll(async () => {
    s = await start({ snap: () => (++n === 1 ? snapshot([chaosPod(), cleanPod()]) : snapshot([cleanPod()])) });
    await s.scheduler.collectNow();
  });
  afterAll(() => stop(s));

  it('builds the all-pods document once per collection and follows the next collection', async () => {
    const first = await get(s.port, '/debug/pods');
    const again = await get(s.port, '/debug/pods');
    expect(again.text).toBe(first.text);
    expect((JSON.parse(first.text) as { pods: { name: string }[] }).pods.map((p) => p.name)).toEqual(['web-1', 'dns-1']);
    expect((await get(s.port, '/debug/pods', { method: 'HEAD' })).headers['content-length']).toBe(String(Buffer.byteLength(first.text)));
    await s.scheduler.collectNow();
    const next = await get(s.port, '/debug/pods');
    expect((JSON.parse(next.text) as { pods: { name: string }[] }).pods.map((p) => p.name)).toEqual(['dns-1']);
    expect((await get(s.port, '/debug/pods/default/web-1')).status).toBe(404);
  });
});

describe('AgentServer /debug/pods/{namespace}/{pod} for a pod without a namespace', () => {
  let s: Started;
  // A plain `docker run` container: no Kubernetes labels, so no namespace (inspect prints it `pod /auditplain`).
  const plain = (): PodReport => ({ ...cleanPod(), namespace: '', name: 'auditplain' });
  beforeAll(async () => {
    s = await start({ snap: () => snapshot([chaosPod(), plain()]) });
    await s.scheduler.collectNow();
  });
  afterAll(() => stop(s));

  it('serves it at /debug/pods//NAME and /debug/pods/-/NAME', async () => {
    for (const path of ['/debug/pods//auditplain', '/debug/pods/-/auditplain', '/debug/pods/%2D/auditplain']) {
      const r = await get(s.port, path);
      expect([path, r.status]).toEqual([path, 200]);
      expect((JSON.parse(r.text) as { pods: { namespace: string; name: string }[] }).pods.map((p) => [p.namespace, p.name])).toEqual([['', 'auditplain']]);
    }
    const missing = await get(s.port, '/debug/pods//nope');
    expect([missing.status, JSON.parse(missing.text)]).toEqual([404, { error: 'pod /nope (no namespace) not found on this node' }]);
  });

  it('refuses an empty or dot pod name with 400 and says why', async () => {
    const empty = await get(s.port, '/debug/pods//');
    expect([empty.status, JSON.parse(empty.text)]).toEqual([400, { error: 'empty pod name in "/" (expected NAMESPACE/POD)' }]);
    const blank = await get(s.port, '/debug/pods/shop/we%20b');
    expect([blank.status, JSON.parse(blank.text)]).toEqual([400, { error: 'pod name "we b" holds a blank or a slash (in "shop/we b")' }]);
    const slash = await get(s.port, '/debug/pods/shop/a%2Fb');
    expect([slash.status, JSON.parse(slash.text)]).toEqual([400, { error: 'pod name "a/b" holds a blank or a slash (in "shop/a/b")' }]);
    // Dot segments never reach the name check: the URL resolves them first (here to /debug/pods/, no route).
    expect((await get(s.port, '/debug/pods/shop/..')).status).toBe(404);
  });
});

describe('AgentServer connection bounds', () => {
  const started: Started[] = [];
  afterAll(async () => {
    for (const s of started) await stop(s);
  });

  it('closes connections beyond maxConnections at accept, and serves again once the held ones time out', async () => {
    const s = await start({ limits: { maxConnections: 5, headersTimeoutMs: 1_000 } });
    started.push(s);
    await s.scheduler.collectNow();
    const held = Array.from({ length: 12 }, () => slowClient(s.port, '', 0));
    const closed = await Promise.all(held.map((c) => c.closed));
    // Told apart by what the server sent, not by when the client saw the close (a loaded machine moves that):
    // closed at accept without a word, or held until the headers timeout and answered 408 (never before it).
    const atAccept = closed.filter((c) => c.reply.status === null);
    const byTimeout = closed.filter((c) => c.reply.status === 408);
    expect([atAccept.length, byTimeout.length]).toEqual([7, 5]);
    expect(Math.min(...byTimeout.map((c) => c.ms))).toBeGreaterThanOrEqual(900);
    expect((await get(s.port, '/metrics')).status).toBe(200);
  });

  it('destroys a connection whose client stopped reading a large answer (idle socket timeout)', async () => {
    const big = nodeScaleSnapshot(300, { extraRules: 30 });
    const s = await start({ snap: () => big, limits: { idleSocketTimeoutMs: 500 } });
    started.push(s);
    await s.scheduler.collectNow();
    const head = await get(s.port, '/debug/pods', { method: 'HEAD' });
    // Larger than what the kernel buffers on loopback for a client that does not read (its receive window, about
    // 128 KiB, + the server's send buffer, 4 MiB at most): the rest waits in Node, and only the idle timeout ends it.
    expect(Number(head.headers['content-length'])).toBeGreaterThan(8 << 20);
    // The server's side of the connection, from its accept to its close (no sampling that a loaded machine could
    // make miss a connection living 500 ms).
    const serverSide = new Promise<{ acceptedAt: number; closed: Promise<number> }>((resolve) => {
      s.server.server.once('connection', (sock) => resolve({ acceptedAt: Date.now(), closed: new Promise((r) => sock.once('close', () => r(Date.now()))) }));
    });
    const client = slowClient(s.port, 'GET /debug/pods HTTP/1.1\r\nHost: a\r\n\r\n', 0);
    client.socket.pause(); // never reads the answer
    const { acceptedAt, closed } = await serverSide;
    // Only the idle timeout can end it (the client neither reads nor closes): it does, and not before 500 ms.
    const closedAt = await Promise.race([closed, sleep(30_000).then(() => null)]);
    expect(closedAt, 'the stalled connection was never closed').not.toBeNull();
    expect(closedAt! - acceptedAt).toBeGreaterThanOrEqual(500 - 5); // Date.now() is whole milliseconds
    expect(await connections(s)).toBe(0);
    client.socket.destroy();
  });
});
