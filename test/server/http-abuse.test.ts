/**
 * The built `serve` (real containerd pod with a replayed partition, --debug-token-file) under 10,000 requests
 * from 32 concurrent raw clients: wrong methods, unknown paths, oversized headers, garbage bytes, request bodies,
 * /debug with missing, wrong and right tokens, mixed with real Prometheus-style scrapes, while 100 slowloris and
 * 50 silent connections are held open. Proven: every scrape answers 200 with a whole OpenMetrics body, every
 * abusive request gets its exact status, the slow connections are closed by the header timeout, /debug/* never
 * answers without the token, the heap after a full GC stays flat (the bench's heap probe, bench/heap-probe.ts,
 * preloaded: --expose-gc, SIGUSR2 -> GC + one HEAPPROBE line), RSS stays far under the DaemonSet's limit and the
 * process' sockets go back to the baseline.
 */
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SERVER_LIMITS } from '../../agent/server/http-server.js';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { describeIntegration } from '../helpers/env.js';
import { enterNetns } from '../helpers/netns.js';
import { waitFor } from '../helpers/prometheus.js';
import { repoRoot } from '../helpers/repo.js';
import { LOADED_MACHINE_DEADLINES, startServe, type ServeProcess } from '../helpers/serve.js';
import { rawRequest, slowClient, type RawReply } from './raw-http.js';

const TOKEN = 'abuse-test-token-0123456789';
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const TOTAL = 10_000;
const CONCURRENCY = 32;

interface Kind {
  name: string;
  /** Requests of this kind per 20. */
  weight: number;
  request: (i: number) => string | Buffer;
  /** Statuses allowed (null: the server closed without an answer). */
  expect: (number | null)[];
}

const req = (line: string, headers: string[] = []) => [line, 'Host: agent', 'Connection: close', ...headers, '', ''].join('\r\n');
const METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND'];
const PATHS = ['/', '/admin', '/metrics/', '/%2e%2e/etc/passwd', '/debug', '/debug/pods/a/b/c', `/${'a'.repeat(6000)}`];

const KINDS: Kind[] = [
  { name: 'scrape', weight: 5, request: () => req('GET /metrics HTTP/1.1', [`Accept: ${PROMETHEUS_ACCEPT}`, 'Accept-Encoding: gzip']), expect: [200] },
  { name: 'wrong method', weight: 3, request: (i) => req(`${METHODS[i % METHODS.length]} /metrics HTTP/1.1`), expect: [405] },
  { name: 'invalid method', weight: 1, request: () => req('FROB /metrics HTTP/1.1'), expect: [400] },
  { name: 'unknown path', weight: 3, request: (i) => req(`GET ${PATHS[i % PATHS.length]} HTTP/1.1`), expect: [404] },
  { name: 'oversized headers', weight: 2, request: () => req('GET /metrics HTTP/1.1', [`X-Big: ${'b'.repeat(SERVER_LIMITS.maxHeaderSize + 100)}`]), expect: [431] },
  { name: 'garbage', weight: 2, request: () => Buffer.concat([randomBytes(16 + Math.floor(Math.random() * 2048)), Buffer.from('\r\n\r\n')]), expect: [400, null] },
  { name: 'request body', weight: 1, request: () => `${req('GET /metrics HTTP/1.1', ['Content-Length: 5']).slice(0, -2)}\r\nhello`, expect: [413] },
  // Dot segments are resolved as URLs resolve them: /metrics/../debug/pods is /debug/pods.
  { name: 'debug without token', weight: 1, request: (i) => req(`GET ${i % 2 ? '/debug/pods' : '/metrics/../debug/pods'} HTTP/1.1`), expect: [401] },
  { name: 'debug wrong token', weight: 1, request: (i) => req(`GET /debug/pods/abuse/web HTTP/1.1`, [`Authorization: Bearer ${i % 2 ? TOKEN.slice(0, -1) : `${TOKEN}x`}`]), expect: [401] },
  { name: 'debug right token', weight: 1, request: () => req('GET /debug/pods/abuse/web HTTP/1.1', [`Authorization: Bearer ${TOKEN}`]), expect: [200] },
];

function plan(total: number): Kind[] {
  const cycle = KINDS.flatMap((k) => Array<Kind>(k.weight).fill(k));
  return Array.from({ length: total }, (_, i) => cycle[i % cycle.length]!);
}

async function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]);
}

/** Live heap (heapUsed + external, after two full GCs) of a serve running with the heap probe: the least of 3 probes. */
async function liveHeapBytes(serve: ServeProcess): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < 3; i++) {
    const seen = serve.stderr().split('HEAPPROBE ').length;
    process.kill(serve.pid, 'SIGUSR2');
    const line = await waitFor('a HEAPPROBE line', async () => {
      const parts = serve.stderr().split('HEAPPROBE ');
      return parts.length > seen ? parts.at(-1)!.split('\n')[0]! : null;
    }, 10_000, 20);
    const p = JSON.parse(line) as { gc: boolean; heapUsed: number; external: number };
    if (!p.gc) throw new Error('the heap probe ran without --expose-gc');
    values.push(p.heapUsed + p.external);
    await sleep(700);
  }
  return Math.min(...values);
}

async function socketCount(pid: number): Promise<number> {
  let n = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return ''; // closed between readdir and readlink
      throw err;
    });
    if (target.startsWith('socket:')) n += 1;
  }
  return n;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

describeIntegration('serve under HTTP abuse', {
  root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'iptables-legacy-save', 'ipset', 'tc', 'setpriv'],
}, () => {
  let h: ContainerdHarness | undefined;
  let serve: ServeProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-abuse-'));
    await writeFile(join(dir, 'token'), `${TOKEN}\n`);
    h = await startContainerd({ name: 'abuse' });
    const pod = await h.runPod({ name: 'web', namespace: 'abuse' });
    await new ChaosMeshReplay(enterNetns(pod.netnsPath), 'legacy').partition({ experiment: 'abuse-partition', direction: 'to', cidrs: ['192.0.2.0/24'] });
    serve = await startServe(['--runtime-endpoint', h.endpoint, '--interval', '2s', '--debug-token-file', join(dir, 'token'), ...LOADED_MACHINE_DEADLINES], {
      nodeArgs: ['--expose-gc', '--import', pathToFileURL(join(repoRoot(), 'dist', 'bench', 'heap-probe.js')).href],
    });
    await waitFor('serve ready', async () => (await rawRequest(serve!.port, req('GET /readyz HTTP/1.1'))).status === 200);
  });

  afterAll(async () => {
    const errors: unknown[] = [];
    if (serve) {
      const exit = await serve.stop();
      if (exit.code !== 0) errors.push(new Error(`serve exited ${exit.code ?? exit.signal}: ${serve.stderr().slice(-2000)}`));
    }
    await h?.stop().catch((err: unknown) => errors.push(err));
    await rm(dir, { recursive: true, force: true });
    if (errors.length) throw new AggregateError(errors, 'abuse test cleanup');
  });

  it(`answers ${TOTAL} hostile and real requests: scrapes keep answering, statuses exact, slow clients cut, memory flat`, async () => {
    const port = serve!.port;
    const pid = serve!.pid;
    const run = async (kinds: Kind[]) => {
      const results: { kind: Kind; reply: RawReply }[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < kinds.length) {
          const kind = kinds[next++]!;
          results.push({ kind, reply: await rawRequest(port, kind.request(next)) });
        }
      }));
      return results;
    };
    // Warm-up, every path once compiled and every pool filled: JIT code, parser free list, the first collections.
    const warmSlow = Array.from({ length: 20 }, (_, i) => slowClient(port, i % 2 ? '' : 'GET /metrics HTTP/1.1\r\n', 1_000));
    await run(plan(2_000));
    await Promise.all(warmSlow.map((c) => c.closed));
    const sockets0 = await socketCount(pid);
    const heap0 = await liveHeapBytes(serve!);
    const rss0 = await statusKiB(pid, 'VmRSS');

    const slow = [
      ...Array.from({ length: 100 }, () => slowClient(port, 'GET /metrics HTTP/1.1\r\nHost: agent\r\n', 1_000)),
      ...Array.from({ length: 50 }, () => slowClient(port, '', 0)),
    ];
    const t0 = performance.now();
    const firstHalf = await run(plan(TOTAL / 2));
    const heapHalf = await liveHeapBytes(serve!);
    const t1 = performance.now();
    const results = [...firstHalf, ...(await run(plan(TOTAL / 2)))];
    const floodMs = performance.now() - t1 + (t1 - t0);
    const rss1 = await statusKiB(pid, 'VmRSS');
    const slowClosed = await Promise.all(slow.map((s) => s.closed));

    // Every request got exactly what its kind deserves.
    const perKind = new Map<string, number[]>();
    for (const r of results) perKind.set(r.kind.name, [...(perKind.get(r.kind.name) ?? []), r.reply.ms]);
    process.stdout.write(`[abuse] per kind ms p50/max: ${[...perKind].map(([k, v]) => `${k} ${percentile(v, 50).toFixed(1)}/${Math.max(...v).toFixed(0)}`).join(', ')}; RSS ${rss0} -> ${rss1} KiB\n`);
    const wrong = results.filter((r) => !r.kind.expect.includes(r.reply.status)).map((r) => `${r.kind.name}: ${r.reply.status}`);
    expect(wrong.slice(0, 20)).toEqual([]);
    const byKind = new Map<string, number>();
    for (const r of results) byKind.set(r.kind.name, (byKind.get(r.kind.name) ?? 0) + 1);
    expect(results.length).toBe(TOTAL);

    // Scrapes: whole gzipped OpenMetrics bodies with the pod's chaos state, latency measured.
    const scrapes = results.filter((r) => r.kind.name === 'scrape');
    for (const s of scrapes) {
      expect(s.reply.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(Number(s.reply.headers['content-length'])).toBe(s.reply.body.length);
    }
    const sample = gunzipSync(scrapes.at(-1)!.reply.body).toString('utf8');
    expect(sample.endsWith('# EOF\n')).toBe(true);
    expect(sample).toContain('chaos_daemon_injection_active{namespace="abuse",pod="web",kind="partition",experiment=""} 1');
    const lat = scrapes.map((s) => s.reply.ms);
    // /debug/* never answered without the token.
    const debugOk = results.filter((r) => r.kind.name.startsWith('debug') && r.reply.status === 200);
    expect(debugOk.every((r) => r.kind.name === 'debug right token')).toBe(true);
    expect(JSON.parse(debugOk[0]!.reply.body.toString('utf8')).pods[0].chaos.verdict).toBe('active');

    // Slow clients: all closed by the header timeout (5 s, checked every 1 s), told 408 (the idle socket timeout
    // would destroy the silent ones without a word; nothing would close the trickling ones). Never before the
    // timeout; and before the idle timeout could have: the close is seen by this process, busy with the flood on a
    // loaded machine, so a tighter upper bound measures the scheduler, not the server.
    const slowMs = slowClosed.map((c) => c.ms);
    expect(slowClosed.filter((c) => c.error !== null).map((c) => c.error)).toEqual([]);
    expect(new Set(slowClosed.map((c) => c.reply.status))).toEqual(new Set([408]));
    expect(Math.min(...slowMs)).toBeGreaterThanOrEqual(SERVER_LIMITS.headersTimeoutMs - 100);
    expect(Math.max(...slowMs)).toBeLessThan(SERVER_LIMITS.idleSocketTimeoutMs);

    // Memory flat and no connection left behind (keep-alive and header timeouts have closed everything).
    const sockets1 = await waitFor('sockets back to the baseline', async () => {
      const n = await socketCount(pid);
      return n <= sockets0 ? n : null;
    }, SERVER_LIMITS.keepAliveTimeoutMs + 30_000);
    const heap1 = await liveHeapBytes(serve!);
    const peakMiB = (await statusKiB(pid, 'VmHWM')) / 1024;
    // Nothing kept per request or connection. The live heap after GC grows about 1 MiB once over the first
    // thousands of requests (code compiled for rarer paths, pools) and then stays: over the second 5,000 requests it
    // must not grow by 1 MiB (a leak of 210 bytes per request would; one kept request, socket or header object is
    // several KiB). Passing runs grow -0.09 to +0.42 MiB there; 0.511 was seen on a machine busy with type checks
    // (more collections run slow, compiling their rarer paths). RSS moves with V8's heap sizing, not with what is
    // live; its peak stays far under the DaemonSet's 320Mi limit.
    expect((heap1 - heap0) / 2 ** 20).toBeLessThan(2);
    expect((heap1 - heapHalf) / 2 ** 20).toBeLessThan(1);
    expect(peakMiB).toBeLessThan(150);
    expect((await rawRequest(port, req('GET /healthz HTTP/1.1'))).status).toBe(200);

    process.stdout.write(`[abuse] ${TOTAL} requests in ${Math.round(floodMs)} ms (${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}); `
      + `scrape p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms; `
      + `150 slow clients closed after ${Math.round(Math.min(...slowMs))}-${Math.round(Math.max(...slowMs))} ms; `
      + `live heap after GC ${(heap0 / 2 ** 20).toFixed(2)} -> ${(heapHalf / 2 ** 20).toFixed(2)} (5,000) -> ${(heap1 / 2 ** 20).toFixed(2)} MiB; RSS ${Math.round(rss0 / 1024)} -> ${Math.round(rss1 / 1024)} MiB, peak ${Math.round(peakMiB)} MiB; `
      + `sockets ${sockets0} -> ${sockets1}\n`);
  }, 300_000); // ~50 s alone on 2 busy cores; several times that next to the rest of the suite
});
