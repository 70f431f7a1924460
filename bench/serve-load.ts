/**
 * Scrape latency, memory and exposition size of the real exporter: `node <shipped V8 flags, bin/node-flags.js>
 * bin/chaos-node-agent.js serve` as a separate process (its RSS is its own), talking to the bench's containerd, collecting every `intervalMs` while
 * autocannon hits /metrics with `connections` concurrent clients for `loadSeconds`, with Prometheus's scrape
 * headers (OpenMetrics preferred, gzip). Collections are counted by watching
 * chaos_daemon_last_collection_timestamp_seconds change; VmRSS is read once `minCollections` have been published.
 * The child is stopped by PID (SIGTERM, SIGKILL after 5 s) whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { AgentError, errorMessage } from '../agent/errors.js';
import { processMemory, shippedNodeFlags, type Memory } from './measure.js';

/** Prometheus 2.x's Accept header when scraping (scrape/scrape.go acceptHeader with OpenMetrics enabled). */
export const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

interface Histo {
  min: number;
  max: number;
  average: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
}
interface AutocannonResult {
  latency: Histo;
  requests: { total: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
  statusCodeStats?: Record<string, { count: number }>;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
/** autocannon ships CommonJS without types. */
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface ServeLoadOptions {
  repoRoot: string;
  endpoint: string;
  intervalMs: number;
  loadSeconds: number;
  connections: number;
  /** Collections to wait for (published) before reading RSS. */
  minCollections: number;
  /** Give up after this long in total. */
  timeoutMs: number;
  onProgress?: (msg: string) => void;
}

export interface ServeLoadResult {
  pid: number;
  /** Process start to the first successful /readyz. */
  readyMs: number;
  load: {
    connections: number;
    seconds: number;
    requests: number;
    latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    /** Collections published during the load. */
    collectionsDuringLoad: number;
  };
  collections: number;
  /** Right after the first collection was published, before any load. */
  memoryAtReady: Memory;
  /** After `minCollections` collections and the load. */
  memory: Memory;
  /** /metrics in the Prometheus text format, uncompressed. */
  series: number;
  bytes: number;
  /** The same response gzip-encoded, as Prometheus receives it. */
  gzipBytes: number;
  /** The exporter's own chaos_daemon_collection_duration_seconds at the end, ms. */
  lastCollectionMs: number | null;
}

interface Got {
  status: number;
  body: Buffer;
}

function get(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 64 << 20) req.destroy(new AgentError('BENCH_HTTP', `${path}: response larger than 64 MiB`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new AgentError('BENCH_HTTP', `${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lastCollection(text: string): { ts: string | null; durationMs: number | null } {
  const ts = /^chaos_daemon_last_collection_timestamp_seconds (\S+)$/m.exec(text)?.[1] ?? null;
  const d = /^chaos_daemon_collection_duration_seconds (\S+)$/m.exec(text)?.[1];
  return { ts, durationMs: d === undefined ? null : Number(d) * 1000 };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** Children alive right now (for the bench's emergency cleanup). */
export const liveServeChildren = new Set<ChildProcess>();

export async function runServeLoad(opts: ServeLoadOptions): Promise<ServeLoadResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const deadline = Date.now() + opts.timeoutMs;
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [...(await shippedNodeFlags(opts.repoRoot)), join(opts.repoRoot, 'bin', 'chaos-node-agent.js'), 'serve', '--listen', '127.0.0.1:0', '--runtime-endpoint', opts.endpoint,
      '--interval', `${opts.intervalMs}ms`, '--log-level', 'info'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } },
  );
  liveServeChildren.add(child);
  child.once('exit', () => liveServeChildren.delete(child));
  let stderr = '';
  const portP = new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-65536);
      const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code, sig) => reject(new AgentError('BENCH_SERVE', `serve exited (${code ?? sig}) before listening: ${stderr.slice(-2000)}`)));
    child.once('error', (err) => reject(new AgentError('BENCH_SERVE', `cannot start serve: ${err.message}`, { cause: err })));
  });
  try {
    let listenTimer: NodeJS.Timeout | undefined;
    const port = await Promise.race([
      portP,
      new Promise<never>((_, reject) => {
        listenTimer = setTimeout(() => reject(new AgentError('BENCH_SERVE', `serve did not listen in time: ${stderr.slice(-2000)}`)), Math.max(0, deadline - Date.now()));
      }),
    ]).finally(() => clearTimeout(listenTimer));
    const pid = child.pid!;

    // Ready = the first collection is published.
    for (;;) {
      if (Date.now() > deadline) throw new AgentError('BENCH_SERVE', `serve not ready in time: ${stderr.slice(-2000)}`);
      const r = await get(port, '/readyz').catch((err: unknown) => ({ status: 0, body: Buffer.from(errorMessage(err)) }));
      if (r.status === 200) break;
      await sleep(100);
    }
    const readyMs = performance.now() - started;
    const memoryAtReady = await processMemory(pid);
    progress(`serve pid ${pid} ready on :${port} after ${Math.round(readyMs)} ms`);

    // Count published collections by watching the last-collection timestamp.
    const seen = new Set<string>();
    let lastDurationMs: number | null = null;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        try {
          const r = await get(port, '/metrics');
          const c = lastCollection(r.body.toString('utf8'));
          if (c.ts) seen.add(c.ts);
          lastDurationMs = c.durationMs;
        } catch (err) {
          progress(`watch: ${errorMessage(err)}`);
        }
        await sleep(200);
      }
    })();

    try {
      const before = seen.size;
      progress(`autocannon: ${opts.connections} connections for ${opts.loadSeconds} s on /metrics`);
      const result = await autocannon({
        url: `http://127.0.0.1:${port}/metrics`,
        connections: opts.connections,
        duration: opts.loadSeconds,
        headers: { accept: PROMETHEUS_ACCEPT, 'accept-encoding': 'gzip' },
        timeout: 10,
      });
      const collectionsDuringLoad = seen.size - before;

      while (seen.size < opts.minCollections) {
        if (Date.now() > deadline) throw new AgentError('BENCH_SERVE', `only ${seen.size} collections published before the deadline`);
        await sleep(200);
      }
      const memory = await processMemory(pid);
      const plain = await get(port, '/metrics');
      const gz = await get(port, '/metrics', { 'accept-encoding': 'gzip' });
      const text = plain.body.toString('utf8');
      let series = 0;
      for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) series += 1;
      return {
        pid,
        readyMs,
        load: {
          connections: opts.connections,
          seconds: result.duration,
          requests: result.requests.total,
          latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          collectionsDuringLoad,
        },
        collections: seen.size,
        memoryAtReady,
        memory,
        series,
        bytes: plain.body.length,
        gzipBytes: gz.body.length,
        lastCollectionMs: lastDurationMs,
      };
    } finally {
      watching = false;
      await watch;
    }
  } finally {
    await stopChild(child);
  }
}
