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
    /** CRI containers whose cgroup could not be read: asked of their runtime. */
    const misses: Miss[] = [];
    /** Docker containers left without a value (no runtime fallback) and the first few reasons. */
    const unread: string[] = [];
    let unreadCount = 0;
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
        } else if (protocol === 'cri') {
          ask.add(pod.endpoint);
          misses.push({ id: c.id, what: `${podLabel(pod)} ${c.name}: ${got.reason}`, gone: 'gone' in got });
        } else if (!('gone' in got)) {
          unreadCount++;
          if (unread.length < 3) unread.push(`${podLabel(pod)} ${c.name}: ${got.reason}`);
        }
      }
    }
    cgroups?.retain(read);
    const errors: string[] = [];
    if (ask.size > 0) {
      const have = new Set(stats.map((s) => s.containerId));
      const answer = await inventory.containerStatsReport(ask);
      for (let i = 0; i < answer.stats.length; i++) {
        const s = answer.stats[i]!;
        if (!have.has(s.containerId)) {
          have.add(s.containerId);
          stats.push({ ...s, source: 'runtime' });
        }
      }
      ctx.log.debug({ runtimes: [...ask], examples: misses.slice(0, 3).map((m) => m.what) }, 'container stats asked of the runtime (cgroup not readable)');
      // Neither source: missing, unless the process is gone (stopped after the listing, as for Docker below).
      let missing = 0;
      const why: string[] = [];
      for (let i = 0; i < misses.length; i++) {
        const m = misses[i]!;
        if (have.has(m.id) || m.gone) continue;
        missing++;
        if (why.length < 3) why.push(m.what);
      }
      if (missing > 0) {
        const failed = answer.failed.map((f) => `${f.endpoint}: ${f.error}`);
        const calls = failed.length > 0 ? `; ListContainerStats failed: ${failed.join('; ')}` : '';
        errors.push(`${missing} running CRI container(s) without CPU/memory (cgroup not readable, not in the runtime's ListContainerStats): ${why.join('; ')}${calls}`);
      }
    }
    draft.containerStats = stats;
    if (unreadCount > 0) errors.push(`${unreadCount} running Docker container(s) without CPU/memory (cgroup not readable; Docker has no fallback): ${unread.join('; ')}`);
    if (errors.length === 0) return { success: true };
    return { success: false, error: errors.join('; ') };
  }
}

/** A CRI container whose cgroup could not be read: its ID, what to report, whether its process is gone. */
interface Miss {
  id: string;
  what: string;
  gone: boolean;
}

/** `namespace/name` of a Kubernetes pod, the name alone for a plain Docker container (no namespace). */
function podLabel(pod: { namespace: string; name: string }): string {
  return pod.namespace ? `${pod.namespace}/${pod.name}` : pod.name;
}
