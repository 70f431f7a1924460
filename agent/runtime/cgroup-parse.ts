/**
 * Container CPU and working set from the container's cgroup files, computed exactly as containerd 1.6's CRI
 * ListContainerStats does (pkg/cri/server/container_stats_list_linux.go over containerd/cgroups). Pure: the file
 * contents in, numbers or a reason out.
 *
 * cgroup v1 (containerd/cgroups v1 cpuacct + memory controllers):
 *   CPU    = cpuacct.usage (ns)                              -> usage_core_nano_seconds
 *   memory = memory.usage_in_bytes - memory.stat total_inactive_file, 0 when inactive >= usage   (getWorkingSet)
 * cgroup v2 (containerd/cgroups v2 manager):
 *   CPU    = cpu.stat usage_usec * 1000 (ns)
 *   memory = memory.current - memory.stat inactive_file, 0 when inactive >= usage               (getWorkingSetV2)
 * The CRI path turns the uint64 nanoseconds into seconds as Number(ns) / 1e9 (cri-runtime.ts); so does this one.
 */
import type { CgroupLine } from '../proc/proc-files.js';

export type CgroupMode = 'v1' | 'v2';

export interface CgroupUsage {
  cpuSeconds: number;
  memoryWorkingSetBytes: number;
}

/** Where a container's counters are, relative to the cgroup root (`cpuacct/...` and `memory/...` for v1). */
export type CgroupDirs = { ok: true; cpu: string; memory: string } | { ok: false; reason: string };

const U64_MAX = (1n << 64n) - 1n;

/** A file holding one unsigned decimal (cpuacct.usage, memory.usage_in_bytes, memory.current); null if it is not. */
export function parseU64File(text: string): bigint | null {
  const t = text.trim();
  if (!/^\d{1,20}$/.test(t)) return null;
  const v = BigInt(t);
  return v <= U64_MAX ? v : null;
}

/** One `key value` line of a flat-keyed file (cpu.stat, memory.stat); null when the key is absent or malformed. */
export function parseKeyedU64(text: string, key: string): bigint | null {
  // By index, no array of lines (memory.stat has ~35 lines, read for every container every collection).
  const len = text.length;
  let start = 0;
  while (start < len) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = len;
    const sp = text.indexOf(' ', start);
    if (sp >= 0 && sp < end && sp - start === key.length && text.startsWith(key, start)) return parseU64File(text.slice(sp + 1, end));
    start = end + 1;
  }
  return null;
}

/** containerd's getWorkingSet / getWorkingSetV2: usage minus inactive file pages, 0 when that would go negative. */
export function workingSet(usage: bigint, inactiveFile: bigint): bigint {
  return inactiveFile < usage ? usage - inactiveFile : 0n;
}

/**
 * A cgroup path from /proc/<pid>/cgroup made safe to append to a cgroup mount: absolute, no empty, `.` or `..`
 * segment (a path outside the reader's cgroup namespace is shown with `/..` and cannot be located), no NUL.
 * Returns the path without its leading `/`, or null.
 */
export function safeCgroupPath(path: string): string | null {
  if (!path.startsWith('/') || path.length < 2 || path.includes('\0')) return null;
  const segs = path.slice(1).split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return null;
  return segs.join('/');
}

/**
 * The container's cgroup directories from its /proc/<pid>/cgroup lines. The last path segment must contain the
 * container ID (cgroupfs `<parent>/<id>`, systemd `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`):
 * a PID reused by a process of another cgroup, or a runtime that puts containers elsewhere, is refused (then the
 * caller asks the runtime), never read as if it were the container.
 */
export function containerCgroupDirs(lines: readonly CgroupLine[], mode: CgroupMode, containerId: string): CgroupDirs {
  if (containerId.length < 12 || containerId.includes('/')) return { ok: false, reason: 'container ID unusable in a cgroup path' };
  const locate = (line: CgroupLine | undefined, what: string): { ok: true; rel: string } | { ok: false; reason: string } => {
    if (!line) return { ok: false, reason: `no ${what} cgroup in /proc/<pid>/cgroup` };
    const rel = safeCgroupPath(line.path);
    if (rel === null) return { ok: false, reason: `${what} cgroup path ${JSON.stringify(line.path.slice(0, 200))} is not a plain absolute path (outside the agent's cgroup namespace?)` };
    const last = rel.slice(rel.lastIndexOf('/') + 1);
    if (!last.includes(containerId)) return { ok: false, reason: `${what} cgroup ${JSON.stringify(line.path.slice(0, 200))} is not the container's (PID reused, or another layout)` };
    return { ok: true, rel };
  };
  if (mode === 'v2') {
    const r = locate(lines.find((l) => l.hierarchy === 0 && l.controllers.length === 0), 'unified');
    return r.ok ? { ok: true, cpu: r.rel, memory: r.rel } : r;
  }
  const cpu = locate(lines.find((l) => l.hierarchy > 0 && l.controllers.includes('cpuacct')), 'cpuacct');
  if (!cpu.ok) return cpu;
  const mem = locate(lines.find((l) => l.hierarchy > 0 && l.controllers.includes('memory')), 'memory');
  if (!mem.ok) return mem;
  return { ok: true, cpu: `cpuacct/${cpu.rel}`, memory: `memory/${mem.rel}` };
}

export type UsageResult = ({ ok: true } & CgroupUsage) | { ok: false; reason: string };

function usage(cpuNs: bigint | null, memUsage: bigint | null, inactive: bigint | null, names: [string, string, string]): UsageResult {
  if (cpuNs === null) return { ok: false, reason: `${names[0]} unreadable` };
  if (memUsage === null) return { ok: false, reason: `${names[1]} unreadable` };
  if (inactive === null) return { ok: false, reason: `${names[2]} unreadable` };
  return { ok: true, cpuSeconds: Number(cpuNs) / 1e9, memoryWorkingSetBytes: Number(workingSet(memUsage, inactive)) };
}

/** v1: cpuacct.usage, memory.usage_in_bytes and memory.stat contents. */
export function usageV1(files: { cpuacctUsage: string; memoryUsage: string; memoryStat: string }): UsageResult {
  return usage(parseU64File(files.cpuacctUsage), parseU64File(files.memoryUsage), parseKeyedU64(files.memoryStat, 'total_inactive_file'),
    ['cpuacct.usage', 'memory.usage_in_bytes', 'memory.stat total_inactive_file']);
}

/** v2: cpu.stat, memory.current and memory.stat contents. */
export function usageV2(files: { cpuStat: string; memoryCurrent: string; memoryStat: string }): UsageResult {
  const usec = parseKeyedU64(files.cpuStat, 'usage_usec');
  return usage(usec === null ? null : usec * 1000n, parseU64File(files.memoryCurrent), parseKeyedU64(files.memoryStat, 'inactive_file'),
    ['cpu.stat usage_usec', 'memory.current', 'memory.stat inactive_file']);
}
