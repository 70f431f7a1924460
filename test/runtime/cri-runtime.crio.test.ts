/**
 * The same CRI runtime client against a CRI server answering with CRI-O's (and cri-dockerd's) documented shapes,
 * backed by real network namespaces and processes: sandbox pid, dropped infra container (netns path only),
 * host network, NOTREADY sandboxes, v1alpha2 fallback, deadlines, malformed info, stats.
 */
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../agent/errors.js';
import { CriCallError } from '../../agent/runtime/cri-client.js';
import { createCriRuntime, RETRY_FAILED_MS } from '../../agent/runtime/cri-runtime.js';
import type { Endpoint, PodInfo, RuntimeClient } from '../../agent/runtime/types.js';
import { describeIntegration } from '../helpers/env.js';
import { startFakeCrio, type FakeCrio, type FakeCrioPod } from '../helpers/fake-crio.js';

const ino = async (path: string): Promise<number> => (await stat(path)).ino;
const endpointOf = (f: FakeCrio): Endpoint => ({ protocol: 'cri', url: f.endpoint, socketPath: f.socket, source: 'flag' });
const find = (pods: PodInfo[], sandboxId: string): PodInfo => {
  const p = pods.find((x) => x.sandboxId === sandboxId);
  if (!p) throw new Error(`sandbox ${sandboxId} not listed`);
  return p;
};
const hostInodeReadable = (): Promise<boolean> => stat('/proc/1/ns/net').then(
  () => true,
  () => false,
);
const count = (f: FakeCrio, from: number, method: string): number => f.calls.slice(from).filter((c) => c.endsWith(`/${method}`)).length;

describeIntegration('CRI runtime on a fake CRI-O (real netns)', { root: true, commands: ['ip', 'sleep'] }, () => {
  let fake: FakeCrio;
  let rt: RuntimeClient;
  let withPid: FakeCrioPod;
  let dropped: FakeCrioPod;
  let hostDropped: FakeCrioPod;

  beforeAll(async () => {
    fake = await startFakeCrio();
    withPid = await fake.addPod({ name: 'web', namespace: 'shop', uid: 'u-1', containers: ['app', 'sidecar'] });
    dropped = await fake.addPod({ name: 'lean', namespace: 'shop', dropInfra: true });
    hostDropped = await fake.addPod({ name: 'node-agent', namespace: 'kube-system', dropInfra: true, hostNetwork: true });
    rt = createCriRuntime(endpointOf(fake), { timeoutMs: 15_000, procRoot: '/proc', hostRoot: '/' });
  });
  afterAll(async () => {
    rt?.close();
    await fake?.stop();
  });

  it('reports cri-o on runtime.v1', async () => {
    expect(await rt.status()).toEqual({
      endpoint: fake.endpoint,
      protocol: 'cri',
      source: 'flag',
      up: true,
      runtime: 'cri-o',
      version: '1.29.2',
      apiVersion: 'v1',
      criApi: 'v1',
      error: null,
    });
  });

  it('resolves a sandbox with an infra pid to /proc/<pid>/ns/net', async () => {
    const p = find(await rt.listPods(), withPid.sandboxId);
    expect(p).toMatchObject({ name: 'web', namespace: 'shop', uid: 'u-1', runtime: 'cri-o', pid: withPid.pid, hostNetwork: false, state: 'SANDBOX_READY' });
    expect(p.netns).toEqual({ path: `/proc/${withPid.pid}/ns/net`, inode: await ino(withPid.netnsPath!) });
    expect(p.containers.map((c) => ({ id: c.id, name: c.name, pid: c.pid, state: c.state }))).toEqual(
      withPid.containers.map((c) => ({ id: c.id, name: c.name, pid: c.pid, state: 'CONTAINER_RUNNING' })),
    );
  });

  it('resolves a dropped-infra sandbox (no pid) through the runtimeSpec netns path', async () => {
    const p = find(await rt.listPods(), dropped.sandboxId);
    expect(p.pid).toBeNull();
    expect(p.reason).toBeUndefined();
    expect(p.hostNetwork).toBe(false);
    expect(p.netns).toEqual({ path: dropped.netnsPath, inode: await ino(`/proc/${dropped.containers[0]!.pid}/ns/net`) });
    expect(p.containers[0]!.pid).toBe(dropped.containers[0]!.pid);
  });

  it('marks a dropped-infra host-network pod and resolves it from its container pid', async () => {
    const p = find(await rt.listPods(), hostDropped.sandboxId);
    expect(p.hostNetwork).toBe(true);
    const cpid = hostDropped.containers[0]!.pid;
    expect(p.pid).toBe(cpid);
    expect(p.netns).toEqual({ path: `/proc/${cpid}/ns/net`, inode: await ino('/proc/self/ns/net') });
  });

  it('three pods of different shapes have three distinct netns; steady state costs 2 calls', async () => {
    const pods = await rt.listPods();
    expect(new Set(pods.map((p) => p.netns?.inode)).size).toBe(3);
    const before = rt.requestCount;
    const from = fake.calls.length;
    await rt.listPods();
    expect(rt.requestCount - before).toBe(2);
    expect(fake.calls.slice(from).sort()).toEqual(['/runtime.v1.RuntimeService/ListContainers', '/runtime.v1.RuntimeService/ListPodSandbox']);
  });

  it('lists a NOTREADY sandbox without resolving it, and re-resolves it once READY again', async () => {
    fake.setSandboxState(withPid.sandboxId, 'SANDBOX_NOTREADY');
    let from = fake.calls.length;
    const down = find(await rt.listPods(), withPid.sandboxId);
    expect(down).toMatchObject({ state: 'SANDBOX_NOTREADY', pid: null, netns: null, reason: 'sandbox is SANDBOX_NOTREADY' });
    expect(count(fake, from, 'PodSandboxStatus')).toBe(0);
    fake.setSandboxState(withPid.sandboxId, 'SANDBOX_READY');
    from = fake.calls.length;
    const up = find(await rt.listPods(), withPid.sandboxId);
    expect(up.netns?.path).toBe(`/proc/${withPid.pid}/ns/net`);
    expect(count(fake, from, 'PodSandboxStatus')).toBe(1);
  });

  it('lists a sandbox in a state the .proto does not name as NOTREADY, unresolved, marked stateUnknown', async () => {
    try {
      fake.setSandboxState(withPid.sandboxId, 7);
      const odd = find(await rt.listPods(), withPid.sandboxId);
      expect(odd).toMatchObject({ state: 'SANDBOX_NOTREADY', stateUnknown: true, pid: null, netns: null, reason: 'sandbox state unknown (a PodSandboxState value this agent does not know)' });
      fake.setSandboxState(withPid.sandboxId, 'SANDBOX_NOTREADY');
      expect(find(await rt.listPods(), withPid.sandboxId).stateUnknown).toBeUndefined();
    } finally {
      fake.setSandboxState(withPid.sandboxId, 'SANDBOX_READY');
    }
    expect(find(await rt.listPods(), withPid.sandboxId).netns?.path).toBe(`/proc/${withPid.pid}/ns/net`);
  });

  it('re-resolves a cached sandbox whose pid died (stat check, one PodSandboxStatus)', async () => {
    const before = find(await rt.listPods(), withPid.sandboxId);
    const newPid = await fake.replaceInfra(withPid.sandboxId);
    const from = fake.calls.length;
    const after = find(await rt.listPods(), withPid.sandboxId);
    expect(after.pid).toBe(newPid);
    expect(after.netns).toEqual({ path: `/proc/${newPid}/ns/net`, inode: before.netns!.inode });
    expect(count(fake, from, 'PodSandboxStatus')).toBe(1);
    withPid.pid = newPid;
  });

  it('marks host network by netns inode when the runtime gives no NamespaceMode (readable <proc-root>/1/ns/net)', async () => {
    const hidden = await fake.addPod({ name: 'hidden-host', hostNetwork: true, hideHostNetwork: true });
    const procRoot = await mkdtemp(join(tmpdir(), 'cna-proc-'));
    const other = createCriRuntime(endpointOf(fake), { timeoutMs: 15_000, procRoot, hostRoot: '/' });
    try {
      // A proc root where "PID 1" is this process (same netns as the host-network pod) and the pod's pid exists.
      await mkdir(join(procRoot, '1', 'ns'), { recursive: true });
      await symlink('/proc/self/ns/net', join(procRoot, '1', 'ns', 'net'));
      await symlink(`/proc/${hidden.pid}`, join(procRoot, String(hidden.pid)));
      await symlink(`/proc/${withPid.pid}`, join(procRoot, String(withPid.pid)));
      const pods = await other.listPods();
      expect(find(pods, hidden.sandboxId)).toMatchObject({ hostNetwork: true, pid: hidden.pid });
      expect(find(pods, hidden.sandboxId).netns?.inode).toBe(await ino('/proc/self/ns/net'));
      expect(find(pods, withPid.sandboxId).hostNetwork).toBe(false);
      // With the real /proc (PID 1's netns unreadable here) only NamespaceMode decides: not marked.
      expect(find(await rt.listPods(), hidden.sandboxId).hostNetwork).toBe((await hostInodeReadable()) ? true : false);
    } finally {
      other.close();
      await fake.removePod(hidden.sandboxId);
      await rm(procRoot, { recursive: true, force: true });
    }
  });

  it('reports malformed sandbox info as the pod reason and keeps serving the other pods', async () => {
    const bad = await fake.addPod({ name: 'bad', sandboxInfo: { info: '{"pid": "12; rm -rf /", "runtimeSpec": 7' } });
    const bad2 = await fake.addPod({ name: 'bad2', dropInfra: true, sandboxInfo: { info: JSON.stringify({ runtimeSpec: { linux: { namespaces: [{ type: 'network', path: '../../etc/passwd' }] } } }) } });
    try {
      const pods = await rt.listPods();
      // No sandbox info usable: falls back to the running container's pid (like cri-dockerd).
      const p = find(pods, bad.sandboxId);
      expect(p.pid).toBe(bad.containers[0]!.pid);
      expect(p.netns?.inode).toBe(await ino(bad.netnsPath!));
      const p2 = find(pods, bad2.sandboxId);
      expect(p2.pid).toBe(bad2.containers[0]!.pid);
      expect(p2.netns?.path).toBe(`/proc/${bad2.containers[0]!.pid}/ns/net`);
      expect(find(pods, withPid.sandboxId).netns?.path).toBe(`/proc/${withPid.pid}/ns/net`);
      // Without any running container the reason names the parse error.
      await fake.removePod(bad.sandboxId);
      const bad3 = await fake.addPod({ name: 'bad3', dropInfra: true, containers: [], sandboxInfo: { info: 'not json' } });
      const p3 = find(await rt.listPods(), bad3.sandboxId);
      expect(p3).toMatchObject({ pid: null, netns: null, hostNetwork: false });
      expect(p3.reason).toMatch(/^no pid or netns path for the sandbox \(sandbox info: info\["info"\] is not valid JSON/);
      await fake.removePod(bad3.sandboxId);
    } finally {
      await fake.removePod(bad.sandboxId);
      await fake.removePod(bad2.sandboxId);
    }
  });

  it('a sandbox that failed to resolve is asked again only once RETRY_FAILED_MS passed', async () => {
    const bad = await fake.addPod({ name: 'bad4', dropInfra: true, containers: [], sandboxInfo: { info: 'not json' } });
    const now = Date.now;
    try {
      expect(find(await rt.listPods(), bad.sandboxId).reason).toMatch(/^no pid or netns path for the sandbox/);
      let from = fake.calls.length;
      expect(find(await rt.listPods(), bad.sandboxId).reason).toMatch(/^no pid or netns path for the sandbox/);
      expect(count(fake, from, 'PodSandboxStatus')).toBe(0);
      const later = now() + RETRY_FAILED_MS + 1000;
      Date.now = () => later;
      from = fake.calls.length;
      expect(find(await rt.listPods(), bad.sandboxId).reason).toMatch(/^no pid or netns path for the sandbox/);
      expect(count(fake, from, 'PodSandboxStatus')).toBe(1);
    } finally {
      Date.now = now;
      await fake.removePod(bad.sandboxId);
    }
  });

  it('converts ListContainerStats: CPU ns -> seconds, working set bytes, sandbox of each container', async () => {
    fake.stats = { cpuNanos: '1500000000', memoryBytes: '1048576' };
    const stats = await rt.containerStats();
    const web = stats.filter((s) => s.sandboxId === withPid.sandboxId).sort((a, b) => a.name.localeCompare(b.name));
    expect(web).toEqual(
      ['app', 'sidecar'].map((name) => ({
        containerId: withPid.containers.find((c) => c.name === name)!.id,
        sandboxId: withPid.sandboxId,
        name,
        cpuSeconds: 1.5,
        memoryWorkingSetBytes: 1048576,
      })),
    );
    fake.stats = { cpuNanos: '18446744073709551615', memoryBytes: '0' }; // uint64 max survives as a number
    const big = (await rt.containerStats())[0]!;
    expect(big.cpuSeconds).toBeCloseTo(18446744073.709553, 3);
    expect(big.memoryWorkingSetBytes).toBe(0);
  });

  it('reconnects after the runtime went away and came back, also with concurrent calls', async () => {
    const c = createCriRuntime(endpointOf(fake), { timeoutMs: 15_000, procRoot: '/proc', hostRoot: '/' });
    try {
      const before = await c.listPods();
      await fake.down();
      await expect(c.listPods()).rejects.toMatchObject({ code: 'CRI_UNAVAILABLE' });
      await expect(c.containerStats()).rejects.toMatchObject({ code: 'CRI_UNAVAILABLE' });
      expect((await c.status()).up).toBe(false);
      await fake.up();
      const [a, b, stats] = await Promise.all([c.listPods(), c.listPods(), c.containerStats()]);
      expect(a.map((p) => p.netns)).toEqual(before.map((p) => p.netns));
      expect(b.map((p) => p.netns)).toEqual(before.map((p) => p.netns));
      expect(stats.length).toBe(4);
    } finally {
      c.close();
    }
  });

  it('fails with a clear DEADLINE_EXCEEDED RuntimeError when the runtime hangs, then recovers', async () => {
    const quick = createCriRuntime(endpointOf(fake), { timeoutMs: 300, procRoot: '/proc', hostRoot: '/' });
    try {
      // The first call also connects the channel: on a busy machine that alone can pass 300 ms, so retry it.
      let up = false;
      for (let i = 0; i < 10 && !up; i++) up = (await quick.status()).up;
      expect(up).toBe(true);
      fake.hang(['ListPodSandbox']);
      const t = performance.now();
      const err = await quick.listPods().then(
        () => null,
        (e: unknown) => e,
      );
      const ms = performance.now() - t;
      expect(err).toBeInstanceOf(RuntimeError);
      expect(err).toBeInstanceOf(CriCallError);
      expect((err as CriCallError).code).toBe('CRI_DEADLINE_EXCEEDED');
      expect((err as CriCallError).method).toBe('ListPodSandbox');
      expect((err as CriCallError).message).toBe(
        `${fake.endpoint} ListPodSandbox: no answer within the 300 ms deadline (runtime v1; DEADLINE_EXCEEDED)`,
      );
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(10_000); // at the deadline, not never (a loaded machine delays the timer, not by 10 s)
      fake.hang([]);
      // Recovered: the next calls answer again (retried: on a busy machine one call alone can pass 300 ms).
      let pods = -1;
      for (let i = 0; i < 10 && pods < 0; i++) pods = await quick.listPods().then((p) => p.length, () => -1);
      expect(pods).toBe(3);
    } finally {
      fake.hang([]);
      quick.close();
    }
  });
});

describeIntegration('CRI runtime on a runtime.v1alpha2-only server', { root: true, commands: ['ip', 'sleep'] }, () => {
  let fake: FakeCrio;
  let pod: FakeCrioPod;
  beforeAll(async () => {
    fake = await startFakeCrio({ apis: ['v1alpha2'] });
    pod = await fake.addPod({ name: 'old', containers: ['app'] });
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it('falls back to v1alpha2 on UNIMPLEMENTED and remembers it for the endpoint', async () => {
    const seen: { method: string; code: string }[] = [];
    const rt = createCriRuntime(endpointOf(fake), {
      timeoutMs: 15_000,
      procRoot: '/proc',
      hostRoot: '/',
      onCall: (c) => seen.push({ method: c.method, code: c.code }),
    });
    try {
      const s = await rt.status();
      expect(s).toMatchObject({ up: true, runtime: 'cri-o', apiVersion: 'v1alpha2', criApi: 'v1alpha2' });
      expect(seen).toEqual([
        { method: 'Version', code: 'UNIMPLEMENTED' },
        { method: 'Version', code: 'OK' },
      ]);
      const pods = await rt.listPods();
      expect(find(pods, pod.sandboxId).netns).toEqual({ path: `/proc/${pod.pid}/ns/net`, inode: await ino(pod.netnsPath!) });
      // After the fallback every call goes straight to v1alpha2.
      expect(fake.calls.slice(2).every((c) => c.startsWith('/runtime.v1alpha2.RuntimeService/'))).toBe(true);
      const n = rt.requestCount;
      await rt.listPods();
      expect(rt.requestCount - n).toBe(2);
    } finally {
      rt.close();
    }
  });
});

describeIntegration('CRI runtime on a fake cri-dockerd (no sandbox info)', { root: true, commands: ['ip', 'sleep'] }, () => {
  let fake: FakeCrio;
  beforeAll(async () => {
    fake = await startFakeCrio({ flavor: 'cri-dockerd' });
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it('names the runtime cri-dockerd and resolves the netns from a running container pid', async () => {
    const pod = await fake.addPod({ name: 'dk', containers: ['app'] });
    const rt = createCriRuntime(endpointOf(fake), { timeoutMs: 15_000, procRoot: '/proc', hostRoot: '/' });
    try {
      expect((await rt.status()).runtime).toBe('cri-dockerd');
      const from = fake.calls.length;
      const p = find(await rt.listPods(), pod.sandboxId);
      const cpid = pod.containers[0]!.pid;
      expect(p).toMatchObject({ runtime: 'cri-dockerd', pid: cpid, hostNetwork: false });
      expect(p.netns).toEqual({ path: `/proc/${cpid}/ns/net`, inode: await ino(pod.netnsPath!) });
      // One ContainerStatus serves both the container pid and the sandbox fallback.
      expect(count(fake, from, 'ContainerStatus')).toBe(1);
      expect(count(fake, from, 'PodSandboxStatus')).toBe(1);
    } finally {
      rt.close();
    }
  });
});

describe('CRI runtime with nothing listening', () => {
  it('status() is down with the error, listPods() throws a RuntimeError (UNAVAILABLE)', async () => {
    const sock = `/tmp/cna-none-${process.pid}.sock`;
    const rt = createCriRuntime({ protocol: 'cri', url: `unix://${sock}`, socketPath: sock, source: 'flag' }, { timeoutMs: 500, procRoot: '/proc', hostRoot: '/' });
    try {
      const s = await rt.status();
      expect(s).toMatchObject({ up: false, runtime: null, version: null });
      expect(s.error).toContain(`runtime unreachable at ${sock}`);
      await expect(rt.listPods()).rejects.toMatchObject({ code: 'CRI_UNAVAILABLE', method: 'Version' });
    } finally {
      rt.close();
    }
  });
});
