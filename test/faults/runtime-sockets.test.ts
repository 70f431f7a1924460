/**
 * Runtime sockets that are not there yet, or never answer, for real:
 * - discovery at every collection: `serve --host-root` on an empty temp root; then a real containerd and a real
 *   dockerd start with their sockets at the well-known paths under it, and the next collection uses both;
 * - a unix socket that accepts and never answers, as a CRI and as a Docker endpoint next to a real containerd: each
 *   call is cut at --runtime-timeout, those endpoints are down, the containerd pod is read, and collections go on
 *   without piling up connections.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { samplesOf, valueOf } from '../helpers/metrics-lint.js';
import { LOADED_MACHINE_DEADLINES, startServe, type ServeProcess } from '../helpers/serve.js';
import { collectedAt, collectionsUntil, nextCollection, scrape, startedAt } from '../helpers/serve-scrape.js';

const NS = 'f8sock';
const INTERVAL_MS = 1000;
/** --runtime-timeout of the silent-socket test. */
const RUNTIME_TIMEOUT_S = 4;

interface HungServer {
  url: string;
  accepted(): number;
  open(): number;
  close(): Promise<void>;
}

/** A unix socket server that accepts every connection, reads what it is sent (so it sees closes) and never writes. */
async function hungServer(path: string): Promise<HungServer> {
  const open = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((sock) => {
    accepted++;
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.on('error', () => open.delete(sock)); // the agent resetting the connection is expected
    sock.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    url: `unix://${path}`,
    accepted: () => accepted,
    open: () => open.size,
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describeIntegration('runtime sockets that appear late or never answer', { root: true, commands: ['containerd', 'runc', 'ctr', 'dockerd', 'nsenter'] }, () => {
  let root: string | undefined;
  let h: ContainerdHarness | undefined;
  let d: Dockerd | undefined;
  let ctdPod: TestPod | undefined;
  const servers: HungServer[] = [];
  const serves: ServeProcess[] = [];

  afterAll(async () => {
    for (const s of serves) await s.stop(1000);
    await Promise.allSettled([h?.stop(), d?.stop(), ...servers.map((s) => s.close())]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('discovers runtimes whose sockets appear under --host-root after start-up, at the next collection', async () => {
    root = await mkdtemp(join(tmpdir(), 'cna-f8root-'));
    // Room for daemons that just started on a loaded machine (the silent socket test below is the one about
    // deadlines).
    const s = await startServe(['--debug-insecure', '--host-root', root, '--interval', `${INTERVAL_MS}ms`, ...LOADED_MACHINE_DEADLINES]);
    serves.push(s);
    const empty = await nextCollection(s, 0);
    const up = samplesOf(empty, 'chaos_daemon_runtime_up');
    expect(up.map((x) => x.labels.endpoint).sort()).toEqual([
      'unix:///run/containerd/containerd.sock', 'unix:///run/crio/crio.sock', 'unix:///run/k3s/containerd/containerd.sock',
      'unix:///var/run/cri-dockerd.sock', 'unix:///var/run/crio/crio.sock', 'unix:///var/run/docker.sock',
    ]);
    expect(up.every((x) => x.value === 0)).toBe(true);

    [h, d] = await Promise.all([
      startContainerd({ name: 'f8sock', socket: join(root, 'run/containerd/containerd.sock') }),
      startDockerd({ socket: join(root, 'var/run/docker.sock') }),
    ]);
    ctdPod = await h.runPod({ name: uniqueName('f8ct'), namespace: NS });
    const dockerPod = { namespace: NS, name: uniqueName('f8dk'), uid: uniqueName('uid') };
    await d.runSandbox(dockerPod);
    const ready = Date.now() / 1000;
    const ctd = { runtime: 'containerd', endpoint: 'unix:///run/containerd/containerd.sock' };
    const docker = { runtime: 'docker', endpoint: 'unix:///var/run/docker.sock' };
    const both = (t: string): boolean => valueOf(t, 'chaos_daemon_pods', { runtime: 'docker', state: 'ready' }) === 1 && valueOf(t, 'chaos_daemon_pods', { runtime: 'containerd', state: 'ready' }) === 1;
    const after = await collectionsUntil(s, ready, both);
    const seen = after[after.length - 1]!;
    // No collection started once the pods existed missed them (under load, one started before may still end after).
    expect(after.filter((t) => startedAt(t) >= ready && !both(t)).map(startedAt)).toEqual([]);
    expect(valueOf(seen, 'chaos_daemon_runtime_up', ctd)).toBe(1);
    expect(valueOf(seen, 'chaos_daemon_runtime_up', docker)).toBe(1);
    for (const name of [ctdPod.name, dockerPod.name]) expect(valueOf(seen, 'chaos_daemon_pod_verdict', { namespace: NS, pod: name, verdict: 'clean' })).toBe(1);
    console.log(`late runtimes used by the collection that started ${(startedAt(seen) - ready).toFixed(2)} s after their pods existed (interval ${INTERVAL_MS / 1000} s)`);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 180_000);

  it('a socket that accepts and never answers (CRI and Docker): cut at --runtime-timeout, down, the rest collected, no connection pile-up', async () => {
    root ??= await mkdtemp(join(tmpdir(), 'cna-f8root-'));
    h ??= await startContainerd({ name: 'f8sock' });
    ctdPod ??= await h.runPod({ name: uniqueName('f8ct'), namespace: NS });
    const cri = await hungServer(join(root, 'hung-cri.sock'));
    const docker = await hungServer(join(root, 'hung-docker.sock'));
    servers.push(cri, docker);
    // The deadline applies to the real containerd too: 500 ms cut it on a loaded machine (runtime_up 0).
    const s = await startServe(['--debug-insecure', '--runtime-endpoint', cri.url, '--runtime-endpoint', h.endpoint, '--docker-endpoint', docker.url, '--runtime-timeout', `${RUNTIME_TIMEOUT_S}s`, '--interval', `${INTERVAL_MS}ms`,
      '--namespace-timeout', '30s', '--command-timeout', '20s']); // the pod's namespace read is not what is timed here
    serves.push(s);

    let text = await nextCollection(s, 0);
    for (let i = 0; i < 4; i++) text = await nextCollection(s, collectedAt(text));
    expect(valueOf(text, 'chaos_daemon_runtime_up', { runtime: 'cri', endpoint: cri.url })).toBe(0);
    expect(valueOf(text, 'chaos_daemon_runtime_up', { runtime: 'docker', endpoint: docker.url })).toBe(0);
    expect(valueOf(text, 'chaos_daemon_runtime_up', { runtime: 'containerd', endpoint: h.endpoint })).toBe(1);
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: ctdPod.name, verdict: 'clean' })).toBe(1);
    // Each collection waits for the silent endpoints (in parallel) about their deadline, not longer (without it:
    // forever); room for a loaded machine, below two deadlines.
    const seconds = valueOf(text, 'chaos_daemon_collection_duration_seconds')!;
    expect(seconds).toBeLessThan(2 * RUNTIME_TIMEOUT_S);
    // Five collections later: the silent servers hold at most a couple of connections each, not one per call.
    console.log(`collection with two silent endpoints: ${seconds.toFixed(2)} s; after 5 collections: CRI accepted ${cri.accepted()} (open ${cri.open()}), Docker accepted ${docker.accepted()} (open ${docker.open()})`);
    expect(cri.open()).toBeLessThanOrEqual(2);
    expect(docker.open()).toBeLessThanOrEqual(2);
    const errors = (await scrape(s)).split('\n').filter((l) => l.startsWith('chaos_daemon_runtime_request_duration_seconds_count'));
    expect(errors.some((l) => /code="(DEADLINE_EXCEEDED|TIMEOUT)"/.test(l))).toBe(true);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 180_000);
});
