/**
 * `chaos-node-agent serve` (the built CLI) against a real containerd pod: it serves /metrics, /readyz and /healthz
 * from its background collection, then exits 0 on SIGTERM. SIGTERM at worse moments (mid-collection, during a hung
 * tool, under scrape load) is in test/faults/lifecycle.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { lintExposition, PROM_CLIENT_GAUGE_TOTALS, valueOf } from '../helpers/metrics-lint.js';
import { LOADED_MACHINE_DEADLINES, startServe, type ServeProcess } from '../helpers/serve.js';
import { get } from '../server/http-client.js';

const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;

describe('serve command without a usable debug token file', () => {
  it('starts, logs that /debug/* is locked, and keeps serving /metrics and /healthz', async () => {
    const s = await startServe(['--runtime-endpoint', 'unix:///nonexistent/h6.sock', '--debug-token-file', '/nonexistent/h6-token', '--interval', '30s']);
    try {
      expect((await get(s.port, '/debug/pods', { headers: { Authorization: 'Bearer x' } })).status).toBe(401);
      expect((await get(s.port, '/healthz')).status).toBe(200);
      const lines = s.stderr().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; problem?: string; debug?: string });
      expect(lines.map((l) => [l.msg, l.problem ?? l.debug ?? ''])).toEqual([
        ['/debug/* locked: no usable token', 'cannot stat /nonexistent/h6-token: ENOENT'],
        ['serving', 'token'],
      ]);
    } finally {
      expect((await s.stop()).code).toBe(0);
    }
  });
});

describe('serve command on a port already taken', () => {
  it('says it cannot listen, prefixed like every command error, and exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await execa(process.execPath, [CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--runtime-endpoint', 'unix:///nonexistent/h6.sock', '--kube', 'off', '--log-level', 'error'],
        { reject: false, timeout: 30_000 });
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr).split('\n').filter((l) => !l.startsWith('{'))).toEqual([`chaos-node-agent serve: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}`]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describeIntegration('serve command', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter'] }, () => {
  let h: ContainerdHarness | undefined;
  let pod: TestPod;
  let dir: string;
  const children: ServeProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-serve-'));
    h = await startContainerd({ name: 'h6serve' });
    pod = await h.runPod({ name: uniqueName('h6srv'), namespace: 'h6serve' });
  });

  afterAll(async () => {
    for (const c of children) await c.stop(1000);
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves metrics, readiness and health from its background collection, and exits 0 on SIGTERM', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'h6-debug-token\n');
    const s = await startServe(['--runtime-endpoint', h!.endpoint, '--interval', '30s', '--debug-token-file', tokenFile, ...LOADED_MACHINE_DEADLINES]);
    children.push(s);
    const metrics = await get(s.port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(lintExposition(metrics.text, { allowNonCounterTotal: PROM_CLIENT_GAUGE_TOTALS })).toEqual([]);
    expect(valueOf(metrics.text, 'chaos_daemon_pod_verdict', { namespace: 'h6serve', pod: pod.name, verdict: 'clean' })).toBe(1);
    // serve follows the containers' mount events (this kernel has them): the family is there, 0 after one collection.
    expect(valueOf(metrics.text, 'chaos_daemon_root_reader_mount_tables_skipped_total')).toBe(0);
    expect((await get(s.port, '/readyz')).status).toBe(200);
    expect((await get(s.port, '/healthz')).text).toBe('ok\n');
    expect((await get(s.port, `/debug/pods/h6serve/${pod.name}`)).status).toBe(401);
    const debug = JSON.parse((await get(s.port, `/debug/pods/h6serve/${pod.name}`, { headers: { Authorization: 'Bearer h6-debug-token' } })).text) as { pods: { name: string; chaos: { verdict: string } }[] };
    expect(debug.pods.map((p) => [p.name, p.chaos.verdict])).toEqual([[pod.name, 'clean']]);
    // Nothing logged per scrape at info: only the start line.
    expect(s.stderr().trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['serving']);

    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const exit = await s.exited;
    expect(exit.code).toBe(0);
    // Well within the DaemonSet's 10 s termination grace period; measured from this process, across a signal
    // delivery and an exit that a loaded machine can delay (serve itself gives requests 0.5 s).
    expect(exit.at - t0).toBeLessThan(5000);
    expect(s.stderr()).toContain('"msg":"stopped"');
  });

  it('releases the file pages mapped at start before its first collection and once it is out, and serves on', async () => {
    const s = await startServe(['--runtime-endpoint', h!.endpoint, '--interval', '30s', '--log-level', 'debug', ...LOADED_MACHINE_DEADLINES]);
    children.push(s);
    expect((await get(s.port, '/metrics')).status).toBe(200);
    type Release = { mappings: number; releasedKb: number; failed: number; when: string };
    const released = async (): Promise<Release[]> => {
      let lines: Release[] = [];
      for (let i = 0; i < 100 && lines.length < 2; i++) {
        lines = s.stderr().split('\n').filter((l) => l.includes('"msg":"released the file pages mapped at start"')).map((l) => JSON.parse(l) as Release);
        if (lines.length < 2) await new Promise((r) => setTimeout(r, 100));
      }
      return lines;
    };
    const [start, first] = await released();
    // Before the first collection: what starting node and loading the bundle mapped (~20 MB on this machine).
    expect(start).toMatchObject({ when: 'start', failed: 0 });
    expect(start!.releasedKb).toBeGreaterThan(10_000);
    // After it: what the first collection mapped again or anew (koffi, the reader thread's start, the decoders).
    expect(first).toMatchObject({ when: 'first collection', failed: 0 });
    expect(first!.mappings).toBeGreaterThan(0);
    const metrics = await get(s.port, '/metrics');
    expect(valueOf(metrics.text, 'chaos_daemon_pod_verdict', { namespace: 'h6serve', pod: pod.name, verdict: 'clean' })).toBe(1);
    expect((await s.stop()).code).toBe(0);
  });
});
