/**
 * bench/autocannon.ts: autocannon's response bodies are no longer built into strings, and what the bench reads from
 * a closed loop (responses, bytes, latencies, statuses) is counted as before, against a real node:http server.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autocannon, originalAddBody } from '../../bench/autocannon.js';

const require = createRequire(import.meta.url);
interface Pending { body: string }
const Queue = require('autocannon/lib/pipelinedRequestsQueue.js') as new () => { insertRequest(r: unknown): void; addBody(d: Buffer): void; peek(): Pending };

describe('bench/autocannon.ts', () => {
  const body = randomBytes(60_000); // binary, as a gzipped /metrics answer
  let server: http.Server;
  let port = 0;
  let served = 0;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      served += 1;
      res.writeHead(200, { 'content-type': 'application/openmetrics-text', 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('keeps no body: addBody is a no-op, where autocannon 8 appended the chunk to a string', () => {
    const q = new Queue();
    q.insertRequest({});
    q.addBody(Buffer.from('abc'));
    expect(q.peek().body).toBe('');
    expect(originalAddBody).toBeTypeOf('function');
    const kept = { pendingRequests: [{ body: '' }], peek(): Pending { return this.pendingRequests[0]!; } };
    originalAddBody.call(kept, Buffer.from('abc'));
    expect(kept.pendingRequests[0]!.body).toBe('abc');
  });

  it('a closed loop still counts every response, its bytes and latencies', async () => {
    served = 0;
    const r = await autocannon({ url: `http://127.0.0.1:${port}/metrics`, connections: 4, duration: 1, timeout: 10 });
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(r.requests.total).toBeGreaterThan(20);
    // Every answered request was counted, whole (the loop's last in-flight requests are sent but not counted).
    expect(served - r.requests.total).toBeGreaterThanOrEqual(0);
    expect(served - r.requests.total).toBeLessThanOrEqual(4);
    expect(r.throughput.total).toBeGreaterThanOrEqual(r.requests.total * body.length);
    expect(r.latency.average).toBeGreaterThan(0); // ms, a float (the percentiles are whole ms, 0 on loopback)
    expect(r.latency.max).toBeGreaterThanOrEqual(r.latency.p99);
  });
});
