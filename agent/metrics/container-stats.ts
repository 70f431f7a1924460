/**
 * Per-container CPU and memory, the values of CRI ContainerStats (proposed for Chaos Mesh in rfcs#47, never merged):
 * chaos_daemon_container_cpu_usage_seconds_total and chaos_daemon_container_memory_working_set_bytes
 * {namespace,pod,container}. Only running containers of known pods are reported, so a restarted container's
 * exited predecessor never collides with it. chaos_daemon_container_stats_containers{source} says how many of them
 * were read from their cgroup (containerd's formulas, collect/stats.ts) and how many asked of the runtime.
 */
import type { Snapshot } from '../snapshot.js';
import { CACHED, counter, gauge, type CollectionFamilies } from './families.js';
import { Slicer } from './slicer.js';

/** Yields to the event loop between pods when `slicer`'s slice is used up. */
export async function registerContainerStatsMetrics(registry: CollectionFamilies, snapshot: Snapshot, slicer = new Slicer()): Promise<void> {
  const cpu = counter(registry, 'chaos_daemon_container_cpu_usage_seconds_total',
    `Cumulative CPU time of the container, from CRI ContainerStats ${CACHED}`, ['namespace', 'pod', 'container']);
  const mem = gauge(registry, 'chaos_daemon_container_memory_working_set_bytes',
    `Working-set memory of the container, from CRI ContainerStats ${CACHED}`, ['namespace', 'pod', 'container']);

  const sources = gauge(registry, 'chaos_daemon_container_stats_containers',
    `Running containers whose CPU/memory are reported, by where they were read: cgroup (the container's cgroup files) or runtime (CRI ListContainerStats) ${CACHED}`, ['source']);

  const running = new Map<string, [namespace: string, pod: string, container: string]>();
  for (const report of snapshot.pods) {
    await slicer.point();
    const pod = report.pod;
    if (!pod) continue;
    for (const c of pod.containers) {
      if (c.state === 'CONTAINER_RUNNING') running.set(c.id, [pod.namespace, pod.name, c.name]);
    }
  }
  const done = new Set<string>();
  const counts = { cgroup: 0, runtime: 0 };
  for (const [i, stat] of snapshot.containerStats.entries()) {
    if ((i & 31) === 0) await slicer.point();
    const labels = running.get(stat.containerId);
    if (!labels) continue;
    const k = `${labels[0]}\0${labels[1]}\0${labels[2]}`;
    if (done.has(k)) continue;
    done.add(k);
    counts[stat.source ?? 'runtime']++;
    if (stat.cpuSeconds !== null && Number.isFinite(stat.cpuSeconds) && stat.cpuSeconds >= 0) cpu.add(labels, stat.cpuSeconds);
    if (stat.memoryWorkingSetBytes !== null && Number.isFinite(stat.memoryWorkingSetBytes)) mem.set(labels, stat.memoryWorkingSetBytes);
  }
  for (const [source, n] of Object.entries(counts)) sources.set([source], n);
}
