/**
 * Paced scrapers, as Prometheus scrapes: each scraper keeps ONE keep-alive connection and sends one GET every
 * `periodMs` on a fixed schedule (scrapers staggered over the period, as Prometheus spreads its targets), whatever
 * the answers; latency = request sent to the last byte of the body. A scraper that falls behind its schedule sends
 * at once and counts the send as `late` (it never bursts to catch up).
 *
 * Why not autocannon's `connectionRate` (used until 2026-11-30 03:40 UTC): autocannon 8 (lib/httpClient.js) lets each
 * connection send its `rate` requests back to back in a closed loop, then pauses it until a 1 s setInterval resets
 * the count. 50 connections at 10/s were 500 requests in a closed loop at the start of every second: a burst, not 50
 * scrapers 100 ms apart. Measured on this machine: a node server answering a static 37 KiB body had p50 17 ms and
 * p99 66-87 ms under it, and p50 0.9 ms, p99 5.8 ms under these scrapers.
 */
import http from 'node:http';

export interface ScrapeOptions {
  url: string;
  scrapers: number;
  periodMs: number;
  seconds: number;
  headers: Record<string, string>;
  /** A request without its whole answer after this long is a timeout (the connection is closed and reopened). */
  timeoutMs: number;
}

export interface Latencies {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface ScrapeResult {
  /** Same fields as the closed loop's LoadResult: `connections` is the number of scrapers. */
  connections: number;
  seconds: number;
  requests: number;
  latencyMs: Latencies;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Requests per second of each scraper. */
  ratePerConnection: number;
  /** Sends made after their scheduled time because the previous answer came later than the period. */
  late: number;
  /** Who sent the requests: `scrapers` (this module); results written before it came from autocannon. */
  client: 'scrapers';
}

/**
 * Nearest-rank percentiles (ms, 2 decimals) of latencies in ms; zeros for none. Nearest rank, as the closed loop's
 * autocannon (an HDR histogram) reports them, so both phases use one definition; bench/measure.ts summarize
 * interpolates, which suits its medians of a few rounds, not a p99 of thousands of requests.
 */
export function summarizeLatencies(samples: readonly number[]): Latencies {
  if (samples.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const s = [...samples].sort((a, b) => a - b);
  const rank = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return { p50: r2(rank(0.5)), p90: r2(rank(0.9)), p99: r2(rank(0.99)), max: r2(s[s.length - 1]!), mean: r2(s.reduce((a, b) => a + b, 0) / s.length) };
}

type Outcome = { kind: 'ok' | 'non2xx'; ms: number } | { kind: 'error' | 'timeout' };

function scrapeOnce(url: URL, agent: http.Agent, headers: Record<string, string>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let settled = false;
    const done = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const req = http.get({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent, headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => done({ kind: res.statusCode === 200 ? 'ok' : 'non2xx', ms: performance.now() - t0 }));
      res.on('error', () => done({ kind: 'error' }));
    });
    const timer = setTimeout(() => {
      done({ kind: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('error', () => done({ kind: 'error' }));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `scrapers` paced scrapers against `url` for `seconds`. Latencies of non-200 answers count too. */
export async function runScrapers(opts: ScrapeOptions): Promise<ScrapeResult> {
  const url = new URL(opts.url);
  const latencies: number[] = [];
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let late = 0;
  const started = performance.now();
  const end = started + opts.seconds * 1000;
  const one = async (i: number): Promise<void> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let next = started + (opts.periodMs * i) / opts.scrapers;
      while (next < end) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        const o = await scrapeOnce(url, agent, opts.headers, opts.timeoutMs);
        if (o.kind === 'ok' || o.kind === 'non2xx') latencies.push(o.ms);
        if (o.kind === 'non2xx') non2xx += 1;
        else if (o.kind === 'error') errors += 1;
        else if (o.kind === 'timeout') timeouts += 1;
        next += opts.periodMs;
        const now = performance.now();
        if (next < now && next < end) {
          late += 1;
          next = now;
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: opts.scrapers }, (_, i) => one(i)));
  return {
    connections: opts.scrapers,
    seconds: Math.round(performance.now() - started) / 1000,
    requests: latencies.length + errors + timeouts,
    latencyMs: summarizeLatencies(latencies),
    errors,
    timeouts,
    non2xx,
    ratePerConnection: 1000 / opts.periodMs,
    late,
    client: 'scrapers',
  };
}
