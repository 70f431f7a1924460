/**
 * The stats collector: CPU and working set of every running container of the reported pods of CRI runtimes, read
 * from the container's cgroup (runtime/cgroup-stats.ts) rather than through CRI ListContainerStats, which costs the
 * node a ttrpc round trip and a cgroup read in every containerd-shim. A container whose cgroup cannot be read (no
 * PID, no cgroup mount under --host-root, a cgroup namespace that hides the path, another layout, a reused PID) is
 * taken from its runtime's ListContainerStats, asked only of the runtimes that have such a container; each stat
 * says its `source`, and the metrics count both. Docker endpoints keep their own stats path (asked every time).
 */
import { detectCgroupLayout, readContainerUsage } from '../runtime/cgroup-stats.js';
import type { Inventory } from '../runtime/inventory.js';
import type { ContainerStat } from '../runtime/types.js';
import type { Collector } from './collector.js';

export interface StatsOptions {
  procRoot: string;
  /** The host's cgroup filesystem (hostCgroupRoot(hostRoot)); null: every value from the runtimes. */
  cgroupRoot: string | null;
}

export function statsCollector(inventory: Inventory, opts: StatsOptions): Collector {
  return {
    name: 'stats',
    async collect(draft, ctx) {
      const byUrl = new Map(draft.runtimes.map((r) => [r.endpoint, r.protocol]));
      const ask = new Set(draft.runtimes.filter((r) => r.protocol === 'docker').map((r) => r.endpoint));
      const layout = opts.cgroupRoot === null ? { ok: false as const, reason: 'no cgroup root' } : await detectCgroupLayout(opts.cgroupRoot);
      const stats: ContainerStat[] = [];
      const misses: string[] = [];
      for (const pod of draft.pods) {
        if (byUrl.get(pod.endpoint) !== 'cri') continue;
        for (const c of pod.containers) {
          if (c.state !== 'CONTAINER_RUNNING') continue;
          const got = !layout.ok ? layout : c.pid === null ? { ok: false as const, reason: 'no container PID' } : readContainerUsage(layout, opts.procRoot, { id: c.id, pid: c.pid });
          if (got.ok) {
            stats.push({ containerId: c.id, sandboxId: pod.sandboxId, name: c.name, cpuSeconds: got.cpuSeconds, memoryWorkingSetBytes: got.memoryWorkingSetBytes, source: 'cgroup' });
          } else {
            ask.add(pod.endpoint);
            if (misses.length < 3) misses.push(`${pod.namespace}/${pod.name} ${c.name}: ${got.reason}`);
          }
        }
      }
      if (ask.size > 0) {
        const have = new Set(stats.map((s) => s.containerId));
        for (const s of await inventory.containerStats(ask)) {
          if (!have.has(s.containerId)) stats.push({ ...s, source: 'runtime' });
        }
        if (misses.length > 0) ctx.log.debug({ runtimes: [...ask], examples: misses }, 'container stats asked of the runtime (cgroup not readable)');
      }
      draft.containerStats = stats;
    },
  };
}
