/**
 * A real Prometheus (Debian's `prometheus` package, 2.42) for tests and the demo: its own config, rule file, data
 * directory and port on 127.0.0.1, started through `setpriv --pdeathsig SIGKILL` (it dies with the process that
 * started it, even one that crashed), stopped by PID (SIGTERM, then SIGKILL), its directory removed. The Debian
 * package starts no server by itself without systemd; nothing here touches /etc/prometheus or its service.
 * Config and rules are written as JSON, which Prometheus' YAML loader reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PrometheusOptions {
  /** Labels the temp dir and errors. */
  name?: string;
  /** `scrape_configs` entries, as in prometheus.yml. */
  scrapeConfigs: Record<string, unknown>[];
  /** Rule groups (`groups:` of a rule file), evaluated every `evaluationInterval`. */
  ruleGroups?: unknown[];
  scrapeInterval?: string;
  evaluationInterval?: string;
}

export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Target {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export interface RuleGroup {
  name: string;
  rules: { name: string; query: string; health: string; lastError?: string; type: 'alerting' | 'recording'; state?: string }[];
}

export interface PrometheusHarness {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  pid: number;
  dir: string;
  version: string;
  /** Prometheus' log so far (logfmt). */
  log(): string;
  /** GET /api/v1/<path>; throws unless status is success. */
  api<T>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  query(expr: string): Promise<InstantSample[]>;
  targets(): Promise<Target[]>;
  alerts(): Promise<Alert[]>;
  rules(): Promise<RuleGroup[]>;
  /** Prometheus' own /metrics text. */
  selfMetrics(): Promise<string>;
  stop(): Promise<void>;
}

const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A port free on 127.0.0.1 right now (Prometheus needs it on its command line). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Poll `fn` until it returns something truthy; the last value or error is in the timeout message. */
export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.errorType ?? res.status}: ${body.error ?? ''}`);
  return body.data;
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function prometheusVersion(): Promise<string> {
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn('prometheus', ['--version'], { env: { PATH: PATH_ENV } });
    let s = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.stderr.on('data', (d: Buffer) => (s += d.toString()));
    c.once('error', reject);
    c.once('exit', () => resolve(s));
  });
  const m = /prometheus, version (\S+)/.exec(out);
  if (!m) throw new Error(`prometheus --version: unexpected output: ${out.slice(0, 200)}`);
  return m[1]!;
}

async function launch(dir: string, port: number): Promise<{ child: ChildProcess; log: () => string; exited: Promise<number | null> }> {
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'prometheus',
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=info',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: PATH_ENV }, cwd: dir });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (log.length < 8 << 20) log += d.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHarness> {
  const dir = await mkdtemp(join(tmpdir(), `cna-prom-${opts.name ?? 'test'}-`));
  const config: Record<string, unknown> = {
    global: { scrape_interval: opts.scrapeInterval ?? '1s', scrape_timeout: opts.scrapeInterval ?? '1s', evaluation_interval: opts.evaluationInterval ?? '1s' },
    scrape_configs: opts.scrapeConfigs,
  };
  if (opts.ruleGroups) {
    await writeFile(join(dir, 'rules.yml'), JSON.stringify({ groups: opts.ruleGroups }, null, 2));
    config.rule_files = [join(dir, 'rules.yml')];
  }
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const version = await prometheusVersion();

  let started: Awaited<ReturnType<typeof launch>> | null = null;
  let port = 0;
  try {
    for (let attempt = 0; attempt < 3 && !started; attempt++) {
      port = await freePort();
      const p = await launch(dir, port);
      const ready = await Promise.race([
        waitFor('Prometheus /-/ready', async () => (await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok, 30_000, 100),
        p.exited.then((code) => {
          throw new Error(`prometheus exited ${code}: ${p.log().slice(-2000)}`);
        }),
      ]).catch(async (err: unknown) => {
        await stopChild(p.child, 2_000);
        if (/address already in use/.test(p.log()) && attempt < 2) return false; // the port was taken meanwhile: retry
        throw err;
      });
      if (ready) started = p;
    }
    if (!started) throw new Error('prometheus: no free port after 3 attempts');
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const { child, log } = started;
  const url = `http://127.0.0.1:${port}`;
  const api = <T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
    return getJson<T>(`${url}/api/v1/${path}${qs.size ? `?${qs.toString()}` : ''}`);
  };
  return {
    port,
    url,
    pid: child.pid!,
    dir,
    version,
    log,
    api,
    query: async (expr) => (await api<{ resultType: string; result: InstantSample[] }>('query', { query: expr })).result,
    targets: async () => (await api<{ activeTargets: Target[] }>('targets', { state: 'active' })).activeTargets,
    alerts: async () => (await api<{ alerts: Alert[] }>('alerts')).alerts,
    rules: async () => (await api<{ groups: RuleGroup[] }>('rules')).groups,
    selfMetrics: async () => (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text(),
    stop: async () => {
      await stopChild(child, 5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
