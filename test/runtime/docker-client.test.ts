/**
 * The Docker client against a real dockerd (status, listings, steady-state cost, a stopped sandbox, a paused pod);
 * the rest is in docker-client.fake-engine.test.ts.
 */
import { statSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InjectionTracker } from '../../agent/metrics/injection-tracker.js';
import { createNetnsReader, type ReaderMode } from '../../agent/netns/read.js';
import type { NetnsState } from '../../agent/netns/state.js';
import { createDockerRuntime } from '../../agent/runtime/docker-client.js';
import type { CallObserver, Endpoint, PodInfo, RuntimeClient } from '../../agent/runtime/types.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { describeIntegration } from '../helpers/env.js';
import { chaos, report, snapshot } from '../metrics/fixtures.js';

function endpoint(socketPath: string): Endpoint {
  return { protocol: 'docker', url: `unix://${socketPath}`, socketPath, source: 'flag' };
}

const netnsIno = (pid: number): number => statSync(`/proc/${pid}/ns/net`).ino;

type Calls = Parameters<CallObserver>[0][];

describeIntegration('docker client against a real dockerd', { root: true, commands: ['dockerd', 'nsenter', 'iptables-legacy'] }, () => {
  let d: Dockerd;
  let client: RuntimeClient;
  const calls: Calls = [];
  const web = { namespace: 'team-a', name: 'web', uid: 'uid-web-1' };
  const host = { namespace: 'kube-system', name: 'hostpod', uid: 'uid-host-1' };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    d = await startDockerd();
    ids.webSb = await d.runSandbox(web);
    ids.webApp = await d.runApp(ids.webSb, web, 'app');
    ids.webSide = await d.runApp(ids.webSb, web, 'sidecar', { start: false });
    ids.hostSb = await d.runSandbox(host, { hostNetwork: true });
    ids.hostApp = await d.runApp(ids.hostSb, host, 'agent');
    ids.plain = await d.runPlain('plain-one');
    ids.plainCreated = await d.runPlain('plain-created', { start: false });
    client = createDockerRuntime(endpoint(d.socket), {
      timeoutMs: 5000,
      procRoot: '/proc',
      hostRoot: '/',
      onCall: (c) => calls.push(c),
    });
  });

  afterAll(async () => {
    client?.close();
    await d?.stop();
  });

  it('status: up, docker, the server version, API negotiated down to the server max', async () => {
    const ping = await d.api('GET', '/_ping');
    const version = (await d.api('GET', '/version')).json as { Version: string; ApiVersion: string };
    const s = await client.status();
    expect(s).toEqual({
      endpoint: `unix://${d.socket}`,
      protocol: 'docker',
      source: 'flag',
      up: true,
      runtime: 'docker',
      version: version.Version,
      apiVersion: ping.headers['api-version'],
      error: null,
    });
    expect(s.apiVersion).toBe('1.41');
    expect(calls.map((c) => `${c.method} ${c.code}`)).toEqual(['GET /_ping 200', 'GET /version 200']);
    expect(calls.every((c) => c.runtime === 'docker' && c.endpoint === `unix://${d.socket}` && c.seconds >= 0 && c.seconds < 5)).toBe(true);
  });

  it('lists pods from the kubelet labels, plain containers as their own pods, PIDs and netns from /proc', async () => {
    const pods = await client.listPods();
    const pid = async (id: string): Promise<number> => d.pidOf(id);
    const byName = (n: string): PodInfo => pods.find((p) => p.name === n)!;
    const [webPid, appPid, hostPid, hostAppPid, plainPid] = await Promise.all(
      [ids.webSb!, ids.webApp!, ids.hostSb!, ids.hostApp!, ids.plain!].map(pid),
    );
    const url = `unix://${d.socket}`;
    expect(pods.map((p) => `${p.namespace}/${p.name}`).sort()).toEqual(['/plain-created', '/plain-one', 'kube-system/hostpod', 'team-a/web']);
    expect(byName('web')).toEqual({
      namespace: 'team-a',
      name: 'web',
      uid: 'uid-web-1',
      runtime: 'docker',
      endpoint: url,
      sandboxId: ids.webSb,
      state: 'SANDBOX_READY',
      pid: webPid,
      hostNetwork: false,
      netns: { inode: netnsIno(webPid!), path: `/proc/${webPid}/ns/net` },
      containers: [
        { id: ids.webApp, name: 'app', state: 'CONTAINER_RUNNING', pid: appPid },
        { id: ids.webSide, name: 'sidecar', state: 'CONTAINER_CREATED', pid: null },
      ],
    });
    // The app container joined the sandbox's namespace, which is not the host's.
    expect(netnsIno(appPid!)).toBe(netnsIno(webPid!));
    expect(netnsIno(webPid!)).not.toBe(netnsIno(d.pid));

    expect(byName('hostpod')).toEqual({
      namespace: 'kube-system',
      name: 'hostpod',
      uid: 'uid-host-1',
      runtime: 'docker',
      endpoint: url,
      sandboxId: ids.hostSb,
      state: 'SANDBOX_READY',
      pid: hostPid,
      hostNetwork: true,
      netns: { inode: netnsIno(d.pid), path: `/proc/${hostPid}/ns/net` },
      containers: [{ id: ids.hostApp, name: 'agent', state: 'CONTAINER_RUNNING', pid: hostAppPid }],
    });

    expect(byName('plain-one')).toEqual({
      namespace: '',
      name: 'plain-one',
      uid: '',
      runtime: 'docker',
      endpoint: url,
      sandboxId: ids.plain,
      state: 'SANDBOX_READY',
      pid: plainPid,
      hostNetwork: false,
      netns: { inode: netnsIno(plainPid!), path: `/proc/${plainPid}/ns/net` },
      containers: [{ id: ids.plain, name: 'plain-one', state: 'CONTAINER_RUNNING', pid: plainPid }],
    });
    expect(byName('plain-created')).toEqual({
      namespace: '',
      name: 'plain-created',
      uid: '',
      runtime: 'docker',
      endpoint: url,
      sandboxId: ids.plainCreated,
      state: 'SANDBOX_NOTREADY',
      pid: null,
      hostNetwork: false,
      netns: null,
      reason: 'container is created',
      containers: [{ id: ids.plainCreated, name: 'plain-created', state: 'CONTAINER_CREATED', pid: null }],
    });
  });

  it('steady state: one request per listPods; a new container costs one inspect; a restart is noticed', async () => {
    await client.listPods();
    const n0 = client.requestCount;
    await client.listPods();
    await client.listPods();
    expect(client.requestCount - n0).toBe(2);

    const extra = await d.runPlain('plain-extra');
    const n1 = client.requestCount;
    let pods = await client.listPods();
    expect(client.requestCount - n1).toBe(2); // list + inspect of the new one
    const extraPid = await d.pidOf(extra);
    expect(pods.find((p) => p.name === 'plain-extra')?.pid).toBe(extraPid);

    const n2 = client.requestCount;
    await client.listPods();
    expect(client.requestCount - n2).toBe(1);

    // Restart: same ID, new PID (the old /proc entry is gone) -> re-inspected once.
    const r = await d.api('POST', `/containers/${extra}/restart?t=0`);
    expect(r.status).toBe(204);
    const newPid = await d.pidOf(extra);
    expect(newPid).not.toBe(extraPid);
    const n3 = client.requestCount;
    pods = await client.listPods();
    expect(client.requestCount - n3).toBe(2);
    expect(pods.find((p) => p.name === 'plain-extra')).toMatchObject({ pid: newPid, netns: { inode: netnsIno(newPid), path: `/proc/${newPid}/ns/net` } });

    // Removal: the pod disappears, still one request.
    await d.remove(extra);
    const n4 = client.requestCount;
    pods = await client.listPods();
    expect(client.requestCount - n4).toBe(1);
    expect(pods.some((p) => p.name === 'plain-extra')).toBe(false);
  });

  it('a stopped sandbox is SANDBOX_NOTREADY with a reason, and its app container EXITED', async () => {
    const pod = { namespace: 'team-b', name: 'stopped', uid: 'uid-stopped' };
    const sb = await d.runSandbox(pod);
    const app = await d.runApp(sb, pod, 'main');
    expect((await d.api('POST', `/containers/${app}/kill`)).status).toBe(204);
    expect((await d.api('POST', `/containers/${sb}/kill`)).status).toBe(204);
    await d.api('POST', `/containers/${sb}/wait`);
    await d.api('POST', `/containers/${app}/wait`);
    const pods = await client.listPods();
    expect(pods.find((p) => p.name === 'stopped')).toEqual({
      ...pod,
      runtime: 'docker',
      endpoint: `unix://${d.socket}`,
      sandboxId: sb,
      state: 'SANDBOX_NOTREADY',
      pid: null,
      hostNetwork: false,
      netns: null,
      reason: 'container is exited',
      containers: [{ id: app, name: 'main', state: 'CONTAINER_EXITED', pid: null }],
    });
    await d.remove(app);
    await d.remove(sb);
  });

  it('a killed sandbox whose app container runs on: the app keeps the namespace, and its injections are not ended', async () => {
    const pod = { namespace: 'team-b', name: 'orphaned', uid: 'uid-orphaned' };
    const sb = await d.runSandbox(pod);
    const app = await d.runApp(sb, pod, 'main');
    const before = (await client.listPods()).find((p) => p.name === 'orphaned')!;
    expect(before.state).toBe('SANDBOX_READY');
    const tracker = new InjectionTracker();
    const read = report(before, { chaos: chaos('active', ['partition']) });
    expect(tracker.observe(snapshot([read]), 100).map((e) => e.event)).toEqual(['injection_started']);

    expect((await d.api('POST', `/containers/${sb}/kill`)).status).toBe(204);
    await d.api('POST', `/containers/${sb}/wait`);
    const after = (await client.listPods()).find((p) => p.name === 'orphaned')!;
    expect(after).toMatchObject({ state: 'SANDBOX_NOTREADY', netns: null, containers: [{ id: app, state: 'CONTAINER_RUNNING' }] });
    // The app container still holds the namespace the sandbox made (the same inode).
    const appPid = after.containers[0]!.pid!;
    expect(netnsIno(appPid)).toBe(before.netns!.inode);
    // Unread (its sandbox has no namespace to give): the injection is kept, not ended as sandbox_not_ready.
    expect(tracker.observe(snapshot([report(after, { chaos: chaos('unknown') })]), 200)).toEqual([]);
    expect(tracker.firstSeen('team-b', 'orphaned', 'partition')).toBe(100);

    // The app stops too: now the namespace is gone, and so is the injection.
    expect((await d.api('POST', `/containers/${app}/kill`)).status).toBe(204);
    await d.api('POST', `/containers/${app}/wait`);
    const gone = (await client.listPods()).find((p) => p.name === 'orphaned')!;
    expect(tracker.observe(snapshot([report(gone, { chaos: chaos('unknown') })]), 300).map((e) => [e.event, e.reason])).toEqual([['injection_ended', 'sandbox_not_ready']]);
    await d.remove(app);
    await d.remove(sb);
  });

  it('a paused pod (docker pause: the cgroup freezer) stays READY and RUNNING with its PIDs, and both readers read its namespace', async () => {
    const pod = { namespace: 'team-c', name: 'paused', uid: 'uid-paused' };
    const sb = await d.runSandbox(pod);
    const app = await d.runApp(sb, pod, 'main');
    const sbPid = await d.pidOf(sb);
    // What a partition leaves, put in before the freeze (chaos-daemon enters the namespace the same way).
    await execa('nsenter', ['-t', String(sbPid), '-n', 'iptables-legacy', '-w', '-A', 'INPUT', '-s', '10.9.9.9/32', '-j', 'DROP'], { timeout: 10_000 });
    for (const id of [app, sb]) expect((await d.api('POST', `/containers/${id}/pause`)).status).toBe(204);
    const inspected = (await d.api('GET', `/containers/${sb}/json`)).json as { State: { Status: string; Paused: boolean } };
    expect(inspected.State).toMatchObject({ Status: 'paused', Paused: true });

    const p = (await client.listPods()).find((x) => x.name === 'paused')!;
    expect(p).toMatchObject({
      state: 'SANDBOX_READY',
      pid: sbPid,
      netns: { inode: netnsIno(sbPid), path: `/proc/${sbPid}/ns/net` },
      containers: [{ id: app, name: 'main', state: 'CONTAINER_RUNNING', pid: await d.pidOf(app) }],
    });
    expect(p.reason).toBeUndefined();

    // A frozen process's namespace is entered as any other (setns needs no running target): the rule is there.
    const inputOf = (s: NetnsState) =>
      s.iptables.find((t) => t.backend === 'legacy' && t.family === 'ipv4')?.tables.find((t) => t.name === 'filter')?.chains.find((c) => c.name === 'INPUT')?.rules.map((r) => [r.source, r.target]);
    for (const mode of ['netlink', 'nsenter'] as ReaderMode[]) {
      const reader = createNetnsReader({
        reader: mode, netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 2 << 20, namespaceTimeoutMs: 20_000, procRoot: '/proc',
      });
      try {
        const state = await reader.read({ path: p.netns!.path, inode: p.netns!.inode, pid: p.pid });
        expect(state.reader, mode).toBe(mode);
        expect(inputOf(state), mode).toEqual([['10.9.9.9/32', 'DROP']]);
      } finally {
        await reader.close();
      }
    }
    for (const id of [app, sb]) expect((await d.api('POST', `/containers/${id}/unpause`)).status).toBe(204);
    await d.remove(app);
    await d.remove(sb);
  });
});
