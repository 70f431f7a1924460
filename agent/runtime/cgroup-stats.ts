/**
 * Container CPU/working set read from the host's cgroup filesystem instead of asking the runtime (CRI
 * ListContainerStats makes every containerd-shim read its container's cgroup and answer over ttrpc: at 110 pods
 * 0.5-1 s of the node's CPU per collection). The formulas are containerd's (cgroup-parse.ts).
 *
 * Where: the container's init PID (from the runtime, cached per container ID) -> <procRoot>/<pid>/cgroup -> the
 * cgroup directory under <cgroupRoot> (the host's /sys/fs/cgroup, `<hostRoot>/sys/fs/cgroup`). The mode is decided
 * as containerd decides it (cgroups.Mode): the root is a cgroup2 mount -> v2; otherwise v1 (legacy or hybrid), the
 * cpuacct and memory hierarchies mounted at <cgroupRoot>/cpuacct and <cgroupRoot>/memory (directly or as the
 * `cpu,cpuacct` symlinks systemd makes), each checked to be a cgroup v1 mount.
 *
 * Nothing is cached: every collection reads /proc/<pid>/cgroup and the counters afresh. A value is only ever
 * returned for the cgroup whose last path segment names the container ID (cgroup-parse.ts containerCgroupDirs), so
 * a reused PID is refused; anything unreadable is a reason for the caller to ask the runtime instead.
 *
 * Reads are synchronous: a handful of tiny kernel-generated files per container, cheaper in CPU than the
 * thread-pool round trips of async reads (the collectors run one after the other).
 */
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { parseCgroupFile } from '../proc/proc-files.js';
import { readTextCapped } from '../proc/read-capped.js';
import { containerCgroupDirs, usageV1, usageV2, type CgroupMode, type UsageResult } from './cgroup-parse.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_SUPER_MAGIC = 0x27e0eb;
/** /proc/<pid>/cgroup (one line per hierarchy) and the counter files are far below this. */
const MAX_FILE_BYTES = 16 * 1024;

/** The host's cgroup filesystem under --host-root. */
export function hostCgroupRoot(hostRoot: string): string {
  return join(hostRoot, 'sys/fs/cgroup');
}

export type CgroupLayout = { ok: true; root: string; mode: CgroupMode } | { ok: false; reason: string };

/** containerd's cgroups.Mode() on `root`, plus a check that the v1 hierarchies read are cgroup mounts. */
export async function detectCgroupLayout(root: string): Promise<CgroupLayout> {
  try {
    const fs = await statfs(root);
    if (fs.type === CGROUP2_SUPER_MAGIC) return { ok: true, root, mode: 'v2' };
    for (const sub of ['cpuacct', 'memory']) {
      const t = (await statfs(join(root, sub))).type;
      if (t !== CGROUP_SUPER_MAGIC) return { ok: false, reason: `${join(root, sub)} is not a cgroup v1 mount (type 0x${t.toString(16)})` };
    }
    return { ok: true, root, mode: 'v1' };
  } catch (err) {
    return { ok: false, reason: `cannot statfs the cgroup filesystem: ${errorMessage(err)}` };
  }
}

function text(path: string): string {
  const r = readTextCapped(path, MAX_FILE_BYTES);
  if (r.truncated) throw new Error(`${path}: more than ${MAX_FILE_BYTES} bytes`);
  return r.text;
}

/** One running container's usage from its cgroup, or why not (the caller then asks the runtime). Never throws. */
export function readContainerUsage(layout: { root: string; mode: CgroupMode }, procRoot: string, c: { id: string; pid: number }): UsageResult {
  try {
    if (!Number.isSafeInteger(c.pid) || c.pid <= 0) return { ok: false, reason: `bad pid ${c.pid}` };
    const dirs = containerCgroupDirs(parseCgroupFile(text(join(procRoot, String(c.pid), 'cgroup'))), layout.mode, c.id);
    if (!dirs.ok) return dirs;
    const cpu = join(layout.root, dirs.cpu);
    const mem = join(layout.root, dirs.memory);
    if (layout.mode === 'v2') {
      return usageV2({ cpuStat: text(join(cpu, 'cpu.stat')), memoryCurrent: text(join(mem, 'memory.current')), memoryStat: text(join(mem, 'memory.stat')) });
    }
    return usageV1({ cpuacctUsage: text(join(cpu, 'cpuacct.usage')), memoryUsage: text(join(mem, 'memory.usage_in_bytes')), memoryStat: text(join(mem, 'memory.stat')) });
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
}
