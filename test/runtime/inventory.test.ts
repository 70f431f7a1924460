import { linkSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.js';
import { dedupePods, Inventory, type InventoryConfig } from '../../agent/runtime/inventory.js';
import { runtimeLabel } from '../../agent/runtime/call-labels.js';
import type { CallObserver, PodInfo } from '../../agent/runtime/types.js';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { describeIntegration } from '../helpers/env.js';

const netnsIno = (pid: number): number => statSync(`/proc/${pid}/ns/net`).ino;

function cfg(over: Partial<InventoryConfig>): InventoryConfig {
  return { runtimeEndpoints: [], dockerEndpoints: [], hostRoot: '/', procRoot: '/proc', runtimeTimeoutMs: 5000, ...over };
}

function pod(over: Partial<PodInfo>): PodInfo {
  return {
    namespace: 'ns',
    name: 'p',
    uid: 'u',
    runtime: 'docker',
    endpoint: 'unix:///var/run/docker.sock',
    sandboxId: 'a'.repeat(64),
    state: 'SANDBOX_READY',
    pid: 10,
    hostNetwork: false,
    netns: { inode: 4026532000, path: '/proc/10/ns/net' },
    containers: [],
    ...over,
  };
}

describe('dedupePods', () => {
  it('keeps one entry per sandbox ID: resolved netns first, then the CRI one, then the first seen; sorted', () => {
    const dockerOk = pod({ endpoint: 'unix:///var/run/docker.sock' });
    const criOk = pod({ endpoint: 'unix:///var/run/cri-dockerd.sock' });
    const criUnresolved = pod({ endpoint: 'unix:///var/run/cri-dockerd.sock', pid: null, netns: null, reason: 'x' });
    const other = pod({ namespace: 'a', name: 'z', sandboxId: 'b'.repeat(64) });
    expect(dedupePods([{ pod: dockerOk, protocol: 'docker' }, { pod: criOk, protocol: 'cri' }, { pod: other, protocol: 'docker' }])).toEqual([other, criOk]);
    expect(dedupePods([{ pod: criOk, protocol: 'cri' }, { pod: dockerOk, protocol: 'docker' }])).toEqual([criOk]);
    expect(dedupePods([{ pod: criUnresolved, protocol: 'cri' }, { pod: dockerOk, protocol: 'docker' }])).toEqual([dockerOk]);
    const docker2 = pod({ endpoint: 'unix:///other/docker.sock' });
    expect(dedupePods([{ pod: dockerOk, protocol: 'docker' }, { pod: docker2, protocol: 'docker' }])).toEqual([dockerOk]);
  });
});

describe('inventory without any runtime', () => {
  it('container stats asked of an endpoint not up at the last pass: no call, the endpoint named as failed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cna-inv-empty-'));
    const inv = new Inventory(cfg({ hostRoot: root }), { log: silentLogger() });
    try {
      await inv.collect();
      expect(await inv.containerStatsReport(new Set(['unix:///run/containerd/containerd.sock']))).toEqual({
        stats: [],
        failed: [{ endpoint: 'unix:///run/containerd/containerd.sock', error: 'not up at the last pass, not asked' }],
      });
      expect(await inv.containerStatsReport()).toEqual({ stats: [], failed: [] });
    } finally {
      inv.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('discovery on an empty host root: six candidates down with their reason, no request made', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cna-inv-empty-'));
    const inv = new Inventory(cfg({ hostRoot: root }), { log: silentLogger() });
    try {
      const r = await inv.collect();
      expect(r.pods).toEqual([]);
      expect(r.errors).toEqual([]);
      expect(r.runtimes.map((s) => [s.endpoint, s.protocol, s.source, s.up])).toEqual([
        ['unix:///run/containerd/containerd.sock', 'cri', 'discovered', false],
        ['unix:///run/k3s/containerd/containerd.sock', 'cri', 'discovered', false],
        ['unix:///var/run/crio/crio.sock', 'cri', 'discovered', false],
        ['unix:///run/crio/crio.sock', 'cri', 'discovered', false],
        ['unix:///var/run/cri-dockerd.sock', 'cri', 'discovered', false],
        ['unix:///var/run/docker.sock', 'docker', 'discovered', false],
      ]);
      expect(r.runtimes[5]!.error).toBe(`docker: no socket at /var/run/docker.sock (${root}/var/run/docker.sock)`);
      expect(inv.requestCount()).toBe(0);
    } finally {
      inv.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describeIntegration('inventory over real runtimes', { root: true, commands: ['dockerd', 'containerd', 'ctr'] }, () => {
  let d: Dockerd;
  let tmp: string;
  let alias: string;
  let fake: http.Server;
  let fakeSocket: string;
  const cart = { namespace: 'shop', name: 'cart', uid: 'uid-cart' };
  const ids: Record<string, string> = {};
  const inventories: Inventory[] = [];
  const track = (inv: Inventory): Inventory => {
    inventories.push(inv);
    return inv;
  };

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'cna-inv-'));
    d = await startDockerd();
    ids.cartSb = await d.runSandbox(cart);
    ids.cartApp = await d.runApp(ids.cartSb, cart, 'main');
    ids.plain = await d.runPlain('nginx-plain');
    // A second name for the same daemon, as cri-dockerd + docker give two views of one engine.
    alias = join(tmp, 'alias.sock');
    symlinkSync(d.socket, alias);
    // An engine that answers the status calls but fails listing.
    fakeSocket = join(tmp, 'broken.sock');
    fake = http.createServer((req, res) => {
      if (req.url === '/_ping') {
        res.writeHead(200, { 'Api-Version': '1.41' });
        res.end('OK');
      } else if (req.url === '/v1.41/version') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"Version":"0.0.1-broken"}');
      } else {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end('{"message":"boom"}');
      }
    });
    await new Promise<void>((resolve) => fake.listen(fakeSocket, resolve));
  });

  afterAll(async () => {
    for (const inv of inventories) inv.close();
    if (fake) {
      fake.closeAllConnections();
      await new Promise<void>((r) => fake.close(() => r()));
    }
    await d?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('two endpoints of one engine: both up, every pod once; clients and their caches are reused', async () => {
    const inv = track(new Inventory(cfg({ dockerEndpoints: [d.url, `unix://${alias}`] }), { log: silentLogger() }));
    const r = await inv.collect();
    expect(r.errors).toEqual([]);
    expect(r.runtimes.map((s) => [s.endpoint, s.up, s.runtime, s.apiVersion, s.error])).toEqual([
      [d.url, true, 'docker', '1.41', null],
      [`unix://${alias}`, true, 'docker', '1.41', null],
    ]);
    const [sbPid, appPid, plainPid] = await Promise.all([d.pidOf(ids.cartSb!), d.pidOf(ids.cartApp!), d.pidOf(ids.plain!)]);
    expect(r.pods.map((p) => [p.namespace, p.name, p.sandboxId, p.endpoint, p.pid, p.netns?.inode])).toEqual([
      ['', 'nginx-plain', ids.plain, d.url, plainPid, netnsIno(plainPid!)],
      ['shop', 'cart', ids.cartSb, d.url, sbPid, netnsIno(sbPid!)],
    ]);
    expect(r.pods[1]!.containers).toEqual([{ id: ids.cartApp, name: 'main', state: 'CONTAINER_RUNNING', pid: appPid }]);

    // Steady state: per endpoint _ping + version + list, nothing else.
    const n0 = inv.requestCount();
    await inv.collect();
    expect(inv.requestCount() - n0).toBe(6);
    const n1 = inv.requestCount();
    expect((await inv.collect()).pods.length).toBe(2);
    expect(inv.requestCount() - n1).toBe(6);
  });

  it('one endpoint down and one failing to list never stop the others', async () => {
    const missing = join(tmp, 'missing.sock');
    const inv = track(
      new Inventory(cfg({ dockerEndpoints: [`unix://${missing}`, `unix://${fakeSocket}`, d.url] }), { log: silentLogger() }),
    );
    const r = await inv.collect();
    expect(r.runtimes.map((s) => [s.endpoint, s.up, s.version === null, s.error])).toEqual([
      [`unix://${missing}`, false, true, `unix://${missing} GET /_ping: connect ENOENT ${missing}`],
      [`unix://${fakeSocket}`, true, false, null],
      [d.url, true, false, null],
    ]);
    expect(r.errors).toEqual([`unix://${fakeSocket} GET /containers/json: HTTP 500: boom`]);
    // The endpoint whose listing failed says so on its status (the injection tracker holds its pods alone).
    expect(r.runtimes.map((s) => s.listError)).toEqual([undefined, `unix://${fakeSocket} GET /containers/json: HTTP 500: boom`, undefined]);
    expect(r.pods.map((p) => p.name)).toEqual(['nginx-plain', 'cart']);
    expect((await inv.runtimes()).map((s) => s.up)).toEqual([false, true, true]);
  });

  it('discovery under a host root finds the engine at /var/run/docker.sock and lists through it', async () => {
    const root = join(tmp, 'hostroot');
    mkdirSync(join(root, 'var/run'), { recursive: true });
    linkSync(d.socket, join(root, 'var/run/docker.sock'));
    const inv = track(new Inventory(cfg({ hostRoot: root }), { log: silentLogger() }));
    const r = await inv.collect();
    expect(r.runtimes.filter((s) => s.up).map((s) => [s.endpoint, s.source, s.runtime])).toEqual([
      ['unix:///var/run/docker.sock', 'discovered', 'docker'],
    ]);
    expect(r.runtimes.filter((s) => !s.up).length).toBe(5);
    expect(r.pods.map((p) => [p.name, p.endpoint])).toEqual([
      ['nginx-plain', 'unix:///var/run/docker.sock'],
      ['cart', 'unix:///var/run/docker.sock'],
    ]);
  });

  describe('mixed runtimes: a real containerd (CRI) and dockerd on one node', () => {
    let h: ContainerdHarness;
    beforeAll(async () => {
      h = await startContainerd({ name: 'inventory' });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('lists pods of both, each with its runtime and netns', async () => {
      const p = await h.runPod({ name: 'cri-pod', namespace: 'mixed', uid: 'uid-cri-pod' });
      const inv = track(new Inventory(cfg({ runtimeEndpoints: [h.endpoint], dockerEndpoints: [d.url] }), { log: silentLogger() }));
      const r = await inv.collect();
      expect(r.errors).toEqual([]);
      expect(r.runtimes.map((s) => [s.endpoint, s.protocol, s.up, s.runtime])).toEqual([
        [h.endpoint, 'cri', true, 'containerd'],
        [d.url, 'docker', true, 'docker'],
      ]);
      expect(r.pods.map((x) => [x.namespace, x.name, x.runtime, x.endpoint])).toEqual([
        ['', 'nginx-plain', 'docker', d.url],
        ['mixed', 'cri-pod', 'containerd', h.endpoint],
        ['shop', 'cart', 'docker', d.url],
      ]);
      const cri = r.pods[1]!;
      expect(cri.sandboxId).toBe(p.sandboxId);
      expect(cri.netns?.inode).toBe(statSync(p.netnsPath).ino);
      expect(cri.containers.map((c) => c.name)).toEqual(['app']);
    });
  });
});

describeIntegration('inventory: the runtime label of request observations', { root: true, commands: ['containerd', 'ctr'] }, () => {
  let h: ContainerdHarness;
  beforeAll(async () => {
    h = await startContainerd({ name: 'inventory-labels' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('labels every call of an endpoint as chaos_daemon_runtime_up labels it, its first Version call included', async () => {
    const calls: Parameters<CallObserver>[0][] = [];
    const dead = 'unix:///nonexistent/cna-inventory-labels/containerd.sock';
    const inv = new Inventory(
      cfg({ runtimeEndpoints: [h.endpoint, dead], dockerEndpoints: ['unix:///nonexistent/cna-inventory-labels/docker.sock'] }),
      { log: silentLogger(), onCall: (c) => calls.push(c) },
    );
    try {
      await inv.collect();
      const r = await inv.collect();
      const upLabel = new Map(r.runtimes.map((s) => [s.endpoint, runtimeLabel(s)]));
      expect([...upLabel]).toEqual([
        [h.endpoint, 'containerd'],
        [dead, 'cri'],
        ['unix:///nonexistent/cna-inventory-labels/docker.sock', 'docker'],
      ]);
      // Both collections' Version calls of the live endpoint, and its listings, under one label.
      const live = calls.filter((c) => c.endpoint === h.endpoint);
      expect(live.filter((c) => c.method === 'Version').map((c) => [c.runtime, c.code])).toEqual([['containerd', 'OK'], ['containerd', 'OK']]);
      expect(new Set(live.map((c) => c.runtime))).toEqual(new Set(['containerd']));
      for (const c of calls) expect(c.runtime, `${c.endpoint} ${c.method}`).toBe(upLabel.get(c.endpoint));
      // Per collection, the dead CRI endpoint's Version and its one retry on a fresh channel, and Docker's _ping
      // (each endpoint's held calls are observed when its own probe settles: in the order the probes end).
      const perCollection = (c: Parameters<CallObserver>[0]): string => `${c.runtime} ${c.method} ${c.code}`;
      const dead2 = calls.filter((c) => c.endpoint !== h.endpoint).map(perCollection);
      expect(dead2.length).toBe(6);
      for (const half of [dead2.slice(0, 3), dead2.slice(3)]) {
        expect(half.sort()).toEqual(['cri Version UNAVAILABLE', 'cri Version UNAVAILABLE', 'docker GET /_ping UNAVAILABLE']);
      }
    } finally {
      inv.close();
    }
  });

  it('an endpoint that never answers holds only its own calls: the others are observed when their probe ends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cna-inv-hang-'));
    const sock = join(dir, 'docker.sock');
    // Accepts and reads, never answers: the Docker probe runs into its deadline.
    const server = net.createServer((c) => c.on('data', () => undefined)).listen(sock);
    await new Promise((r) => server.once('listening', r));
    const seen: { endpoint: string; method: string; at: number }[] = [];
    const inv = new Inventory(cfg({ runtimeEndpoints: [h.endpoint], dockerEndpoints: [`unix://${sock}`], runtimeTimeoutMs: 1500 }), {
      log: silentLogger(), onCall: (c) => seen.push({ endpoint: c.endpoint, method: c.method, at: performance.now() }),
    });
    try {
      await inv.collect();
      const version = seen.find((c) => c.endpoint === h.endpoint && c.method === 'Version');
      const ping = seen.find((c) => c.endpoint === `unix://${sock}`);
      expect(version).toBeDefined();
      expect(ping).toBeDefined();
      // containerd answers in ms; the hung ping ends after its 1.5 s deadline. Held together, both would be
      // observed at the same moment.
      expect(ping!.at - version!.at).toBeGreaterThan(1000);
    } finally {
      inv.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
