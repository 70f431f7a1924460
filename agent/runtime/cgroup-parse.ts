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
 * cgroup-stats.ts reads the files into one scratch buffer and parses each as it is read (parseKeyedU64Bytes).
 */
import type { CgroupLine } from '../proc/proc-files.js';

export type CgroupMode = 'v1' | 'v2';

export interface CgroupUsage {
  cpuSeconds: number;
  memoryWorkingSetBytes: number;
}

/** Where a container's counters are, relative to the cgroup root (`cpuacct/...` and `memory/...` for v1). */
export type CgroupDirs = { ok: true; cpu: string; memory: string } | { ok: false; reason: string; outside?: true };

const U64_MAX = (1n << 64n) - 1n;

/** A file holding one unsigned decimal (cpuacct.usage, memory.usage_in_bytes, memory.current); null if it is not. */
export function parseU64File(text: string): bigint | null {
  const t = text.trim();
  if (!/^\d{1,20}$/.test(t)) return null;
  const v = BigInt(t);
  return v <= U64_MAX ? v : null;
}

/**
 * The value of the first `key value` line of a flat-keyed file (cpu.stat, memory.stat: ~1 KB, read for every
 * container every collection) whose text before its first space is `key`, as parseU64File reads it; null when no
 * line has the key or its value is malformed. On the file's first `len` bytes (a reused scratch buffer), without
 * decoding the whole file: lines and spaces are found on the bytes and only the matching line's value is decoded.
 * The same result as on the bytes' UTF-8 text, for any bytes: `key` is ASCII, and an ASCII byte is never part of a
 * UTF-8 sequence (an invalid sequence ends before it), so the decoded text has the same lines, spaces and key
 * matches, and a value decoded on its own is the same text as within the whole.
 */
export function parseKeyedU64Bytes(buf: Buffer, len: number, key: string): bigint | null {
  const klen = key.length;
  let start = 0;
  while (start < len) {
    let end = start;
    let sp = -1;
    while (end < len && buf[end] !== 0x0a) {
      if (sp < 0 && buf[end] === 0x20) sp = end;
      end++;
    }
    if (sp - start === klen) {
      let i = 0;
      while (i < klen && buf[start + i] === key.charCodeAt(i)) i++;
      if (i === klen) return parseU64File(buf.toString('utf8', sp + 1, end));
    }
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
 * segment (a path outside the reader's cgroup namespace is shown with `/..` and cannot be located without knowing
 * where that namespace is rooted: `resolveCgroupPath`), no NUL. Returns the path without its leading `/`, or null.
 */
export function safeCgroupPath(path: string): string | null {
  if (!path.startsWith('/') || path.length < 2 || path.includes('\0')) return null;
  const segs = path.slice(1).split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return null;
  return segs.join('/');
}

/**
 * A /proc/<pid>/cgroup path as the reader sees it, relative to the root of the reader's cgroup namespace in that
 * hierarchy, made relative to the hierarchy's root (the host's mount) given where that namespace is rooted
 * (`nsRoot`, relative to the hierarchy's root; '' or null: the reader is in the host's namespace, or where is not
 * known, and only plain absolute paths are accepted, as `safeCgroupPath`). With a private namespace the kernel
 * shows a cgroup outside it as `/../../<rest>` (cgroup_path_ns: the path from the namespace's root, climbing with
 * `..`) and one inside as `/<rest>`; both are resolved lexically against `nsRoot` (cgroupfs has no symlinks).
 * Null when the path climbs above the hierarchy's root, names the root itself, or has an empty, `.`, `..` (after
 * the leading ones) or NUL segment.
 */
export function resolveCgroupPath(path: string, nsRoot: string | null): string | null {
  if (!nsRoot) return safeCgroupPath(path);
  if (!path.startsWith('/') || path.includes('\0')) return null;
  const out = nsRoot.split('/');
  const segs = path === '/' ? [] : path.slice(1).split('/');
  let i = 0;
  for (; i < segs.length && segs[i] === '..'; i++) {
    if (out.length === 0) return null;
    out.pop();
  }
  for (; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '' || s === '.' || s === '..') return null;
    out.push(s);
  }
  return out.length > 0 ? out.join('/') : null;
}

/**
 * Where the agent's cgroup namespace is rooted in each hierarchy it reads (relative to that hierarchy's root, ''
 * for the root: agent/runtime/cgroup-namespace.ts), null where unknown; v2 reads `unified`, v1 `cpuacct` and `memory`.
 */
export interface NamespaceRoots {
  unified?: string | null;
  cpuacct?: string | null;
  memory?: string | null;
}

/**
 * The container's cgroup directories from its /proc/<pid>/cgroup lines. The last path segment must contain the
 * container ID (cgroupfs `<parent>/<id>` (Docker's `/docker/<id>`), systemd `cri-containerd-<id>.scope`, `crio-<id>.scope`,
 * Docker's `system.slice/docker-<id>.scope`):
 * a PID reused by a process of another cgroup, or a runtime that puts containers elsewhere, is refused (then the
 * caller asks the runtime), never read as if it were the container.
 */
export function containerCgroupDirs(lines: readonly CgroupLine[], mode: CgroupMode, containerId: string, nsRoots: NamespaceRoots = {}): CgroupDirs {
  if (containerId.length < 12 || containerId.includes('/')) return { ok: false, reason: 'container ID unusable in a cgroup path' };
  const locate = (line: CgroupLine | undefined, what: 'unified' | 'cpuacct' | 'memory'): { ok: true; rel: string } | { ok: false; reason: string; outside?: true } => {
    if (!line) return { ok: false, reason: `no ${what} cgroup in /proc/<pid>/cgroup` };
    const rel = resolveCgroupPath(line.path, nsRoots[what] ?? null);
    if (rel === null) {
      const reason = `${what} cgroup path ${JSON.stringify(line.path.slice(0, 200))} is not a plain absolute path`;
      // `/..`: outside the reader's cgroup namespace, which the caller can locate (cgroup-namespace.ts) and retry.
      return line.path.startsWith('/../') && !nsRoots[what] ? { ok: false, reason: `${reason} (outside the agent's cgroup namespace, whose root is not known)`, outside: true } : { ok: false, reason };
    }
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

/** `gone`: the PID's process no longer exists (its /proc entry is absent): the container stopped since it was listed. */
export type UsageResult = ({ ok: true } & CgroupUsage) | { ok: false; reason: string; gone?: true };

function usage(cpuNs: bigint | null, memUsage: bigint | null, inactive: bigint | null, names: [string, string, string]): UsageResult {
  if (cpuNs === null) return { ok: false, reason: `${names[0]} unreadable` };
  if (memUsage === null) return { ok: false, reason: `${names[1]} unreadable` };
  if (inactive === null) return { ok: false, reason: `${names[2]} unreadable` };
  return { ok: true, cpuSeconds: Number(cpuNs) / 1e9, memoryWorkingSetBytes: Number(workingSet(memUsage, inactive)) };
}

/** The keys read from the flat-keyed files: v2's cpu.stat (v1's CPU file is a single value) and memory.stat. */
export const USAGE_KEYS = { v1: { cpu: null, inactive: 'total_inactive_file' }, v2: { cpu: 'usage_usec', inactive: 'inactive_file' } } as const;
const USAGE_NAMES: Record<CgroupMode, [string, string, string]> = {
  v1: ['cpuacct.usage', 'memory.usage_in_bytes', 'memory.stat total_inactive_file'],
  v2: ['cpu.stat usage_usec', 'memory.current', 'memory.stat inactive_file'],
};

/**
 * The usage from the values parsed out of the three files (null: unreadable): v1 cpuacct.usage (ns), v2 cpu.stat
 * usage_usec (us); memory.usage_in_bytes / memory.current; memory.stat's inactive file bytes (USAGE_KEYS).
 */
export function usageFromValues(mode: CgroupMode, cpu: bigint | null, memUsage: bigint | null, inactive: bigint | null): UsageResult {
  const cpuNs = mode === 'v2' && cpu !== null ? cpu * 1000n : cpu;
  return usage(cpuNs, memUsage, inactive, USAGE_NAMES[mode]);
}
