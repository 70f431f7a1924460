/**
 * The stats collector: CPU and working set of every running container of the reported pods, CRI and Docker alike,
 * read from the container's cgroup (runtime/cgroup-stats.ts) rather than through CRI ListContainerStats, which costs
 * the node a ttrpc round trip and a cgroup read in every containerd-shim. A CRI container whose cgroup cannot be read
 * (no PID, no cgroup mount under --host-root, a cgroup namespace that hides the path, another layout, a reused PID)
 * is taken from its runtime's ListContainerStats, asked only of the runtimes that have such a container; each stat
 * says its `source`, and the metrics count both; one the runtime does not return either (or whose runtime's call
 * fails) has no value, and the collection says so (success false, how many and why), unless its process is gone
 * (it stopped after the listing). A Docker container has no such fallback (the Engine's stats API is
 * one request per container, each sampling for a second): one whose cgroup cannot be read has no value, and the
 * collection says so (success false, how many and why), unless its process is gone (it stopped after the listing).
 */
import type { UsageResult } from '../runtime/cgroup-parse.js';
import type { CgroupStatsReader } from '../runtime/cgroup-stats.js';
import type { Inventory } from '../runtime/inventory.js';
import type { ContainerStat } from '../runtime/types.js';
import { Slicer } from '../metrics/slicer.js';
import type { CollectContext, Collector, CollectorOutcome } from './collector.js';
import type { Draft } from './draft.js';

/** `cgroups`: the agent's reader of the host's cgroup filesystem; null: every value from the runtimes. */
export function statsCollector(inventory: Inventory, cgroups: CgroupStatsReader | null): Collector {
  return new StatsCollector(inventory, cgroups);
}

/** A class: its collect() is one function for the process's life, not a closure per collection (collect/netns.ts readGroup). */
class StatsCollector implements Collector {
  readonly name = 'stats';
  constructor(private readonly inventory: Inventory, private readonly cgroups: CgroupStatsReader | null) {}

  async collect(draft: Draft, ctx: CollectContext): Promise<CollectorOutcome> {
    const { inventory, cgroups } = this;
    const byUrl = new Map(draft.runtimes.map((r) => [r.endpoint, r.protocol]));
    const ask = new Set<string>();
    const layout = cgroups === null ? null : await cgroups.prepare();
    const unusable = layout === null ? 'no cgroup filesystem given' : layout.ok ? null : layout.reason;
    const read = new Set<string>();
    const stats: ContainerStat[] = [];
    /** Containers whose cgroup could not be read: the CRI ones are asked of their runtime, Docker has no fallback. */
    const misses: Miss[] = [];
    // ~3 small synchronous reads per container (~10 ms for 220 at once, measured): yield between slices.
    const slicer = new Slicer(2, ctx.signal);
    // Indexed loops: run once per collection, unoptimised, a for-of allocates an iterator result per element.
    const pods = draft.pods;
    for (let i = 0; i < pods.length; i++) {
      const pod = pods[i]!;
      const protocol = byUrl.get(pod.endpoint);
      if (protocol !== 'cri' && protocol !== 'docker') continue;
      await slicer.point();
      for (let j = 0; j < pod.containers.length; j++) {
        const c = pod.containers[j]!;
        if (c.state !== 'CONTAINER_RUNNING') continue;
        if (c.pid !== null) read.add(c.id);
        const got: UsageResult = cgroups === null || unusable !== null ? { ok: false, reason: unusable ?? '' }
          : c.pid === null ? { ok: false, reason: 'no container PID' } : cgroups.read({ id: c.id, pid: c.pid });
        if (got.ok) {
          stats.push({ containerId: c.id, sandboxId: pod.sandboxId, name: c.name, cpuSeconds: got.cpuSeconds, memoryWorkingSetBytes: got.memoryWorkingSetBytes, source: 'cgroup' });
        } else {
          if (protocol === 'cri') ask.add(pod.endpoint);
          misses.push({ id: c.id, what: `${podLabel(pod)} ${c.name}: ${got.reason}`, gone: 'gone' in got, docker: protocol === 'docker' });
        }
      }
    }
    cgroups?.retain(read);
    // Which containers have a value: needed only when some cgroup could not be read (not the common case).
    const have = misses.length > 0 ? new Set(stats.map((s) => s.containerId)) : new Set<string>();
    let failedCalls = '';
    if (ask.size > 0) {
      const answer = await inventory.containerStatsReport(ask);
      for (let i = 0; i < answer.stats.length; i++) {
        const s = answer.stats[i]!;
        if (!have.has(s.containerId)) {
          have.add(s.containerId);
          stats.push({ ...s, source: 'runtime' });
        }
      }
      ctx.log.debug({ runtimes: [...ask], examples: misses.filter((m) => !m.docker).slice(0, 3).map((m) => m.what) }, 'container stats asked of the runtime (cgroup not readable)');
      if (answer.failed.length > 0) failedCalls = `; ListContainerStats failed: ${answer.failed.map((f) => `${f.endpoint}: ${f.error}`).join('; ')}`;
    }
    draft.containerStats = stats;
    const errors: string[] = [];
    const cri = unvalued(misses, have, false);
    if (cri.count > 0) errors.push(`${cri.count} running CRI container(s) without CPU/memory (cgroup not readable, not in the runtime's ListContainerStats): ${cri.first.join('; ')}${failedCalls}`);
    const docker = unvalued(misses, have, true);
    if (docker.count > 0) errors.push(`${docker.count} running Docker container(s) without CPU/memory (cgroup not readable; Docker has no fallback): ${docker.first.join('; ')}`);
    if (errors.length === 0) return { success: true };
    return { success: false, error: errors.join('; ') };
  }
}

/** A container whose cgroup could not be read: its ID, what to report, whether its process is gone, its runtime's kind. */
interface Miss {
  id: string;
  what: string;
  gone: boolean;
  docker: boolean;
}

/**
 * The CRI (`docker` false) or Docker misses that got no value from any source, a process gone (stopped after the
 * listing) not counted: how many, and the first 3.
 */
function unvalued(misses: readonly Miss[], have: ReadonlySet<string>, docker: boolean): { count: number; first: string[] } {
  let count = 0;
  const first: string[] = [];
  for (let i = 0; i < misses.length; i++) {
    const m = misses[i]!;
    if (m.docker !== docker || m.gone || have.has(m.id)) continue;
    count++;
    if (first.length < 3) first.push(m.what);
  }
  return { count, first };
}

/** `namespace/name` of a Kubernetes pod, the name alone for a plain Docker container (no namespace). */
function podLabel(pod: { namespace: string; name: string }): string {
  return pod.namespace ? `${pod.namespace}/${pod.name}` : pod.name;
}
