/**
 * The stats collector on a REAL containerd (cgroupfs driver, this machine's cgroup v1): each running container read
 * from its cgroup, compared with containerd's own ListContainerStats taken just before and just after (a CPU
 * counter read between two reads of the same counter must lie between them); a container burning CPU between two
 * collections; and the fallback to the runtime, per container, counted in chaos_daemon_container_stats_containers.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCollector } from '../../agent/collect/collector.js';
import { emptyDraft, type Draft } from '../../agent/collect/draft.js';
import { runtimeCollector } from '../../agent/collect/runtime.js';
import { statsCollector } from '../../agent/collect/stats.js';
import { silentLogger } from '../../agent/log.js';
import { parseCgroupFile } from '../../agent/proc/proc-files.js';
import { registerContainerStatsMetrics } from '../../agent/metrics/container-stats.js';
import { CollectionFamilies } from '../../agent/metrics/families.js';
import { CgroupStatsReader, hostCgroupRoot } from '../../agent/runtime/cgroup-stats.js';
import { Inventory } from '../../agent/runtime/inventory.js';
import type { ContainerStat } from '../../agent/runtime/types.js';
import type { Snapshot } from '../../agent/snapshot.js';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { describeIntegration } from '../helpers/env.js';
import { ownFds } from '../helpers/procs.js';
import { familiesText } from '../metrics/families-text.js';

const ctx = { deadline: Number.POSITIVE_INFINITY, log: silentLogger() };
// Burns ~0.5-1 s of CPU each time /go appears in its root, otherwise sleeps.
const BURNER = ['/bin/sh', '-c', 'while :; do if [ -e /go ]; then rm /go; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; touch /done; fi; sleep 0.05; done'];

describeIntegration('stats collector on a real containerd', { root: true, commands: ['containerd', 'runc', 'ctr', 'ip'] }, () => {
  let h: ContainerdHarness;
  let inv: Inventory;
  let draft: Draft;
  let empty: string;
  // One reader for the whole file, as the agent keeps one: its counter files stay open across collections.
  const cgroups = new CgroupStatsReader({ cgroupRoot: hostCgroupRoot('/'), procRoot: '/proc' });

  const byId = (stats: ContainerStat[]): Map<string, ContainerStat> => new Map(stats.map((s) => [s.containerId, s]));
  const collectStats = async (reader: CgroupStatsReader | null = cgroups): Promise<Map<string, ContainerStat>> => {
    const r = await runCollector(statsCollector(inv, reader), draft, ctx);
    expect(r).toMatchObject({ collector: 'stats', success: true });
    return byId(draft.containerStats);
  };
  const running = (): { id: string; pid: number; pod: string; name: string }[] =>
    draft.pods.flatMap((p) => p.containers.filter((c) => c.state === 'CONTAINER_RUNNING').map((c) => ({ id: c.id, pid: c.pid!, pod: p.name, name: c.name })));

  beforeAll(async () => {
    h = await startContainerd({ name: 'stats' });
    empty = await mkdtemp(join(tmpdir(), 'cna-stats-nocgroup-'));
    await Promise.all([
      h.runPod({ name: 'web', namespace: 'shop', containers: ['app', 'sidecar'] }),
      h.runPod({ name: 'burner', namespace: 'shop', containers: ['cpu'], command: BURNER }),
    ]);
    inv = new Inventory({ runtimeEndpoints: [h.endpoint], dockerEndpoints: [], hostRoot: '/', procRoot: '/proc', runtimeTimeoutMs: 15_000 }, { log: silentLogger() });
    draft = emptyDraft();
    await runCollector(runtimeCollector(inv), draft, ctx);
    expect(running()).toHaveLength(3);
  }, 120_000);

  afterAll(async () => {
    inv?.close();
    cgroups.close();
    await h?.stop();
    if (empty) await rm(empty, { recursive: true, force: true });
  });

  it('reads every running container from its cgroup, the values ListContainerStats gives at nearly the same moment', async () => {
    const before = byId((await inv.containerStatsReport()).stats);
    const mine = await collectStats();
    const after = byId((await inv.containerStatsReport()).stats);
    for (const c of running()) {
      const s = mine.get(c.id)!;
      expect(s, `${c.pod}/${c.name}`).toMatchObject({ source: 'cgroup', name: c.name });
      // The same cumulative counter read between two reads of it by containerd: it lies between them.
      expect(s.cpuSeconds!).toBeGreaterThanOrEqual(before.get(c.id)!.cpuSeconds!);
      expect(s.cpuSeconds!).toBeLessThanOrEqual(after.get(c.id)!.cpuSeconds!);
      expect(s.cpuSeconds!).toBeGreaterThan(0);
      // Working set: same formula; only what the container allocated or freed between the reads may differ.
      expect(s.memoryWorkingSetBytes!).toBeGreaterThan(0);
      // (The burner forks a short-lived child every 50 ms, ~100-300 KiB each: measured against both reads' span.)
      const [lo, hi] = [before, after].map((m) => m.get(c.id)!.memoryWorkingSetBytes!).sort((a, b) => a - b) as [number, number];
      const outside = Math.max(0, lo - s.memoryWorkingSetBytes!, s.memoryWorkingSetBytes! - hi);
      expect(outside, `${c.pod}/${c.name}: ${s.memoryWorkingSetBytes} vs [${lo}, ${hi}]`).toBeLessThanOrEqual(512 * 1024);
    }
    expect(mine.size).toBe(3);
  });

  it('a container burning CPU between two collections shows its counter grow by what it ran', async () => {
    const cpu = running().find((c) => c.name === 'cpu')!;
    const t0 = (await collectStats()).get(cpu.id)!.cpuSeconds!;
    writeFileSync(`/proc/${cpu.pid}/root/go`, '');
    const deadline = Date.now() + 30_000;
    while (!existsSync(`/proc/${cpu.pid}/root/done`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(`/proc/${cpu.pid}/root/done`)).toBe(true);
    const t1 = (await collectStats()).get(cpu.id)!.cpuSeconds!;
    expect(t1 - t0).toBeGreaterThan(0.1);
    const cri = byId((await inv.containerStatsReport()).stats).get(cpu.id)!.cpuSeconds!;
    expect(cri).toBeGreaterThanOrEqual(t1);
    expect(cri - t1).toBeLessThan(0.1);
  }, 60_000);

  it('a container whose cgroup cannot be read is asked of its runtime, that one only, and counted', async () => {
    const [victim, donor] = running();
    // A reused PID: the victim's PID now names a process of another container's cgroup.
    const pod = draft.pods.find((p) => p.containers.some((c) => c.id === victim!.id))!;
    const saved = pod.containers.map((c) => ({ ...c }));
    pod.containers = pod.containers.map((c) => (c.id === victim!.id ? { ...c, pid: donor!.pid } : c));
    try {
      const before = byId((await inv.containerStatsReport()).stats);
      const got = await collectStats();
      expect(got.get(victim!.id)).toMatchObject({ source: 'runtime', containerId: victim!.id });
      expect(got.get(victim!.id)!.cpuSeconds!).toBeGreaterThanOrEqual(before.get(victim!.id)!.cpuSeconds!);
      expect(got.get(victim!.id)!.cpuSeconds).not.toBe(got.get(donor!.id)!.cpuSeconds);
      for (const c of running().filter((x) => x.id !== victim!.id)) expect(got.get(c.id)!.source).toBe('cgroup');

      const registry = new CollectionFamilies();
      const snapshot = { pods: draft.pods.map((p) => ({ pod: p })), containerStats: draft.containerStats } as unknown as Snapshot;
      await registerContainerStatsMetrics(registry, snapshot);
      const text = await familiesText(registry);
      expect(text).toContain('chaos_daemon_container_stats_containers{source="cgroup"} 2');
      expect(text).toContain('chaos_daemon_container_stats_containers{source="runtime"} 1');
    } finally {
      pod.containers = saved;
    }
  });

  it('without a readable cgroup filesystem every value comes from the runtime', async () => {
    const elsewhere = new CgroupStatsReader({ cgroupRoot: empty, procRoot: '/proc' });
    for (const reader of [elsewhere, null]) {
      const got = await collectStats(reader);
      expect(got.size).toBe(3);
      for (const c of running()) expect(got.get(c.id), String(reader?.root)).toMatchObject({ source: 'runtime', name: c.name, cpuSeconds: expect.any(Number) });
    }
    expect(elsewhere.openContainers).toBe(0);
  });

  it('retain closes the files of every container it is not given, and only those', async () => {
    await collectStats();
    expect(cgroups.openContainers).toBe(3);
    const [kept, ...dropped] = running();
    const before = ownFds().filter((f) => f.target.startsWith('/sys/fs/cgroup/')).map((f) => f.target);
    const named = (id: string): string[] => before.filter((t) => t.includes(id));
    for (const c of running()) expect(named(c.id).length).toBeGreaterThan(0);
    cgroups.retain(new Set([kept!.id]));
    expect(cgroups.openContainers).toBe(1);
    const after = ownFds().filter((f) => f.target.startsWith('/sys/fs/cgroup/')).map((f) => f.target);
    expect(after.filter((t) => t.includes(kept!.id)).sort()).toEqual(named(kept!.id).sort());
    for (const c of dropped) expect(after.filter((t) => t.includes(c.id))).toEqual([]);
    // The next collection opens them again.
    await collectStats();
    expect(cgroups.openContainers).toBe(3);
  });

  it('held counter files never outlive their cgroup: a container stopped between two collections is not read from them', async () => {
    expect((await collectStats()).get(running()[0]!.id)!.source).toBe('cgroup');
    expect(cgroups.openContainers).toBe(3);
    const victim = running().find((c) => c.name === 'sidecar')!;
    const line = parseCgroupFile(readFileSync(`/proc/${victim.pid}/cgroup`, 'utf8')).find((l) => l.controllers.includes('cpuacct'))!;
    const dir = `/sys/fs/cgroup/cpuacct${line.path}`;
    expect(existsSync(dir)).toBe(true);
    await h.stopContainer(victim.id);
    const deadline = Date.now() + 20_000;
    while (existsSync(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(dir)).toBe(false);

    // The draft still lists it running with its old PID (a listing taken just before it stopped): the held files
    // fail (ENODEV), /proc/<pid>/cgroup no longer names it, so the value is the runtime's, never the held files'.
    const stale = await collectStats();
    expect(stale.get(victim.id)?.source).not.toBe('cgroup');
    expect(cgroups.openContainers).toBe(2);

    // A fresh listing: the container is EXITED, not read, and nothing of it stays open.
    await runCollector(runtimeCollector(inv), draft, ctx);
    const fresh = await collectStats();
    expect(running().map((c) => c.id)).not.toContain(victim.id);
    for (const c of running()) expect(fresh.get(c.id)!.source).toBe('cgroup');
    expect(cgroups.openContainers).toBe(2);
  }, 60_000);
});
