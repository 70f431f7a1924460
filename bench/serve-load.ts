/**
 * The real exporter under the bench: `node <shipped V8 flags, bin/node-flags.js> --import dist/bench/loop-probe.js
 * bin/chaos-node-agent.js serve` as a separate process (its RSS is its own) with the shipped environment (glibc's
 * malloc tunables, bin/node-flags.js MALLOC_ENV), talking to the bench's containerd,
 * collecting every `intervalMs`, in these phases:
 *
 * 0. warm-up: after the first, `warmCollections` collections unmeasured (lazy imports, JIT, reader threads), as
 *    the agent's own rounds follow warm-up collections;
 * 1. idle: `idleCollections` collections with nobody scraping: per collection, the event loop's longest block
 *    (bench/loop-probe.ts, one window per collection: serve logs "collection published" at debug level, the bench
 *    answers with SIGUSR2 and the probe reports and resets) and serve's CPU for that interval;
 * 2. load: closed loop (bench/load-clients.ts, autocannon), `connections` concurrent clients on /metrics for
 *    `loadSeconds` with Prometheus's scrape headers (OpenMetrics preferred, gzip), collections still running:
 *    latency, errors, and the windows of the collections published meanwhile. Each client sends its next request
 *    when the last answer arrives, so the 50 clients saturate the server AND the 2 cores they share with it (on this
 *    machine the client, not serve's handler at ~0.2 ms a request, sets the pace: latency = clients / throughput);
 * 2b. paced: `connections` scrapers for `loadSeconds` again (bench/scrapers.ts), each on its own keep-alive
 *    connection sending one request every 100 ms whatever the answers, 150x more often than Prometheus's default
 *    15 s interval: the latency a scraper sees when collections run;
 * 3. after at least `minCollections` collections: VmRSS and VmHWM (/proc/<pid>/status), /metrics series and
 *    bytes, and chaos_daemon_netns_reader_fallbacks_total summed over reasons;
 * 4. floor: serve stopped, both loads again on a plain node:http server answering serve's last /metrics answer
 *    (bench/load-clients.ts measureFloor): what no exporter of those bytes can go under on this machine;
 * 5. loop floor: as many windows as the idle phase's of two empty node processes with the same probe, one under
 *    SCHED_FIFO (bench/probe-child.ts measureLoopFloor): what the loop-block measurement gives on this machine for an
 *    event loop that does nothing.
 *
 * The first window (start-up, first collection) is kept apart. The child is stopped by PID (SIGTERM, SIGKILL after
 * 5 s) whatever happens.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { AgentError, errorMessage } from '../agent/errors.js';
import { onLines, stopChild, track } from './children.js';
import { closedLoop, measureFloor, paced as runPaced, PACED_PERIOD_MS, type Floor, type LoadResult } from './load-clients.js';
import { processMemory, type Memory } from './measure.js';
import { calibrateProbe, measureLoopFloor, probeLine, spawnProbed, type LoopFloor, type ProbeGap } from './probe-child.js';
import type { ScrapeResult } from './scrapers.js';

export type { LoadResult } from './load-clients.js';
export type { LoopFloor, ProbeGap } from './probe-child.js';

/** Prometheus 2.x's Accept header when scraping (scrape/scrape.go acceptHeader with OpenMetrics enabled). */
export const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export interface ServeLoadOptions {
  repoRoot: string;
  endpoint: string;
  intervalMs: number;
  /** Collections measured with nobody scraping (after the first). */
  idleCollections: number;
  /** Collections after the first before the idle ones (kept apart as `startup` windows). */
  warmCollections: number;
  loadSeconds: number;
  connections: number;
  /** Collections published before RSS is read. */
  minCollections: number;
  /** Give up after this long in total. */
  timeoutMs: number;
  onProgress?: (msg: string) => void;
}

/** One collection interval as the probe saw it. */
export interface LoopWindow {
  phase: 'startup' | 'idle' | 'load' | 'paced' | 'after';
  /** Longest event-loop block in the window, ms. */
  maxBlockMs: number;
  p99BlockMs: number;
  /** serve's CPU in the window (every thread, and reaped children), ms. */
  cpuMs: number;
  /** Firings of the probe's timer in the window (absent from results written before it was recorded). */
  firings?: number;
  /**
   * The window's longest gap between firings of the probe's second timer and its run-queue wait, from the main
   * thread's schedstat (bench/loop-probe.ts; absent from results written before 2026-12-02).
   */
  worst?: ProbeGap;
  /** /proc/stat's steal over the window, every CPU, ms (absent before 2026-12-02's second session). */
  stealMs?: number;
}


export interface ServeLoadResult {
  pid: number;
  /** Process start to the first successful /readyz. */
  readyMs: number;
  windows: LoopWindow[];
  load: LoadResult;
  /**
   * The paced phase (absent from results written before it existed). Results written before 2026-11-30 03:40 UTC
   * have no `client`: autocannon's connectionRate sent them, in bursts (bench/scrapers.ts).
   */
  paced?: LoadResult & { ratePerConnection: number } & Partial<Pick<ScrapeResult, 'late' | 'client'>>;
  /** Both loads on a static server answering serve's bytes, after serve stopped (absent from earlier results). */
  floor?: Floor;
  /**
   * The loop-block measurement of empty node processes, as many windows as the idle phase's, after serve stopped
   * (probe-child.ts measureLoopFloor; absent from results written before 2026-12-02).
   */
  loopFloor?: LoopFloor;
  collections: number;
  /** Right after the first collection was published, before any load. */
  memoryAtReady: Memory;
  /** After `minCollections` collections and the load. */
  memory: Memory;
  /** /metrics in the Prometheus text format, uncompressed. */
  series: number;
  bytes: number;
  /**
   * The same text-format response gzip-encoded (asked with Accept-Encoding only). Prometheus's own scrapes ask for
   * OpenMetrics first (PROMETHEUS_ACCEPT): that body differs a little in size; the scrape loads use those headers.
   */
  gzipBytes: number;
  /** chaos_daemon_netns_reader_fallbacks_total, summed over reasons, at the end. */
  fallbacks: number;
  /** The exporter's own chaos_daemon_collection_duration_seconds at the end, ms. */
  lastCollectionMs: number | null;
  /** CPU of one firing of the loop probe's timer, ms (calibrateProbe; absent from results written before it). */
  probeMsPerFiring?: number;
}

interface Got {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
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
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new AgentError('BENCH_HTTP', `${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}


/** Sum of a metric's samples in the Prometheus text format (every label set). */
export function sumSamples(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** Follows serve's stderr: the listen address, published collections (answered with SIGUSR2), probe windows. */
class ServeWatcher {
  port: number | null = null;
  published = 0;
  phase: LoopWindow['phase'] = 'startup';
  readonly windows: LoopWindow[] = [];
  tail = '';
  private lastCpu: number | null = null;
  /** The phase each signalled collection was published in, oldest first (its probe line comes later). */
  private readonly signalled: LoopWindow['phase'][] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly child: ChildProcess) {}

  line(line: string): void {
    this.tail = (this.tail + line + '\n').slice(-16384);
    const p = probeLine(line);
    if (p !== null) {
      const cpu = p.cpuMs + p.childrenCpuMs;
      const phase = this.signalled.shift() ?? this.phase;
      this.windows.push({ phase: this.lastCpu === null ? 'startup' : phase, maxBlockMs: p.maxBlockMs, p99BlockMs: p.p99BlockMs, cpuMs: this.lastCpu === null ? cpu : cpu - this.lastCpu, firings: p.firings, ...(p.worst ? { worst: p.worst } : {}), ...(p.stealMs !== undefined ? { stealMs: p.stealMs } : {}) });
      this.lastCpu = cpu;
      return;
    }
    if (this.port === null) {
      const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(line);
      if (m) this.port = Number(m[1]);
    }
    if (line.includes('"msg":"collection published"')) {
      this.published += 1;
      if (this.child.pid !== undefined && this.child.exitCode === null) {
        this.signalled.push(this.phase);
        process.kill(this.child.pid, 'SIGUSR2');
      }
      this.waiters = this.waiters.filter((w) => (this.published >= w.n ? (w.resolve(), false) : true));
    }
  }

  /** Resolves once `n` collections have been published in total. */
  until(n: number, deadline: number): Promise<void> {
    if (this.published >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new AgentError('BENCH_SERVE', `only ${this.published} of ${n} collections published in time: ${this.tail.slice(-1500)}`)), Math.max(0, deadline - Date.now()));
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

export async function runServeLoad(opts: ServeLoadOptions): Promise<ServeLoadResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const deadline = Date.now() + opts.timeoutMs;
  const started = performance.now();
  const probeMsPerFiring = await calibrateProbe(opts.repoRoot);
  progress(`loop probe: ${(probeMsPerFiring * 1000).toFixed(1)} µs of CPU per firing`);
  const child = await spawnProbed(opts.repoRoot, [join(opts.repoRoot, 'bin', 'chaos-node-agent.js'), 'serve', '--listen', '127.0.0.1:0',
    '--runtime-endpoint', opts.endpoint, '--interval', `${opts.intervalMs}ms`, '--log-level', 'debug']);
  track(child);
  const watcher = new ServeWatcher(child);
  onLines(child.stderr!, (l) => watcher.line(l));
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, sig) => reject(new AgentError('BENCH_SERVE', `serve exited (${code ?? sig}): ${watcher.tail.slice(-2000)}`)));
    child.once('error', (err) => reject(new AgentError('BENCH_SERVE', `cannot start serve: ${err.message}`, { cause: err })));
  });
  exited.catch(() => undefined); // raced below; a late exit after the run is expected
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, exited]);
  try {
    await guard(watcher.until(1, deadline));
    const port = watcher.port;
    if (port === null) throw new AgentError('BENCH_SERVE', `serve published a collection but logged no listen address: ${watcher.tail.slice(-1500)}`);
    const ready = await get(port, '/readyz');
    if (ready.status !== 200) throw new AgentError('BENCH_SERVE', `/readyz answered ${ready.status} after the first collection`);
    const readyMs = performance.now() - started;
    const pid = child.pid!;
    const memoryAtReady = await processMemory(pid);
    progress(`serve pid ${pid} ready on :${port} after ${Math.round(readyMs)} ms; ${opts.warmCollections} warm-up and ${opts.idleCollections} idle collections`);

    await guard(watcher.until(1 + opts.warmCollections, deadline));
    watcher.phase = 'idle';
    await guard(watcher.until(1 + opts.warmCollections + opts.idleCollections, deadline));
    watcher.phase = 'load';
    const url = `http://127.0.0.1:${port}/metrics`;
    const scrapeHeaders = { accept: PROMETHEUS_ACCEPT, 'accept-encoding': 'gzip' };
    progress(`closed loop: ${opts.connections} connections for ${opts.loadSeconds} s on /metrics`);
    const load = await guard(closedLoop(url, opts.connections, opts.loadSeconds, scrapeHeaders));
    watcher.phase = 'paced';
    progress(`paced: ${opts.connections} scrapers, one request every ${PACED_PERIOD_MS} ms each, for ${opts.loadSeconds} s on /metrics`);
    const paced = await guard(runPaced(url, opts.connections, opts.loadSeconds, scrapeHeaders));
    watcher.phase = 'after';
    await guard(watcher.until(opts.minCollections, deadline));
    const memory = await processMemory(pid);
    const plain = await get(port, '/metrics');
    const gz = await get(port, '/metrics', { 'accept-encoding': 'gzip' });
    const scraped = await get(port, '/metrics', scrapeHeaders);
    const text = plain.body.toString('utf8');
    let series = 0;
    for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) series += 1;
    const d = /^chaos_daemon_collection_duration_seconds (\S+)$/m.exec(text)?.[1];
    await stopChild(child);
    const encoding = scraped.headers['content-encoding'];
    progress(`floor: both loads on a static server answering serve's ${scraped.body.length} bytes`);
    const floor = await measureFloor(opts.repoRoot, { body: scraped.body, contentType: scraped.headers['content-type'] ?? 'text/plain', contentEncoding: typeof encoding === 'string' ? encoding : null },
      opts.connections, opts.loadSeconds, scrapeHeaders);
    progress(`loop floor: ${opts.idleCollections} windows of ${opts.intervalMs} ms of an empty node, and of one under SCHED_FIFO`);
    const loopFloor = await measureLoopFloor(opts.repoRoot, opts.idleCollections, opts.intervalMs);
    return {
      pid,
      readyMs,
      windows: watcher.windows,
      load,
      paced,
      floor,
      loopFloor,
      collections: watcher.published,
      memoryAtReady,
      memory,
      series,
      bytes: plain.body.length,
      gzipBytes: gz.body.length,
      fallbacks: sumSamples(text, 'chaos_daemon_netns_reader_fallbacks_total'),
      lastCollectionMs: d === undefined ? null : Number(d) * 1000,
      probeMsPerFiring,
    };
  } catch (err) {
    throw err instanceof AgentError ? err : new AgentError('BENCH_SERVE', errorMessage(err), { cause: err });
  } finally {
    await stopChild(child);
  }
}
