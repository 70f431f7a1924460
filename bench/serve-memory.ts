/**
 * Memory trend and event-loop blocking of the real `serve` over many collections (issue 5's RSS target):
 * `node dist/bench/serve-memory.js [--pods 30] [--collections 60] [--interval 1s] [--every 5] [--load-seconds 10]
 * [--node-flag=--xyz]...`. Starts a real containerd with N pods of 2 containers carrying the bench's Chaos Mesh
 * state (bench/inject.ts), then runs `serve` exactly as bench/serve-load.ts does (the shipped launcher, its V8
 * flags and environment; --no-default-flags: neither, --env K=V on top) plus the bench-only probe
 * (bench/heap-probe.ts: --expose-gc, SIGUSR2 -> GC + one HEAPPROBE line).
 * Every `--every` collections it records VmRSS, heap used after a full GC, external memory and the event loop's
 * worst delay since the previous sample; with --load-seconds, 50 autocannon clients scrape during the first
 * collections. Prints a table and the heap-after-GC slope (bytes per collection over the second half). Tears
 * everything down, also on failure or SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AgentError, errorMessage } from '../agent/errors.js';
import { startContainerd, type ContainerdHarness } from '../test/helpers/containerd.js';
import { autocannon } from './autocannon.js';
import { onLines } from './children.js';
import { chaosLayout, injectChaos } from './inject.js';
import { mapLimit, processMemory, shippedEnv, shippedNodeFlags } from './measure.js';
import { PROMETHEUS_ACCEPT } from './serve-load.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (m: string): void => void process.stderr.write(`[serve-memory ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  collections: number;
  rssBeforeGc: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, number>;
  resident: { fileKb: number; brkKb: number; anonKb: number };
  gcMs: number;
  cpuMs: number;
  eventLoop: { maxMs: number; p99Ms: number; meanMs: number };
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, timeout: 10_000 }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new AgentError('BENCH_HTTP', `${path}: timeout`)));
    req.on('error', rej);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pods: { type: 'string', default: '30' },
      collections: { type: 'string', default: '60' },
      interval: { type: 'string', default: '1s' },
      every: { type: 'string', default: '5' },
      'load-seconds': { type: 'string', default: '0' },
      'node-flag': { type: 'string', multiple: true },
      'no-default-flags': { type: 'boolean', default: false },
      env: { type: 'string', multiple: true },
    },
  });
  const pods = Number(values.pods);
  const collections = Number(values.collections);
  const every = Number(values.every);
  const loadSeconds = Number(values['load-seconds']);
  const flags = [...(values['no-default-flags'] ? [] : await shippedNodeFlags(repoRoot)), ...(values['node-flag'] ?? [])];
  const env = values['no-default-flags'] ? {} : await shippedEnv(repoRoot);
  let h: ContainerdHarness | null = null;
  let child: ChildProcess | null = null;
  const stop = async (): Promise<void> => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => child?.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    if (h) await h.stop();
    h = null;
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    h = await startContainerd({ name: 'servemem' });
    const t0 = performance.now();
    const created = await mapLimit(Array.from({ length: pods }, (_, i) => i), 8, (i) =>
      h!.runPod({ name: `mem-${String(i).padStart(3, '0')}`, namespace: 'bench', containers: ['app', 'sidecar'] }));
    const ok = created.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ netnsPath: string }>).value);
    if (ok.length !== pods) throw new AgentError('BENCH_SETUP', `${pods - ok.length} pods failed`);
    const layout = chaosLayout();
    const inj = await mapLimit(ok, 8, (p) => injectChaos(p.netnsPath, layout));
    if (inj.some((r) => r.status === 'rejected')) throw new AgentError('BENCH_SETUP', 'chaos injection failed');
    log(`${pods} pods with chaos state in ${((performance.now() - t0) / 1000).toFixed(1)} s; node flags: ${flags.join(' ') || '(none)'}; env: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}`);

    child = spawn(process.execPath,
      [...flags, '--expose-gc', '--import', join(repoRoot, 'dist', 'bench', 'heap-probe.js'), join(repoRoot, 'bin', 'chaos-node-agent.js'),
        'serve', '--listen', '127.0.0.1:0', '--runtime-endpoint', h.endpoint, '--interval', values.interval!, '--log-level', 'info'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env, ...Object.fromEntries((values.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) } });
    const probes: Probe[] = [];
    let pending: ((p: Probe) => void) | null = null;
    let seen = 0;
    const portP = new Promise<number>((res, rej) => {
      onLines(child!.stderr!, (line) => {
        const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(line);
        if (m) res(Number(m[1]));
        if (line.startsWith('HEAPPROBE ') && pending) {
          const p = { collections: seen, ...(JSON.parse(line.slice(10)) as Omit<Probe, 'collections'>) };
          const f = pending;
          pending = null;
          f(p);
        } else if (!line.includes('"msg":"injection') && line.includes('"level":')) {
          if (/"level":(40|50|60)/.test(line)) log(`serve: ${line.slice(0, 300)}`);
        }
      });
      child!.once('exit', (code) => rej(new AgentError('BENCH_SERVE', `serve exited ${code}`)));
    });
    const port = await portP;
    const probe = (): Promise<Probe> => new Promise((res) => {
      pending = res;
      process.kill(child!.pid!, 'SIGUSR2');
    });
    let lastTs = '';
    const waitCollection = async (): Promise<void> => {
      for (;;) {
        const r = await get(port, '/metrics').catch(() => ({ status: 0, body: '' }));
        const ts = /^chaos_daemon_last_collection_timestamp_seconds (\S+)$/m.exec(r.body)?.[1];
        if (ts && ts !== lastTs) {
          lastTs = ts;
          seen += 1;
          return;
        }
        await sleep(50);
      }
    };
    await waitCollection();
    probes.push(await probe());
    let load: Promise<unknown> | null = null;
    if (loadSeconds > 0) {
      load = autocannon({ url: `http://127.0.0.1:${port}/metrics`, connections: 50, duration: loadSeconds, headers: { accept: PROMETHEUS_ACCEPT, 'accept-encoding': 'gzip' }, timeout: 10 })
        .then((r) => log(`load: ${r.requests.total} requests, p50 ${r.latency.p50} p99 ${r.latency.p99} max ${r.latency.max} ms, errors ${r.errors + r.non2xx}`));
    }
    while (seen < collections) {
      await waitCollection();
      if (seen % every === 0) probes.push(await probe());
    }
    await load;
    const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
    process.stdout.write('| collections | VmRSS MiB | RSS after GC | heap used after GC | heap total | external | arrayBuffers | new space | old space | code | file/brk/anon resident MiB | event loop max ms | GC ms (total) | CPU ms (total) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n');
    for (const p of probes) {
      process.stdout.write(`| ${p.collections} | ${mb(p.rssBeforeGc)} | ${mb(p.rss)} | ${mb(p.heapUsed)} | ${mb(p.heapTotal)} | ${mb(p.external)} | ${mb(p.arrayBuffers)} | ${mb(p.spaces.new_space ?? 0)} | ${mb(p.spaces.old_space ?? 0)} | ${mb(p.spaces.code_space ?? 0)} | ${mb(p.resident.fileKb * 1024)}/${mb(p.resident.brkKb * 1024)}/${mb(p.resident.anonKb * 1024)} | ${p.eventLoop.maxMs} | ${p.gcMs} | ${p.cpuMs} |\n`);
    }
    // The peak (the bench's RSS target is on VmRSS and VmHWM): start-up and the first collections included.
    process.stdout.write(`VmHWM ${mb((await processMemory(child.pid!)).hwmBytes)} MiB\n`);
    const half = probes.slice(Math.floor(probes.length / 2));
    if (half.length >= 2) {
      const slope = (half.at(-1)!.heapUsed - half[0]!.heapUsed) / (half.at(-1)!.collections - half[0]!.collections);
      process.stdout.write(`heap used after GC, second half: ${Math.round(slope)} bytes per collection\n`);
    }
  } finally {
    await stop().catch((err: unknown) => log(`teardown: ${errorMessage(err)}`));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`serve-memory: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
