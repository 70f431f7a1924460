/**
 * Per-container CPU and memory, the values CRI ContainerStats gives (proposed for Chaos Mesh in rfcs#47, never merged),
 * read from each container's cgroup with containerd's formulas and asked of the runtime only for a container whose
 * cgroup cannot be read (collect/stats.ts): chaos_daemon_container_cpu_usage_seconds_total and
 * chaos_daemon_container_memory_working_set_bytes {namespace,pod,container}. Only running containers of known pods are reported, so a restarted container's
 * exited predecessor never collides with it. chaos_daemon_container_stats_containers{source} says how many of them
 * were read from their cgroup (containerd's formulas, collect/stats.ts) and how many asked of the runtime.
 *
 * The CPU time moves every collection, so lines are written every time; what is kept across collections
 * (ContainerStatsCache) is each running container's label text, by container ID, reused only while its namespace,
 * pod and container name are equal to those it was built from (compared as strings), and its last two lines,
 * reused only while the value they were written from is equal (===; values are finite here, and -0 and 0 both
 * print `0`).
 */
import type { Snapshot } from '../snapshot.js';
import { BlockFamily, CACHED, gauge, labelPairs, type CollectionFamilies } from './families.js';
import { KeptEntries } from './kept-entries.js';
import { formatValue } from './render-text.js';
import { Slicer } from './slicer.js';

const LABELS = ['namespace', 'pod', 'container'] as const;
const CPU = 'chaos_daemon_container_cpu_usage_seconds_total';
const MEMORY = 'chaos_daemon_container_memory_working_set_bytes';

/** A running container's label text and last lines. */
interface ContainerLines {
  readonly namespace: string;
  readonly pod: string;
  readonly name: string;
  /** `{namespace="..",pod="..",container=".."}`. */
  readonly labels: string;
  cpu: number;
  /** Preceded by a newline (BlockFamily.addLines), as memoryLine. */
  cpuLine: string;
  memory: number;
  memoryLine: string;
}

/** The containers' label texts and lines kept across collections (see the header). */
export class ContainerStatsCache {
  readonly entries = new KeptEntries<ContainerLines>();
}

function linesOf(cache: ContainerStatsCache, id: string, namespace: string, pod: string, name: string): ContainerLines {
  const kept = cache.entries.get(id);
  const entry = kept !== undefined && kept.namespace === namespace && kept.pod === pod && kept.name === name ? kept
    : { namespace, pod, name, labels: `{${labelPairs(LABELS, [namespace, pod, name])}}`, cpu: NaN, cpuLine: '', memory: NaN, memoryLine: '' };
  cache.entries.keep(id, entry);
  return entry;
}

/** Yields to the event loop between pods when `slicer`'s slice is used up. */
export async function registerContainerStatsMetrics(registry: CollectionFamilies, snapshot: Snapshot, slicer = new Slicer(), cache = new ContainerStatsCache()): Promise<void> {
  // One line per series, each series once (deduplicated below): a block per line renders as the Family did.
  const cpu = registry.register(new BlockFamily(CPU, `Cumulative CPU time of the container, read from its cgroup (v1 cpuacct.usage, v2 cpu.stat usage_usec), or from the runtime's CRI ListContainerStats when the cgroup cannot be read (chaos_daemon_container_stats_containers counts each source) ${CACHED}`, LABELS, 'counter'));
  const mem = registry.register(new BlockFamily(MEMORY, `Working-set memory of the container, read from its cgroup as containerd computes it (v1 memory.usage_in_bytes minus total_inactive_file, v2 memory.current minus inactive_file), or from the runtime's CRI ListContainerStats when the cgroup cannot be read (chaos_daemon_container_stats_containers counts each source) ${CACHED}`, LABELS));

  const sources = gauge(registry, 'chaos_daemon_container_stats_containers',
    `Running containers whose CPU/memory are reported, by where they were read: cgroup (the container's cgroup files) or runtime (CRI ListContainerStats) ${CACHED}`, ['source']);

  cache.entries.begin();
  const running = new Map<string, ContainerLines>();
  for (const report of snapshot.pods) {
    if (slicer.due) await slicer.point();
    const pod = report.pod;
    if (!pod) continue;
    for (const c of pod.containers) {
      if (c.state === 'CONTAINER_RUNNING') running.set(c.id, linesOf(cache, c.id, pod.namespace, pod.name, c.name));
    }
  }
  // By label text: equal texts are equal (namespace, pod, container) (labelPairs).
  const done = new Set<string>();
  const counts = { cgroup: 0, runtime: 0 };
  const stats = snapshot.containerStats;
  for (let i = 0; i < stats.length; i++) {
    if ((i & 31) === 0 && slicer.due) await slicer.point();
    const stat = stats[i]!;
    const entry = running.get(stat.containerId);
    if (!entry) continue;
    if (done.has(entry.labels)) continue;
    done.add(entry.labels);
    counts[stat.source ?? 'runtime']++;
    const c = stat.cpuSeconds;
    if (c !== null && Number.isFinite(c) && c >= 0) {
      if (entry.cpu !== c) {
        entry.cpu = c;
        entry.cpuLine = `\n${CPU}${entry.labels} ${formatValue(c)}`;
      }
      cpu.addLines(entry.cpuLine, 1);
    }
    const m = stat.memoryWorkingSetBytes;
    if (m !== null && Number.isFinite(m)) {
      if (entry.memory !== m) {
        entry.memory = m;
        entry.memoryLine = `\n${MEMORY}${entry.labels} ${formatValue(m)}`;
      }
      mem.addLines(entry.memoryLine, 1);
    }
  }
  for (const [source, n] of Object.entries(counts)) sources.set([source], n);
}
