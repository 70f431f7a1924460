/**
 * collect() grouping and failure handling, with a stand-in for the runtime inventory (the real Inventory against
 * a real containerd is exercised in test/commands/inspect.containerd.test.ts) and real namespaces.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { collect } from '../agent/collection.js';
import { ProcScanMemo } from '../agent/collect/proc.js';
import { RootReader } from '../agent/proc/root-reader.js';
import type { RootJob } from '../agent/proc/root-facts.js';
import { createNetnsReader, type NetnsReader } from '../agent/netns/read.js';
import { silentLogger } from '../agent/log.js';
import type { ContainerStatsReport, Inventory } from '../agent/runtime/inventory.js';
import type { ContainerStat, PodInfo } from '../agent/runtime/types.js';
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

/** By default the runtime answers ListContainerStats for every container (no cgroup reader is given here). */
function fakeInventory(pods: PodInfo[] | Error, containerStats: () => Promise<ContainerStat[]> = async () => everyStat(pods)): Inventory {
  return {
    collect: async () => {
      if (pods instanceof Error) throw pods;
      return { runtimes: [{ endpoint: 'unix:///fake.sock', protocol: 'cri', source: 'flag', up: true, runtime: 'containerd', version: '1.6.20', apiVersion: 'v1', error: null }], pods, errors: [] };
    },
    // As Inventory.containerStatsReport does: a runtime's failed call is reported, not thrown.
    containerStatsReport: async (): Promise<ContainerStatsReport> => {
      try {
        return { stats: await containerStats(), failed: [] };
      } catch (err) {
        return { stats: [], failed: [{ endpoint: 'unix:///fake.sock', error: (err as Error).message }] };
      }
    },
  } as unknown as Inventory;
}

function everyStat(pods: PodInfo[] | Error): ContainerStat[] {
  if (pods instanceof Error) return [];
  return pods.flatMap((p) => p.containers.map((c) => ({ containerId: c.id, sandboxId: p.sandboxId, name: c.name, cpuSeconds: 1, memoryWorkingSetBytes: 1 })));
}

const readers: NetnsReader[] = [];
const readerOf = (mode: 'nsenter' | 'netlink' | 'auto' = 'nsenter'): NetnsReader => {
  const r = createNetnsReader({ reader: mode, netnsConcurrency: 4, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 1 << 24, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
  readers.push(r);
  return r;
};

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
    for (const r of readers.splice(0)) await r.close();
    await destroyAll();
  });

  it('reads each namespace once, shares it between pods, and reports vanished / unresolved pods in their entries', async () => {
    const reader = readerOf();
    const ia = { path: a.path, inode: statSync(a.path).ino };
    const ib = { path: `/proc/${b.holderPid}/ns/net`, inode: statSync(b.path).ino };
    const pods = [
      pod('a1', ia, a.holderPid),
      pod('a2', ia, a.holderPid), // same namespace as a1
      pod('b', ib, b.holderPid),
      pod('gone', { path: '/var/run/netns/h4-gone-ns', inode: 1 }, null),
      pod('unresolved', null, null, 'sandbox has no pid'),
    ];
    const snap = await collect({ inventory: fakeInventory(pods), reader, procRoot: '/proc', log: silentLogger() });
    expect(snap.pods.map((p) => [p.name, p.chaos.verdict, p.chaos.kinds.join(','), p.spawns > 0])).toEqual([
      ['a1', 'clean', '', true],
      ['a2', 'clean', '', false],
      ['b', 'active', 'bandwidth', true],
      ['gone', 'unknown', '', false],
      ['unresolved', 'unknown', '', false],
    ]);
    expect(snap.pods[1]!.tc).toBe(snap.pods[0]!.tc);
    expect(snap.pods[3]!.errors).toEqual(['nsenter: /var/run/netns/h4-gone-ns: ENOENT (vanished)']);
    expect(snap.pods[3]!.chaos.findings).toEqual(['not inspected: the pod or its network namespace vanished']);
    expect(snap.pods[4]!.errors).toEqual(['network namespace not resolved: sandbox has no pid']);
    // Two distinct namespaces read once each (a1 and a2 share one read); the vanished one is a third attempt.
    expect(snap.reads).toBe(3);
    expect(snap.spawns).toBe(snap.pods[0]!.spawns + snap.pods[2]!.spawns);
    expect(snap.cpuSeconds).toBeGreaterThan(0);
    expect(snap.collectors.map((c) => [c.collector, c.success])).toEqual([['runtime', true], ['netns', true], ['stats', true], ['proc', true], ['bpm', true]]);
    expect(snap.durationSeconds).toBeGreaterThan(0);
  });

  it('never throws: a failing inventory is a failed runtime collector and no pods', async () => {
    const reader = readerOf();
    const snap = await collect({ inventory: fakeInventory(new Error('socket closed')), reader, procRoot: '/proc', log: silentLogger() });
    expect(snap.pods).toEqual([]);
    expect(snap.collectors[0]).toEqual({ collector: 'runtime', success: false, seconds: expect.any(Number), error: 'socket closed' });
    expect(snap.spawns).toBe(0);
  });

  it('stats waits alongside the namespace reads, timed on its own; its failure stops no other collector', async () => {
    const STATS_MS = 400;
    const ia = { path: a.path, inode: statSync(a.path).ino };
    const ib = { path: b.path, inode: statSync(b.path).ino };
    const t0 = performance.now();
    let statsAsked = -1;
    let readsDone = -1;
    const stat: ContainerStat = { containerId: 'ca1', sandboxId: 'sba1', name: 'app', cpuSeconds: 5, memoryWorkingSetBytes: 7 };
    const statB: ContainerStat = { containerId: 'cb', sandboxId: 'sbb', name: 'app', cpuSeconds: 1, memoryWorkingSetBytes: 2 };
    const slowStats = (fail: boolean) => async (): Promise<ContainerStat[]> => {
      statsAsked = performance.now() - t0;
      await new Promise((r) => setTimeout(r, STATS_MS));
      if (fail) throw new Error('ListContainerStats: deadline exceeded');
      return [stat, statB];
    };
    const reader = createNetnsReader({ reader: 'nsenter', netnsConcurrency: 4, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 1 << 24, namespaceTimeoutMs: 10_000, procRoot: '/proc' }, {
      onRead: () => void (readsDone = performance.now() - t0),
    });
    readers.push(reader);
    const pods = [pod('a1', ia, a.holderPid), pod('b', ib, b.holderPid)];

    const snap = await collect({ inventory: fakeInventory(pods, slowStats(false)), reader, procRoot: '/proc', log: silentLogger() });
    // Asked before the namespace reads ended (in sequence it was asked only after them).
    expect(statsAsked).toBeGreaterThanOrEqual(0);
    expect(statsAsked).toBeLessThan(readsDone);
    expect(snap.containerStats).toEqual([{ ...stat, source: 'runtime' }, { ...statB, source: 'runtime' }]);
    const seconds = Object.fromEntries(snap.collectors.map((c) => [c.collector, c.seconds]));
    expect(snap.collectors.map((c) => [c.collector, c.success])).toEqual([['runtime', true], ['netns', true], ['stats', true], ['proc', true], ['bpm', true]]);
    expect(seconds.stats).toBeGreaterThanOrEqual((STATS_MS - 5) / 1000);
    // Overlapped: the collection took less than its collectors one after another.
    expect(snap.durationSeconds).toBeLessThan(Object.values(seconds).reduce((x, y) => x + y, 0));
    expect(snap.pods.map((p) => [p.name, p.chaos.verdict])).toEqual([['a1', 'clean'], ['b', 'active']]);

    const failed = await collect({ inventory: fakeInventory(pods, slowStats(true)), reader, procRoot: '/proc', log: silentLogger() });
    expect(failed.collectors.map((c) => [c.collector, c.success, c.error])).toEqual([
      ['runtime', true, undefined], ['netns', true, undefined], ['stats', false, "2 running CRI container(s) without CPU/memory (cgroup not readable, not in the runtime's ListContainerStats): "
        + 'team/a1 app: no cgroup filesystem given; team/b app: no cgroup filesystem given; ListContainerStats failed: unix:///fake.sock: ListContainerStats: deadline exceeded'], ['proc', true, undefined], ['bpm', true, undefined],
    ]);
    expect(failed.containerStats).toEqual([]);
    expect(failed.pods.map((p) => [p.name, p.chaos.verdict])).toEqual([['a1', 'clean'], ['b', 'active']]);
  });

  it('the /proc scan runs while the namespaces are read, and is merged into the reports after them', async () => {
    const ia = { path: a.path, inode: statSync(a.path).ino };
    const ib = { path: b.path, inode: statSync(b.path).ino };
    let lastReadDone = 0;
    const reader = createNetnsReader({ reader: 'nsenter', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 1 << 24, namespaceTimeoutMs: 10_000, procRoot: '/proc' }, {
      onRead: () => void (lastReadDone = Date.now()),
    });
    readers.push(reader);
    const procScans = new ProcScanMemo();
    const pods = [pod('a1', ia, a.holderPid), pod('b', ib, b.holderPid)];
    // The containers' roots, though, are read only after the namespaces: on a pool thread, a root read goes before
    // queued namespace reads (pool.ts lease) and would hold them up.
    const real = new RootReader({});
    let rootsAskedAt = 0;
    const rootReader = { read: (jobs: readonly RootJob[]) => ((rootsAskedAt = Date.now()), real.read(jobs)) } as unknown as RootReader;
    const snap = await collect({ inventory: fakeInventory(pods), reader, procRoot: '/proc', log: silentLogger(), procScans, rootReader });
    await real.close();
    // Started once netns had posted its reads, not after them (in sequence: after the last read ended).
    expect(procScans.last).not.toBeNull();
    expect(procScans.last!.startedAt).toBeLessThan(lastReadDone);
    expect(rootsAskedAt).toBeGreaterThanOrEqual(lastReadDone);
    expect(snap.collectors.map((c) => [c.collector, c.success])).toEqual([['runtime', true], ['netns', true], ['stats', true], ['proc', true], ['bpm', true]]);
    // Timed from its start: the proc collector's time covers the reads it ran alongside.
    const seconds = Object.fromEntries(snap.collectors.map((c) => [c.collector, c.seconds]));
    expect(seconds.proc).toBeGreaterThan(seconds.netns! / 2);
    // Merged after the netns collector judged the pods: each report carries its verdict and its pod's /proc facts.
    expect(snap.pods.map((p) => [p.name, p.chaos.verdict, p.proc?.sandboxId])).toEqual([['a1', 'clean', 'sba1'], ['b', 'active', 'sbb']]);
  });

  it('an aborted collection reads nothing', async () => {
    const reader = readerOf();
    const ac = new AbortController();
    ac.abort();
    const snap = await collect({ inventory: fakeInventory([pod('a1', { path: a.path, inode: statSync(a.path).ino }, a.holderPid)]), reader, procRoot: '/proc', log: silentLogger() }, { signal: ac.signal });
    expect(snap.spawns).toBe(0);
    expect(snap.reads).toBe(0);
    expect(snap.collectors.map((c) => [c.collector, c.success, c.error])).toEqual([['runtime', false, 'aborted'], ['netns', false, 'aborted'], ['stats', false, 'aborted'], ['proc', false, 'aborted'], ['bpm', false, 'aborted']]);
  });
});
