/**
 * The stats collector's runtime fallback with stand-ins for the cgroup reader and the inventory (the real ones are
 * in stats.containerd.test.ts): a CRI container that neither its cgroup nor its runtime's ListContainerStats gives a
 * value is reported missing (success false, how many and which), unless its process is gone.
 */
import { describe, expect, it } from 'vitest';
import { runCollector } from '../../agent/collect/collector.js';
import { emptyDraft, type Draft } from '../../agent/collect/draft.js';
import { statsCollector } from '../../agent/collect/stats.js';
import { silentLogger } from '../../agent/log.js';
import type { UsageResult } from '../../agent/runtime/cgroup-parse.js';
import type { CgroupStatsReader } from '../../agent/runtime/cgroup-stats.js';
import type { ContainerStatsReport, Inventory } from '../../agent/runtime/inventory.js';
import type { CollectorResult } from '../../agent/snapshot.js';
import type { ContainerStat, PodInfo } from '../../agent/runtime/types.js';

const ctx = { deadline: Number.POSITIVE_INFINITY, log: silentLogger() };
const CRI = 'unix:///run/containerd/containerd.sock';

function draftOf(containers: string[]): Draft {
  const d = emptyDraft();
  d.runtimes = [{ endpoint: CRI, protocol: 'cri', source: 'flag', up: true, runtime: 'containerd', version: '1.7.0', apiVersion: 'v1', error: null }];
  const pod: PodInfo = {
    namespace: 'shop', name: 'web', uid: 'uid-web', runtime: 'containerd', endpoint: CRI, sandboxId: 'sb-web', state: 'SANDBOX_READY',
    pid: 100, hostNetwork: false, netns: null, containers: containers.map((name, i) => ({ id: `c-${name}`, name, state: 'CONTAINER_RUNNING', pid: 101 + i })),
  };
  d.pods = [pod];
  return d;
}

/** A cgroup reader whose read() answers from `reads` (by container ID), every other container read fine. */
function fakeCgroups(reads: Record<string, UsageResult>): CgroupStatsReader {
  return {
    prepare: async () => ({ ok: true, root: '/fake/sys/fs/cgroup', mode: 'v2' }),
    read: (c: { id: string }): UsageResult => reads[c.id] ?? { ok: true, cpuSeconds: 1, memoryWorkingSetBytes: 2 },
    retain: () => undefined,
  } as unknown as CgroupStatsReader;
}

/** An inventory whose runtimes answer ListContainerStats with `stats` (or fail with `failed`); records what was asked. */
function fakeInventory(stats: ContainerStat[], failed: ContainerStatsReport['failed'] = [], asked: string[][] = []): Inventory {
  return {
    containerStatsReport: async (endpoints?: ReadonlySet<string>) => (asked.push([...(endpoints ?? [])]), { stats, failed }),
  } as unknown as Inventory;
}

const stat = (name: string): ContainerStat => ({ containerId: `c-${name}`, sandboxId: 'sb-web', name, cpuSeconds: 3, memoryWorkingSetBytes: 4 });
const unreadable: UsageResult = { ok: false, reason: '/proc/101/cgroup names /other, which is not the container' };
const gone: UsageResult = { ok: false, reason: 'process 102 is gone', gone: true };

async function run(draft: Draft, inv: Inventory, reads: Record<string, UsageResult>): Promise<CollectorResult> {
  return runCollector(statsCollector(inv, fakeCgroups(reads)), draft, ctx);
}

describe('stats collector: CRI containers the runtime does not return', () => {
  it('one whose cgroup cannot be read and that ListContainerStats does not return fails the collector, named', async () => {
    const draft = draftOf(['app', 'sidecar']);
    const asked: string[][] = [];
    const r = await run(draft, fakeInventory([], [], asked), { 'c-app': unreadable });
    expect(asked).toEqual([[CRI]]);
    expect(r.success).toBe(false);
    expect(r.error).toBe("1 running CRI container(s) without CPU/memory (cgroup not readable, not in the runtime's ListContainerStats): "
      + 'shop/web app: /proc/101/cgroup names /other, which is not the container');
    expect(draft.containerStats.map((s) => [s.containerId, s.source])).toEqual([['c-sidecar', 'cgroup']]);
  });

  it('one whose process is gone is no failure; only the others are counted', async () => {
    const draft = draftOf(['app', 'sidecar', 'proxy']);
    const ok = await run(draft, fakeInventory([]), { 'c-sidecar': gone });
    expect(ok).toMatchObject({ success: true });
    expect(ok.error).toBeUndefined();
    expect(draft.containerStats.map((s) => s.containerId)).toEqual(['c-app', 'c-proxy']);

    const r = await run(draftOf(['app', 'sidecar', 'proxy']), fakeInventory([]), { 'c-app': unreadable, 'c-sidecar': gone });
    expect(r.success).toBe(false);
    expect(r.error).toMatch(/^1 running CRI container\(s\) without CPU\/memory .*: shop\/web app: [^;]*$/);
  });

  it('one the runtime returns has its value, source runtime; a failed ListContainerStats is named in the error', async () => {
    const draft = draftOf(['app', 'sidecar']);
    const ok = await run(draft, fakeInventory([stat('app'), stat('sidecar')]), { 'c-app': unreadable });
    expect(ok).toMatchObject({ success: true });
    // The runtime's answer for a container read from its cgroup is not taken.
    expect(draft.containerStats.map((s) => [s.containerId, s.source, s.cpuSeconds])).toEqual([['c-sidecar', 'cgroup', 1], ['c-app', 'runtime', 3]]);

    const five = draftOf(['a', 'b', 'c', 'd', 'e']);
    const r = await run(five, fakeInventory([stat('e')], [{ endpoint: CRI, error: 'ListContainerStats: deadline exceeded' }]),
      { 'c-a': unreadable, 'c-b': unreadable, 'c-c': { ok: false, reason: 'no container PID' }, 'c-d': unreadable, 'c-e': unreadable });
    expect(r.success).toBe(false);
    expect(r.error).toContain('4 running CRI container(s) without CPU/memory');
    // The first three reasons, then the failed call.
    expect(r.error).toContain(': shop/web a: /proc/101/cgroup names /other, which is not the container; shop/web b: ');
    expect(r.error).toContain('; shop/web c: no container PID; ListContainerStats failed: unix:///run/containerd/containerd.sock: ListContainerStats: deadline exceeded');
    expect(r.error).not.toContain('shop/web d');
    expect(five.containerStats.map((s) => [s.containerId, s.source])).toEqual([['c-e', 'runtime']]);
  });
});
