/**
 * The bench's paced scrapers (bench/scrapers.ts) and latency floor (bench/load-clients.ts, bench/static-body.ts),
 * against real node:http servers on 127.0.0.1: each scraper paces itself on its own connection (no bursts, which is
 * what autocannon's connectionRate did), latency covers the whole answer, and failures are counted by kind.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { liveChildren, stopChild } from '../../bench/children.js';
import { measureFloor, startStaticBody } from '../../bench/load-clients.js';
import { runScrapers, summarizeLatencies } from '../../bench/scrapers.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const servers: http.Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server on 127.0.0.1:0; `arrivals` maps each connection to the times (ms) its requests arrived. */
async function serve(handler: http.RequestListener): Promise<{ url: string; arrivals: Map<Socket, number[]> }> {
  const arrivals = new Map<Socket, number[]>();
  const server = http.createServer((req, res) => {
    const list = arrivals.get(req.socket) ?? [];
    list.push(performance.now());
    arrivals.set(req.socket, list);
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, arrivals };
}

describe('summarizeLatencies', () => {
  it('nearest-rank percentiles, max and mean of literal samples', () => {
    const s = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
    expect(summarizeLatencies(s)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    expect(summarizeLatencies([7.123])).toEqual({ p50: 7.12, p90: 7.12, p99: 7.12, max: 7.12, mean: 7.12 });
    expect(summarizeLatencies([])).toEqual({ p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });
    // One slow answer in 100 is over p99; two are not.
    expect(summarizeLatencies([...Array(99).fill(1), 500]).p99).toBe(1);
    expect(summarizeLatencies([...Array(98).fill(1), 500, 500]).p99).toBe(500);
  });
});

describe('runScrapers', () => {
  it('each scraper keeps one connection and sends one request per period, never in a burst', async () => {
    const { url, arrivals } = await serve((_req, res) => res.end('x'.repeat(1000)));
    const r = await runScrapers({ url, scrapers: 5, periodMs: 100, seconds: 1, headers: {}, timeoutMs: 5000 });
    expect(arrivals.size).toBe(5);
    for (const times of arrivals.values()) {
      expect(times.length).toBeGreaterThanOrEqual(9);
      expect(times.length).toBeLessThanOrEqual(10);
      // Spread over the second, not sent back to back (autocannon's connectionRate put 10 within a few ms). The
      // median gap, since on a loaded machine one late send is followed by an on-time one (a fixed schedule).
      const gaps = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b);
      expect(gaps[Math.floor(gaps.length / 2)]!).toBeGreaterThan(80);
      expect(times[times.length - 1]! - times[0]!).toBeGreaterThan(600);
    }
    expect(r).toMatchObject({ connections: 5, errors: 0, timeouts: 0, non2xx: 0, ratePerConnection: 10, client: 'scrapers' });
    expect(r.requests).toBe([...arrivals.values()].reduce((a, t) => a + t.length, 0));
  });

  it('latency runs to the last byte: a body trickled over 60 ms is not answered in under 45', async () => {
    const { url } = await serve((_req, res) => {
      res.write('a');
      setTimeout(() => res.end('b'), 60);
    });
    const r = await runScrapers({ url, scrapers: 2, periodMs: 100, seconds: 0.5, headers: {}, timeoutMs: 5000 });
    expect(r.requests).toBeGreaterThanOrEqual(4);
    expect(r.latencyMs.p50).toBeGreaterThan(45);
    expect(r.latencyMs.max).toBeLessThan(5000);
  });

  it('an answer slower than the period makes the next send late, not a second request in flight', async () => {
    const { url, arrivals } = await serve((_req, res) => setTimeout(() => res.end('x'), 150));
    const r = await runScrapers({ url, scrapers: 1, periodMs: 100, seconds: 0.6, headers: {}, timeoutMs: 5000 });
    expect(r.late).toBeGreaterThanOrEqual(2);
    const times = [...arrivals.values()][0]!;
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThan(140);
  });

  it('counts non-200 answers, timeouts and refused connections apart', async () => {
    const bad = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('no');
    });
    const r1 = await runScrapers({ url: bad.url, scrapers: 2, periodMs: 100, seconds: 0.3, headers: {}, timeoutMs: 5000 });
    expect(r1.non2xx).toBe(r1.requests);
    expect(r1.non2xx).toBeGreaterThan(0);
    expect(r1.errors + r1.timeouts).toBe(0);

    const silent = await serve(() => undefined);
    const r2 = await runScrapers({ url: silent.url, scrapers: 1, periodMs: 100, seconds: 0.3, headers: {}, timeoutMs: 150 });
    expect(r2.timeouts).toBeGreaterThan(0);
    expect(r2.timeouts).toBe(r2.requests);
    expect(r2.latencyMs.max).toBe(0);

    const closed = await serve(() => undefined);
    servers.splice(servers.length - 1, 1)[0]!.close();
    await new Promise((r) => setTimeout(r, 50));
    const r3 = await runScrapers({ url: closed.url, scrapers: 1, periodMs: 100, seconds: 0.3, headers: {}, timeoutMs: 1000 });
    expect(r3.errors).toBeGreaterThan(0);
    expect(r3.errors).toBe(r3.requests);
  });

  it('sends the headers it is given', async () => {
    const seen: string[] = [];
    const { url } = await serve((req, res) => {
      seen.push(`${req.headers.accept} ${req.headers['accept-encoding']}`);
      res.end();
    });
    await runScrapers({ url, scrapers: 1, periodMs: 100, seconds: 0.2, headers: { accept: 'application/openmetrics-text', 'accept-encoding': 'gzip' }, timeoutMs: 1000 });
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['application/openmetrics-text gzip']));
  });
});

describe('measureFloor', () => {
  const built = existsSync(join(repoRoot, 'dist', 'bench', 'static-body.js'));
  it.skipIf(!built && !process.env.CI)('static-body.js answers every request with the bytes and the headers given, and stops on SIGTERM', async () => {
    const body = Buffer.from([0x1f, 0x8b, 0, 1, 2, 3, 255]);
    const { port, child } = await startStaticBody(repoRoot, { body, contentType: 'text/plain; version=0.0.4', contentEncoding: 'gzip' });
    try {
      expect(liveChildren.has(child)).toBe(true);
      for (const path of ['/metrics', '/anything']) {
        const got = await new Promise<{ body: Buffer; headers: http.IncomingHttpHeaders; status: number }>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ body: Buffer.concat(chunks), headers: res.headers, status: res.statusCode ?? 0 }));
          }).on('error', reject);
        });
        expect(got.status).toBe(200);
        expect(got.body.equals(body)).toBe(true);
        expect(got.headers['content-type']).toBe('text/plain; version=0.0.4');
        expect(got.headers['content-encoding']).toBe('gzip');
        expect(got.headers['content-length']).toBe(String(body.length));
      }
    } finally {
      await stopChild(child);
    }
    expect(child.exitCode).toBe(0);
    expect(liveChildren.has(child)).toBe(false);
  });

  it.skipIf(!built && !process.env.CI)('serves the given bytes and headers and runs both loads on them', async () => {
    const body = Buffer.from('# a gzip body, as far as the headers say\n'.repeat(100));
    const f = await measureFloor(repoRoot, { body, contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8', contentEncoding: 'gzip' }, 2, 1, {});
    expect(f.bytes).toBe(body.length);
    expect(f.load.requests).toBeGreaterThan(10);
    expect(f.load.errors + f.load.non2xx + f.load.timeouts).toBe(0);
    expect(f.paced.requests).toBeGreaterThanOrEqual(18);
    expect(f.paced.requests).toBeLessThanOrEqual(20);
    expect(f.paced.errors + f.paced.non2xx + f.paced.timeouts).toBe(0);
  }, 30_000);
});
