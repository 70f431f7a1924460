/**
 * autocannon 8, as the bench's closed-loop client, without the body it builds and nobody reads.
 *
 * autocannon appends every chunk of every response body to a JS string (lib/pipelinedRequestsQueue.js `addBody`:
 * `req.body += data`), for its `expectBody`, `verifyBody` and per-request `onResponse` options, none of which the bench
 * uses. For a gzipped /metrics answer that is a UTF-8 decode of ~60 KB of binary bytes per response (replacement
 * characters and all), work no scraper does (Prometheus reads bytes and gunzips them) and the biggest cost of the
 * whole closed loop on a 2-core machine: against bench/static-body.ts answering 110 mesh pods' 60 KB gzipped
 * OpenMetrics, 50 connections for 8 s, autocannon spent 0.40-0.43 ms of CPU per response with it and 0.09-0.17 ms
 * without, and served 18779 / 19614 against 82742 / 47119 responses (2026-12-02). So the bench replaces `addBody`
 * with a no-op; bytes and latencies are counted as before (`addByteCount`, the parser's own callbacks). A later
 * autocannon without that method fails here, loudly, rather than measuring its client again.
 */
import { createRequire } from 'node:module';
import { AgentError } from '../agent/errors.js';

export interface AutocannonHisto {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface AutocannonResult {
  latency: AutocannonHisto;
  requests: { total: number };
  throughput: { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}

export type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

interface RequestsQueue {
  prototype: { addBody?: (data: unknown) => void };
}

const require = createRequire(import.meta.url);
const queue = require('autocannon/lib/pipelinedRequestsQueue.js') as RequestsQueue;
const own = queue.prototype.addBody;
if (typeof own !== 'function') {
  throw new AgentError('BENCH_AUTOCANNON', 'autocannon/lib/pipelinedRequestsQueue.js has no addBody: this autocannon is not the one bench/autocannon.ts was written for');
}

/** autocannon's own `addBody`, kept for the test that shows what the replacement changes. */
export const originalAddBody: (data: unknown) => void = own;
queue.prototype.addBody = function addBody(): void {};

/** autocannon, its response bodies not kept (see above). Only the bench's process loads this. */
export const autocannon = require('autocannon') as Autocannon;
