/**
 * collect() grouping and failure handling, with a stand-in for the runtime inventory (the real Inventory against
 * a real containerd is exercised in test/commands/inspect.containerd.test.ts) and real namespaces.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { collect } from '../agent/collection.js';
import { NetnsRunner } from '../agent/netns/nsenter/exec.js';
import { silentLogger } from '../agent/log.js';
import type { Inventory } from '../agent/runtime/inventory.js';
import type { PodInfo } from '../agent/runtime/types.js';
import { describeIntegration } from './helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from './helpers/netns.js';
import { ChaosMeshReplay } from './helpers/chaos-mesh.js';

function pod(name: string, ns: { path: string; inode: number } | null, pid: number | null, reason?: string): PodInfo {
  return {
    namespace: 'team', name, uid: `uid-${name}`, runtime: 'containerd', endpoint: 'unix:///fake.sock', sandboxId: `sb${name}`,
    state: 'SANDBOX_READY', pid, hostNetwork: false, netns: ns ? { inode: ns.inode, path: ns.path } : null,
    ...(reason ? { reason } : {}),
    containers: [{ id: `c${name}`, name: 'app', state: 'CONTAINER_RUNNING', pid }],
  };
}

function fakeInventory(pods: PodInfo[] | Error): Inventory {
  return {
    collect: async () => {
      if (pods instanceof Error) throw pods;
      return { runtimes: [{ endpoint: 'unix:///fake.sock', protocol: 'cri', source: 'flag', up: true, runtime: 'containerd', version: '1.6.20', apiVersion: 'v1', error: null }], pods, errors: [] };
    },
    containerStats: async () => [],
  } as unknown as Inventory;
}

describeIntegration('collect()', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'iptables-legacy'] }, () => {
  let a: TestNetns;
  let b: TestNetns;
  beforeAll(async () => {
    a = await createNetns('h4ca');
    await a.addPodInterface({ addr: '10.250.0.2/24' });
    await a.startHolder();
    b = await createNetns('h4cb');
    await b.addPodInterface({ addr: '10.250.1.2/24' });
    await b.startHolder();
    await new ChaosMeshReplay(b, 'legacy').bandwidth({ rate: 1_000_000, burst: 10_000, limit: 20_000 });
  });
  afterAll(async () => {
    await destroyAll();
  });

  it('reads each namespace once, shares it between pods, and reports vanished / unresolved pods in their entries', async () => {
    const runner = new NetnsRunner({ nsenterPath: 'nsenter', concurrency: 4, timeoutMs: 5000, maxOutputBytes: 1 << 24 });
    const ia = { path: a.path, inode: statSync(a.path).ino };
    const ib = { path: `/proc/${b.holderPid}/ns/net`, inode: statSync(b.path).ino };
    const pods = [
      pod('a1', ia, a.holderPid),
      pod('a2', ia, a.holderPid), // same namespace as a1
      pod('b', ib, b.holderPid),
      pod('gone', { path: '/var/run/netns/h4-gone-ns', inode: 1 }, null),
      pod('unresolved', null, null, 'sandbox has no pid'),
    ];
    const snap = await collect({ inventory: fakeInventory(pods), runner, procRoot: '/proc', log: silentLogger() });
    expect(snap.pods.map((p) => [p.name, p.chaos.verdict, p.chaos.kinds.join(','), p.spawns])).toEqual([
      ['a1', 'clean', '', 1],
      ['a2', 'clean', '', 0],
      ['b', 'active', 'bandwidth', 1],
      ['gone', 'unknown', '', 0],
      ['unresolved', 'unknown', '', 0],
    ]);
    expect(snap.pods[1]!.tc).toBe(snap.pods[0]!.tc);
    expect(snap.pods[3]!.errors).toEqual(['netns: /var/run/netns/h4-gone-ns no longer exists (vanished)']);
    expect(snap.pods[3]!.chaos.findings).toEqual(['not inspected: the pod or its network namespace vanished']);
    expect(snap.pods[4]!.errors).toEqual(['network namespace not resolved: sandbox has no pid']);
    // Two distinct namespaces read once each (a1 and a2 share one read), by two freshly started workers.
    expect(snap.reads).toBe(2);
    expect(snap.spawns).toBe(2);
    expect(snap.cpuSeconds).toBeGreaterThan(0);
    expect(snap.collectors.map((c) => [c.collector, c.success])).toEqual([['runtime', true], ['netns', true], ['processes', true], ['bpm', true], ['stats', true]]);
    expect(snap.durationSeconds).toBeGreaterThan(0);
  });

  it('never throws: a failing inventory is a failed runtime collector and no pods', async () => {
    const runner = new NetnsRunner({ nsenterPath: 'nsenter', concurrency: 4, timeoutMs: 5000, maxOutputBytes: 1 << 24 });
    const snap = await collect({ inventory: fakeInventory(new Error('socket closed')), runner, procRoot: '/proc', log: silentLogger() });
    expect(snap.pods).toEqual([]);
    expect(snap.collectors[0]).toEqual({ collector: 'runtime', success: false, seconds: expect.any(Number), error: 'socket closed' });
    expect(snap.spawns).toBe(0);
  });

  it('an aborted collection reads nothing', async () => {
    const runner = new NetnsRunner({ nsenterPath: 'nsenter', concurrency: 4, timeoutMs: 5000, maxOutputBytes: 1 << 24 });
    const ac = new AbortController();
    ac.abort();
    const snap = await collect({ inventory: fakeInventory([pod('a1', { path: a.path, inode: statSync(a.path).ino }, a.holderPid)]), runner, procRoot: '/proc', log: silentLogger() }, { signal: ac.signal });
    expect(snap.spawns).toBe(0);
    expect(snap.pods[0]!.errors).toEqual(['collection aborted']);
    expect(snap.collectors.find((c) => c.collector === 'netns')).toMatchObject({ success: false, error: 'aborted' });
  });
});
