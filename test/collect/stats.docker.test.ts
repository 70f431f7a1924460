/**
 * The stats collector on a REAL dockerd (its default cgroupfs driver on this machine's cgroup v1: `/docker/<id>`):
 * Docker containers read from their cgroups like CRI ones, compared with the Engine's own stats taken just before
 * and just after; a container whose cgroup cannot be read has no value and the collector says so (Docker has no
 * runtime fallback), while one whose process is gone (stopped after the listing) is no failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCollector } from '../../agent/collect/collector.js';
import { emptyDraft, type Draft } from '../../agent/collect/draft.js';
import { runtimeCollector } from '../../agent/collect/runtime.js';
import { statsCollector } from '../../agent/collect/stats.js';
import { silentLogger } from '../../agent/log.js';
import { registerContainerStatsMetrics } from '../../agent/metrics/container-stats.js';
import { CollectionFamilies } from '../../agent/metrics/families.js';
import { parseCgroupFile } from '../../agent/proc/proc-files.js';
import { CgroupStatsReader, hostCgroupRoot } from '../../agent/runtime/cgroup-stats.js';
import { Inventory } from '../../agent/runtime/inventory.js';
import type { ContainerStat } from '../../agent/runtime/types.js';
import type { Snapshot } from '../../agent/snapshot.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { describeIntegration } from '../helpers/env.js';
import { familiesText } from '../metrics/families-text.js';

const ctx = { deadline: Number.POSITIVE_INFINITY, log: silentLogger() };
// Burns ~0.5-1 s of CPU once, marks it with /done, then sleeps (same PID).
const BURNER = ['sh', '-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; touch /done; exec sleep 3600'];

/** The Engine's one-shot stats: CPU in seconds, working set as containerd computes it on cgroup v1. */
interface EngineStat {
  cpu: number;
  memory: number;
}

describeIntegration('stats collector on a real dockerd', { root: true, commands: ['dockerd'] }, () => {
  let d: Dockerd;
  let inv: Inventory;
  let draft: Draft;
  let empty: string;
  const cgroups = new CgroupStatsReader({ cgroupRoot: hostCgroupRoot('/'), procRoot: '/proc' });
  const pod = { namespace: 'shop', name: 'web', uid: 'uid-web' };
  const ids: Record<string, string> = {};

  const byId = (stats: ContainerStat[]): Map<string, ContainerStat> => new Map(stats.map((s) => [s.containerId, s]));
  const collect = async (reader: CgroupStatsReader | null = cgroups): Promise<{ success: boolean; error?: string; stats: Map<string, ContainerStat> }> => {
    const r = await runCollector(statsCollector(inv, reader), draft, ctx);
    return { success: r.success, ...(r.error !== undefined ? { error: r.error } : {}), stats: byId(draft.containerStats) };
  };
  const running = (): { id: string; pid: number; name: string }[] =>
    draft.pods.flatMap((p) => p.containers.filter((c) => c.state === 'CONTAINER_RUNNING').map((c) => ({ id: c.id, pid: c.pid!, name: c.name })));
  const engineStat = async (id: string): Promise<EngineStat> => {
    const r = await d.api('GET', `/containers/${id}/stats?stream=false&one-shot=true`);
    const j = r.json as { cpu_stats: { cpu_usage: { total_usage: number } }; memory_stats: { usage: number; stats: { total_inactive_file: number } } };
    const { usage, stats } = j.memory_stats;
    return { cpu: j.cpu_stats.cpu_usage.total_usage / 1e9, memory: Math.max(0, usage - stats.total_inactive_file) };
  };

  beforeAll(async () => {
    d = await startDockerd();
    empty = await mkdtemp(join(tmpdir(), 'cna-dstats-nocgroup-'));
    ids.sb = await d.runSandbox(pod);
    ids.app = await d.runApp(ids.sb, pod, 'app');
    ids.cpu = await d.runApp(ids.sb, pod, 'cpu', { cmd: BURNER });
    ids.plain = await d.runPlain('plain-one');
    inv = new Inventory({ runtimeEndpoints: [], dockerEndpoints: [d.url], hostRoot: '/', procRoot: '/proc', runtimeTimeoutMs: 15_000 }, { log: silentLogger() });
    draft = emptyDraft();
    await runCollector(runtimeCollector(inv), draft, ctx);
    expect(running().map((c) => c.id).sort()).toEqual([ids.app, ids.cpu, ids.plain].sort());
    const pid = running().find((c) => c.name === 'cpu')!.pid;
    const deadline = Date.now() + 30_000;
    while (!existsSync(`/proc/${pid}/root/done`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(`/proc/${pid}/root/done`)).toBe(true);
  }, 120_000);

  afterAll(async () => {
    inv?.close();
    cgroups.close();
    await d?.stop();
    if (empty) await rm(empty, { recursive: true, force: true });
  });

  it('reads every running Docker container from its cgroup, the values the Engine gives at nearly the same moment', async () => {
    // The cgroupfs form this dockerd uses: /docker/<id>, the container's ID as the last segment.
    const app = running().find((c) => c.id === ids.app)!;
    const line = parseCgroupFile(readFileSync(`/proc/${app.pid}/cgroup`, 'utf8')).find((l) => l.controllers.includes('cpuacct'))!;
    expect(line.path.endsWith(`/${ids.app}`)).toBe(true);

    const before = new Map(await Promise.all(running().map(async (c) => [c.id, await engineStat(c.id)] as const)));
    const got = await collect();
    const after = new Map(await Promise.all(running().map(async (c) => [c.id, await engineStat(c.id)] as const)));
    expect(got).toMatchObject({ success: true });
    expect(got.stats.size).toBe(3);
    for (const c of running()) {
      const s = got.stats.get(c.id)!;
      expect(s, c.name).toMatchObject({ source: 'cgroup', name: c.name });
      expect(s.cpuSeconds!).toBeGreaterThanOrEqual(before.get(c.id)!.cpu);
      expect(s.cpuSeconds!).toBeLessThanOrEqual(after.get(c.id)!.cpu);
      expect(s.memoryWorkingSetBytes!).toBeGreaterThan(0);
      const [lo, hi] = [before, after].map((m) => m.get(c.id)!.memory).sort((a, b) => a - b) as [number, number];
      const outside = Math.max(0, lo - s.memoryWorkingSetBytes!, s.memoryWorkingSetBytes! - hi);
      expect(outside, `${c.name}: ${s.memoryWorkingSetBytes} vs [${lo}, ${hi}]`).toBeLessThanOrEqual(512 * 1024);
    }
    // The burner ran ~0.5 s of CPU; the sleepers almost none.
    expect(got.stats.get(ids.cpu!)!.cpuSeconds!).toBeGreaterThan(0.1);
    expect(got.stats.get(ids.sb!)).toBeUndefined();

    const registry = new CollectionFamilies();
    const snapshot = { pods: draft.pods.map((p) => ({ pod: p })), containerStats: draft.containerStats } as unknown as Snapshot;
    await registerContainerStatsMetrics(registry, snapshot);
    const text = await familiesText(registry);
    expect(text).toContain('chaos_daemon_container_stats_containers{source="cgroup"} 3');
    expect(text).toContain('chaos_daemon_container_stats_containers{source="runtime"} 0');
    const cpuLine = /chaos_daemon_container_cpu_usage_seconds_total\{namespace="shop",pod="web",container="cpu"\} (\S+)/.exec(text);
    expect(Number(cpuLine?.[1])).toBeGreaterThan(0.1);
    const memLine = /chaos_daemon_container_memory_working_set_bytes\{namespace="",pod="plain-one",container="plain-one"\} (\S+)/.exec(text);
    expect(Number(memLine?.[1])).toBeGreaterThan(0);
  });

  it('a Docker container whose cgroup cannot be read has no value and fails the collector; one whose process is gone does not', async () => {
    const target = draft.pods.find((p) => p.name === 'web')!;
    const saved = target.containers.map((c) => ({ ...c }));
    const appPid = running().find((c) => c.id === ids.app)!.pid;
    // A PID of a process that has exited (spawnSync waits for it).
    const gonePid = spawnSync('true').pid!;
    expect(existsSync(`/proc/${gonePid}`)).toBe(false);
    try {
      // A reused PID: the cpu container's PID now names the app container's process (another cgroup).
      target.containers = target.containers.map((c) => (c.id === ids.cpu ? { ...c, pid: appPid } : c));
      const reused = await collect();
      expect(reused.success).toBe(false);
      expect(reused.error).toContain('1 running Docker container(s) without CPU/memory');
      expect(reused.error).toContain('shop/web cpu:');
      expect(reused.error).toContain('is not the container');
      expect(reused.stats.get(ids.cpu!)).toBeUndefined();
      expect([...reused.stats.values()].map((s) => s.source)).toEqual(['cgroup', 'cgroup']);

      target.containers = saved.map((c) => (c.id === ids.cpu ? { ...c, pid: gonePid } : c));
      const gone = await collect();
      expect(gone).toMatchObject({ success: true });
      expect(gone.stats.get(ids.cpu!)).toBeUndefined();
    } finally {
      target.containers = saved;
    }
  });

  it('without a readable cgroup filesystem no Docker container has a value, and the collector says how many', async () => {
    const elsewhere = new CgroupStatsReader({ cgroupRoot: empty, procRoot: '/proc' });
    for (const reader of [elsewhere, null]) {
      const got = await collect(reader);
      expect(got.stats.size, String(reader?.root)).toBe(0);
      expect(got.success).toBe(false);
      expect(got.error).toMatch(/^3 running Docker container\(s\) without CPU\/memory/);
    }
  });
});
