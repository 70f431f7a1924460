/**
 * The CRI runtime client against a REAL containerd + runc + CNI (test/helpers/containerd.ts): real pods, real
 * PIDs and network namespaces, a container restart, a host-network pod, containerd killed and restarted.
 */
import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RuntimeError } from '../../agent/errors.js';
import { createCriRuntime } from '../../agent/runtime/cri-runtime.js';
import type { Endpoint, PodInfo, RuntimeClient } from '../../agent/runtime/types.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { describeIntegration } from '../helpers/env.js';

const ino = async (path: string): Promise<number> => (await stat(path)).ino;

describeIntegration('CRI runtime on a real containerd', { root: true, commands: ['containerd', 'runc', 'ctr', 'ip'] }, () => {
  let h: ContainerdHarness;
  let endpoint: Endpoint;
  let rt: RuntimeClient;
  let web: TestPod;
  let host: TestPod;
  const clients: RuntimeClient[] = [];
  const newClient = (): RuntimeClient => {
    const c = createCriRuntime(endpoint, { timeoutMs: 15_000, procRoot: '/proc', hostRoot: '/' });
    clients.push(c);
    return c;
  };
  const find = (pods: PodInfo[], sandboxId: string): PodInfo => {
    const p = pods.find((x) => x.sandboxId === sandboxId);
    if (!p) throw new Error(`sandbox ${sandboxId} not listed (got ${pods.map((x) => x.name).join(', ')})`);
    return p;
  };

  beforeAll(async () => {
    h = await startContainerd({ name: 'crirt' });
    endpoint = { protocol: 'cri', url: h.endpoint, socketPath: h.socket, source: 'flag' };
    [web, host] = await Promise.all([
      h.runPod({ name: 'web', namespace: 'shop', uid: 'uid-web-1', containers: ['app', 'sidecar'] }),
      h.runPod({ name: 'hostpod', namespace: 'kube-system', hostNetwork: true }),
    ]);
    rt = newClient();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.stop();
  });

  it('reports containerd through Version', async () => {
    const s = await rt.status();
    expect(s).toMatchObject({ up: true, runtime: 'containerd', apiVersion: 'v1', criApi: 'v1', error: null, protocol: 'cri' });
    expect(s.version).toMatch(/^1\.6\./);
  });

  it('finds pods with their names, sandbox PID and netns inode', async () => {
    const pods = await rt.listPods();
    const p = find(pods, web.sandboxId);
    expect(p).toMatchObject({
      namespace: 'shop',
      name: 'web',
      uid: 'uid-web-1',
      runtime: 'containerd',
      endpoint: h.endpoint,
      state: 'SANDBOX_READY',
      pid: web.pid,
      hostNetwork: false,
    });
    expect(p.reason).toBeUndefined();
    expect(p.netns).toEqual({ inode: await ino(`/proc/${web.pid}/ns/net`), path: `/proc/${web.pid}/ns/net` });
    // containerd's own netns file is the same namespace.
    expect(await ino(web.netnsPath)).toBe(p.netns!.inode);
    expect(web.netnsPath).toMatch(/^\/var\/run\/netns\/cni-/);
  });

  it('gives each running container its PID, and the containers of one pod share one netns', async () => {
    const p = find(await rt.listPods(), web.sandboxId);
    expect(p.containers.map((c) => [c.name, c.state]).sort()).toEqual([
      ['app', 'CONTAINER_RUNNING'],
      ['sidecar', 'CONTAINER_RUNNING'],
    ]);
    expect(p.containers.map((c) => c.id).sort()).toEqual(web.containers.map((c) => c.id).sort());
    for (const c of p.containers) {
      expect(c.pid).not.toBeNull();
      expect(c.pid).not.toBe(web.pid);
      expect(await ino(`/proc/${c.pid}/ns/net`)).toBe(p.netns!.inode);
      expect(await readFile(`/proc/${c.pid}/cmdline`, 'utf8')).toBe('/bin/sleep\u00003600\u0000');
    }
  });

  it('marks a host-network pod (NamespaceMode NODE; same netns as the containerd it runs under)', async () => {
    const p = find(await rt.listPods(), host.sandboxId);
    expect(p).toMatchObject({ name: 'hostpod', namespace: 'kube-system', hostNetwork: true, pid: host.pid, state: 'SANDBOX_READY' });
    expect(p.netns!.inode).toBe(await ino(`/proc/${h.pid}/ns/net`));
    expect(p.netns!.inode).not.toBe(find(await rt.listPods(), web.sandboxId).netns!.inode);
  });

  it('listPods({ resolve }): status calls only for the pods asked for; the others listed without PIDs, then resolvable', async () => {
    const c = newClient();
    await c.status();
    const before = c.requestCount;
    const pods = await c.listPods({ resolve: (p) => p.namespace === 'shop' && p.name === 'web' });
    // ListPodSandbox + ListContainers + web's PodSandboxStatus + 2 ContainerStatus; nothing for hostpod.
    expect(c.requestCount - before).toBe(5);
    const w = find(pods, web.sandboxId);
    expect(w.pid).toBe(web.pid);
    expect(w.unresolvedByRequest).toBeUndefined();
    expect(w.containers).toHaveLength(2);
    expect(w.containers.every((x) => x.pid !== null && x.pid > 0)).toBe(true);
    const other = find(pods, host.sandboxId);
    expect(other).toMatchObject({ name: 'hostpod', pid: null, netns: null, unresolvedByRequest: true, reason: 'not resolved (not asked for)' });
    expect(other.containers.map((x) => x.pid)).toEqual([null]);
    // Nothing was cached for the pod not asked for: a full listing resolves it (and only it: web's answers are cached).
    const mid = c.requestCount;
    const all = await c.listPods();
    expect(c.requestCount - mid).toBe(2 + 2);
    expect(find(all, host.sandboxId)).toMatchObject({ pid: host.pid, hostNetwork: true });
    expect(find(all, host.sandboxId).unresolvedByRequest).toBeUndefined();
    // The same pod, resolved the same (containers in ListContainers' order, which containerd does not keep stable).
    const byName = (p: typeof w) => ({ ...p, containers: [...p.containers].sort((a, b) => a.name.localeCompare(b.name)) });
    expect(byName(find(all, web.sandboxId))).toEqual(byName(w));
  });

  it('keeps the pod netns across a container restart; the new container gets a new PID in it', async () => {
    const before = find(await rt.listPods(), web.sandboxId);
    const app = before.containers.find((c) => c.name === 'app')!;
    await h.stopContainer(app.id);
    const stopped = find(await rt.listPods(), web.sandboxId);
    expect(stopped.containers.find((c) => c.id === app.id)).toMatchObject({ state: 'CONTAINER_EXITED', pid: null });
    expect(stopped.netns).toEqual(before.netns);

    const newId = await h.startContainer(app.id);
    expect(newId).not.toBe(app.id);
    const after = find(await rt.listPods(), web.sandboxId);
    expect(after.netns).toEqual(before.netns);
    expect(after.pid).toBe(before.pid);
    const restarted = after.containers.find((c) => c.id === newId)!;
    expect(restarted).toMatchObject({ name: 'app', state: 'CONTAINER_RUNNING' });
    expect(restarted.pid).not.toBe(app.pid);
    expect(await ino(`/proc/${restarted.pid}/ns/net`)).toBe(before.netns!.inode);
    expect(after.containers.find((c) => c.id === app.id)).toMatchObject({ state: 'CONTAINER_EXITED', pid: null });
  });

  it('returns CPU and memory stats per container', async () => {
    const running = find(await rt.listPods(), web.sandboxId).containers.filter((c) => c.state === 'CONTAINER_RUNNING');
    const stats = await rt.containerStats();
    const mine = stats.filter((s) => running.some((c) => c.id === s.containerId));
    expect(mine.map((s) => [s.name, s.sandboxId]).sort()).toEqual([
      ['app', web.sandboxId],
      ['sidecar', web.sandboxId],
    ]);
    for (const s of mine) {
      expect(typeof s.cpuSeconds).toBe('number');
      expect(s.cpuSeconds!).toBeGreaterThanOrEqual(0);
      expect(s.cpuSeconds!).toBeLessThan(60);
      expect(s.memoryWorkingSetBytes!).toBeGreaterThan(0);
    }
  });

  it('costs a constant number of runtime calls per steady-state listPods (1 vs 3 pods, 10 pods)', async () => {
    const rc = newClient();
    await rc.listPods(); // cold: Version + 2 lists + one status per sandbox + one per running container
    let n = rc.requestCount;
    await rc.listPods();
    const steadyBefore = rc.requestCount - n;

    const extra = await Promise.all([h.runPod({ name: 'extra-1' }), h.runPod({ name: 'extra-2' })]);
    n = rc.requestCount;
    await rc.listPods();
    expect(rc.requestCount - n).toBe(2 + 2 /* PodSandboxStatus */ + 2 /* ContainerStatus */);
    n = rc.requestCount;
    const pods = await rc.listPods();
    expect(rc.requestCount - n).toBe(steadyBefore);
    expect(steadyBefore).toBe(2);
    for (const e of extra) expect(find(pods, e.sandboxId).netns?.inode).toBe(await ino(`/proc/${e.pid}/ns/net`));

    // Measurement with 10 real pods (cold = fresh client, warm = second call).
    const more = await Promise.all(Array.from({ length: 6 }, (_, i) => h.runPod({ name: `m-${i}` })));
    const rm = newClient();
    let t = performance.now();
    const cold = await rm.listPods();
    const coldMs = performance.now() - t;
    const coldCalls = rm.requestCount;
    t = performance.now();
    await rm.listPods();
    const warmMs = performance.now() - t;
    expect(cold.length).toBe(10);
    expect(rm.requestCount - coldCalls).toBe(2);
    process.stderr.write(
      `[measure] containerd listPods with ${cold.length} pods: cold ${coldMs.toFixed(1)} ms (${coldCalls} calls), warm ${warmMs.toFixed(1)} ms (2 calls)\n`,
    );
    await Promise.all([...extra, ...more].map((p) => h.removePod(p.sandboxId)));
    // Removed sandboxes leave the list and the cache; the steady state is 2 calls again.
    n = rm.requestCount;
    const left = await rm.listPods();
    expect(left.map((p) => p.sandboxId).sort()).toEqual([web.sandboxId, host.sandboxId].sort());
    expect(rm.requestCount - n).toBe(2);
  });

  it('survives containerd being killed and restarted: the next listPods reconnects', async () => {
    const before = find(await rt.listPods(), web.sandboxId);
    const oldPid = h.pid;
    await h.kill();
    const t = performance.now();
    const err = await rt.listPods().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('CRI_UNAVAILABLE');
    expect((err as RuntimeError).message).toContain(h.socket);
    expect(performance.now() - t).toBeLessThan(10_000); // refused at once, not a wait for a deadline
    expect((await rt.status()).up).toBe(false);

    await h.start();
    expect(h.pid).not.toBe(oldPid);
    const after = find(await rt.listPods(), web.sandboxId);
    expect(after.netns).toEqual(before.netns);
    expect(after.pid).toBe(web.pid);
    expect(after.containers.filter((c) => c.state === 'CONTAINER_RUNNING').length).toBe(2);
    expect((await rt.status()).up).toBe(true);
  });
});
