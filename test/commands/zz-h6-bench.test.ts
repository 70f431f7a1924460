import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
// @ts-expect-error no types
import autocannon from 'autocannon';
import { afterAll, it } from 'vitest';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { samplesOf, parseExposition } from '../helpers/metrics-lint.js';
import { get } from '../server/http-client.js';
import { podNetns } from './pod-netns.js';

let h: ContainerdHarness | undefined;
let child: ReturnType<typeof spawn> | undefined;
afterAll(async () => {
  child?.kill('SIGKILL');
  await h?.stop();
});

it('bench', async () => {
  h = await startContainerd({ name: 'h6bench' });
  const pods = [];
  for (let i = 0; i < 20; i++) pods.push(await h.runPod({ name: `bench-${i}`, namespace: 'h6bench', containers: i % 4 === 0 ? ['app', 'sidecar'] : ['app'] }));
  for (let i = 0; i < 5; i++) {
    const r = new ChaosMeshReplay(podNetns(pods[i]!.netnsPath), 'legacy');
    await r.bandwidth({ rate: 1_000_000, burst: 32_000, limit: 64_000 });
    const l = r.partitionLayout({ experiment: `bench-exp-${i}`, direction: 'to', cidrs: ['10.9.0.0/24'] });
    await r.flushIpsets(l.sets);
    await r.setIptablesChains([l.chain]);
  }
  child = spawn(process.execPath, ['/tmp/h6-launcher.mjs', 'serve', '--listen', '127.0.0.1:0', '--runtime-endpoint', h.endpoint, '--interval', process.env.H6_INTERVAL ?? '3s'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let port = 0;
  while (!port) { const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(err); if (m) port = Number(m[1]); await sleep(20); }
  const durations: number[] = []; const cpus: number[] = []; const spawns: number[] = [];
  let last = 0;
  while (durations.length < Number(process.env.H6_N ?? 5)) {
    const t = (await get(port, '/metrics')).text;
    const ts = samplesOf(t, 'chaos_daemon_last_collection_timestamp_seconds')[0]?.value ?? 0;
    if (ts !== last) {
      last = ts;
      durations.push(samplesOf(t, 'chaos_daemon_collection_duration_seconds')[0]!.value);
      cpus.push(samplesOf(t, 'chaos_daemon_collection_cpu_seconds')[0]!.value);
      spawns.push(samplesOf(t, 'chaos_daemon_collection_spawned_processes')[0]!.value);
    }
    await sleep(200);
  }
  const text = (await get(port, '/metrics')).text;
  const { families } = parseExposition(text);
  const perPod = (name: string) => [...families.values()].reduce((n, f) => n + f.samples.filter((s) => s.labels.pod === name).length, 0);
  const total = [...families.values()].reduce((n, f) => n + f.samples.length, 0);
  const res = await autocannon({ url: `http://127.0.0.1:${port}/metrics`, connections: 10, duration: 8 });
  const resGz = await autocannon({ url: `http://127.0.0.1:${port}/metrics`, connections: 10, duration: 5, headers: { 'accept-encoding': 'gzip' } });
  process.stderr.write(`[h6bench] durations ${JSON.stringify(durations)} cpu ${JSON.stringify(cpus)} spawns ${JSON.stringify(spawns)}\n`);
  process.stderr.write(`[h6bench] bytes ${Buffer.byteLength(text)} samples total ${total}; per pod: chaos 1-container ${perPod('bench-1')}, chaos 2-container ${perPod('bench-0')}, clean 1-container ${perPod('bench-5')}, clean 2-container ${perPod('bench-8')}\n`);
  process.stderr.write(`[h6bench] plain: p50 ${res.latency.p50} ms p99 ${res.latency.p99} ms rps ${res.requests.average} errors ${res.errors} non2xx ${res.non2xx}\n`);
  process.stderr.write(`[h6bench] gzip: p50 ${resGz.latency.p50} ms p99 ${resGz.latency.p99} ms rps ${resGz.requests.average} non2xx ${resGz.non2xx}\n`);
  process.stderr.write(`[h6bench] log lines ${err.trim().split('\n').length}: ${err.trim().split('\n').map((l) => l.startsWith('{') ? JSON.parse(l).msg : l).join(' | ')}\n`);
  child.kill('SIGTERM');
  await sleep(500);
}, 180_000);
