/**
 * The bench's two scrape loads and their floor:
 * - closed loop: autocannon, `connections` clients each sending its next request when the last answer arrives. They
 *   saturate the server AND the 2 cores they share with it: latency = clients / throughput, and the client sets the
 *   throughput;
 * - paced: bench/scrapers.ts, each scraper one request every `periodMs` whatever the answers: the latency a
 *   scraper sees;
 * - floor (`measureFloor`): both loads again on bench/static-body.ts, a plain node:http server answering serve's own
 *   /metrics bytes with its headers, in a process of its own, after serve stopped. What the clients, the kernel and
 *   node's HTTP stack cost on this machine for that answer, measured in the same run as serve.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../agent/errors.js';
import { autocannon } from './autocannon.js';
import { onLines, stopChild, track } from './children.js';
import { runScrapers, type ScrapeResult } from './scrapers.js';

/** One closed-loop run. */
export interface LoadResult {
  connections: number;
  seconds: number;
  requests: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  /**
   * false: the client did not build response bodies into strings (bench/autocannon.ts). Absent from results written
   * before 2026-12-02 09:30 UTC, whose closed loops did (autocannon as shipped).
   */
  keepsBodies?: boolean;
}

/** Period of each paced scraper, ms: 10 scrapes a second each, 150x Prometheus's default 15 s interval. */
export const PACED_PERIOD_MS = 100;

export async function closedLoop(url: string, connections: number, seconds: number, headers: Record<string, string>): Promise<LoadResult> {
  const r = await autocannon({ url, connections, duration: seconds, headers, timeout: 10 });
  return {
    connections,
    seconds: r.duration,
    requests: r.requests.total,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.average },
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    keepsBodies: false,
  };
}

export function paced(url: string, scrapers: number, seconds: number, headers: Record<string, string>): Promise<ScrapeResult> {
  return runScrapers({ url, scrapers, periodMs: PACED_PERIOD_MS, seconds, headers, timeoutMs: 10_000 });
}

export interface Floor {
  /** Bytes of the answer served (serve's /metrics answer to the scrapers' headers). */
  bytes: number;
  load: LoadResult;
  paced: ScrapeResult;
}

/** The answer to copy: serve's body and the headers that describe it. */
export interface Answer {
  body: Buffer;
  contentType: string;
  contentEncoding: string | null;
}

/**
 * bench/static-body.ts answering `answer`, in a process of its own, tracked (children.ts) until it exits. The body's
 * temporary file is gone when this resolves: the server reads it before it prints its port.
 */
export async function startStaticBody(repoRoot: string, answer: Answer): Promise<{ port: number; child: ChildProcess }> {
  const dir = await mkdtemp(join(tmpdir(), 'cna-floor-'));
  try {
    const file = join(dir, 'body');
    await writeFile(file, answer.body);
    const args = [join(repoRoot, 'dist', 'bench', 'static-body.js'), file, answer.contentType, ...(answer.contentEncoding ? [answer.contentEncoding] : [])];
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let err = '';
        const timer = setTimeout(() => reject(new AgentError('BENCH_FLOOR', `static-body.js printed no port in 10 s: ${err.slice(-500)}`)), 10_000);
        onLines(child.stdout!, (line) => {
          const m = /STATIC-BODY (\d+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.stderr!.setEncoding('utf8').on('data', (c: string) => void (err = (err + c).slice(-4096)));
        child.once('exit', (code, sig) => {
          clearTimeout(timer);
          reject(new AgentError('BENCH_FLOOR', `static-body.js exited (${code ?? sig}): ${err.slice(-500)}`));
        });
      });
      return { port, child };
    } catch (err) {
      await stopChild(child);
      throw err;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Both loads on bench/static-body.ts answering `answer` (startStaticBody), then the server stopped. */
export async function measureFloor(repoRoot: string, answer: Answer, connections: number, seconds: number, headers: Record<string, string>): Promise<Floor> {
  const { port, child } = await startStaticBody(repoRoot, answer);
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    const load = await closedLoop(url, connections, seconds, headers);
    const p = await paced(url, connections, seconds, headers);
    return { bytes: answer.body.length, load, paced: p };
  } finally {
    await stopChild(child);
  }
}
