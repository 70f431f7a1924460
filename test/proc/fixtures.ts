/**
 * Hand-built /proc scans and pods for the pure tests, shaped like what this machine's containerd pods show
 * (cgroup v1, one line per hierarchy plus `0::`, paths `/k8s.io/<64-hex id>`).
 */
import type { CgroupLine } from '../../agent/proc/proc-files.js';
import type { ProcProcess, ProcScan } from '../../agent/proc/scan.js';
import type { ContainerInfo, PodInfo } from '../../agent/runtime/types.js';

export const HEX = (c: string): string => c.repeat(64).slice(0, 64);

/** v1 hierarchies as on this machine, all at `path`, plus the v2 line. */
export function cgroupsAt(path: string): CgroupLine[] {
  const v1 = ['name=systemd', 'pids', 'blkio', 'freezer', 'devices', 'memory', 'cpuset', 'cpuacct', 'cpu'];
  return [...v1.map((c, i) => ({ hierarchy: 9 - i, controllers: [c], path })), { hierarchy: 0, controllers: [], path }];
}

export function proc(p: Partial<ProcProcess> & { pid: number; comm: string }): ProcProcess {
  return {
    ppid: 1, state: 'S', startTicks: 1000 + p.pid, detailed: true, uid: 0,
    ns: { pid: 4026531836, net: 4026531840, mnt: 4026531841 }, cgroups: cgroupsAt('/'), cmdline: null, cmdlineTruncated: false,
    ...p,
  };
}

export function scanOf(processes: ProcProcess[], extra: Partial<ProcScan> = {}): ProcScan {
  return {
    procRoot: '/proc', startedAt: 0, seconds: 0.001, bootTime: 1_700_000_000,
    processes: new Map(processes.map((p) => [p.pid, p])), listed: processes.length, vanished: 0, unreadable: 0, cmdlineUnread: new Map(), cmdlineBlocked: 0,
    complete: true, self: { pid: 4026531836, net: 4026531840, mnt: 4026531841 }, ...extra,
  };
}

export function ctr(name: string, id: string, pid: number | null, state: ContainerInfo['state'] = 'CONTAINER_RUNNING'): ContainerInfo {
  return { id, name, state, pid };
}

export function pod(name: string, sandboxId: string, pid: number | null, containers: ContainerInfo[], extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: 'shop', name, uid: `${sandboxId.slice(0, 8)}-1111-2222-3333-${sandboxId.slice(-12)}`, runtime: 'containerd',
    endpoint: 'unix:///run/containerd/containerd.sock', sandboxId, state: 'SANDBOX_READY', pid, hostNetwork: false,
    netns: { inode: 4026532500, path: `/proc/${pid}/ns/net` }, containers, ...extra,
  };
}
