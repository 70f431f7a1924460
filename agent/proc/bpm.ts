/**
 * chaos-daemon's background process manager (pkg/bpm), as the shared /proc scan shows it. Pure.
 *
 * Roots are chaos-daemon processes of chaos-daemon's OWN pod only: a pod the runtime labels
 * `app.kubernetes.io/component=chaos-daemon` (the Helm chart's DaemonSet) with a container named `chaos-daemon`;
 * the root is that container's runtime-reported PID, or a process named chaos-daemon whose cgroup is that
 * container's. A process named chaos-daemon anywhere else is an impostor and counts for nothing.
 *
 * Background processes are the roots' direct children that run one of bpm's tools (StartProcess forks nsexec,
 * pause, choom or the tool itself; everything else chaos-daemon runs is a short-lived command), each labelled by
 * the tool it runs (its own comm, or the first known one below it or in its argv:
 * `nsexec ... -- toda`, `pause stress-ng ...`). Chaos Mesh's `chaos_daemon_bpm_controlled_processes` counts live
 * processes with a bpm identifier, which only toda (`toda-<container id>`) and tproxy (`tproxy-<container id>`)
 * get (GetIdentifiers): `controlled` counts exactly those.
 */
import type { PodInfo } from '../runtime/types.js';
import { isLive } from './chaos-processes.js';
import type { PodIndex } from './pod-match.js';
import { ownerOfCgroupPath } from './pod-match.js';
import { childrenIndex, type ProcProcess, type ProcScan } from './scan.js';

export const DAEMON_COMPONENT_LABEL = 'app.kubernetes.io/component';
export const DAEMON_NAME = 'chaos-daemon';

/** The label values the `command` label can take (a closed set: a pod cannot mint values). */
export const BPM_COMMANDS = ['toda', 'tproxy', 'stress-ng', 'memStress'] as const;
export type BpmCommand = (typeof BPM_COMMANDS)[number];

export interface BpmProcess {
  pid: number;
  startTicks: number;
  command: BpmCommand;
  /** Has a bpm identifier (toda, tproxy). */
  identified: boolean;
  /** The chaos-daemon it belongs to. */
  root: number;
}

export interface BpmReport {
  daemons: { pid: number; sandboxId: string; pod: string }[];
  background: BpmProcess[];
  /** Background processes with a bpm identifier: Chaos Mesh's chaos_daemon_bpm_controlled_processes. */
  controlled: number;
  byCommand: Map<BpmCommand, number>;
  /** PIDs of processes named chaos-daemon outside chaos-daemon's pod (ignored). */
  impostors: number[];
  /**
   * Live children of a root whose tool is unknown because their command line could not be read (the scan's
   * `cmdlineUnread`): maybe background processes, not counted. The counts are then lower bounds.
   */
  unknown: number[];
}

export function isDaemonPod(pod: PodInfo): boolean {
  return pod.labels?.[DAEMON_COMPONENT_LABEL] === DAEMON_NAME && pod.containers.some((c) => c.name === DAEMON_NAME);
}

function known(name: string): BpmCommand | null {
  if (name === 'toda' || name === 'tproxy' || name === 'memStress') return name;
  if (name.startsWith('stress-ng')) return 'stress-ng';
  return null;
}

/**
 * The tool a background process runs: itself, a descendant (2 levels), or its argv (a pause not yet resumed);
 * null for everything else chaos-daemon runs (iptables, tc, ipset, sh -c ... through nsexec: not bpm's).
 */
function commandOf(p: ProcProcess, scan: Pick<ProcScan, 'processes'>, children: Map<number, number[]>): BpmCommand | null {
  const own = known(p.comm);
  if (own) return own;
  let level = children.get(p.pid) ?? [];
  for (let depth = 0; depth < 2 && level.length > 0; depth++) {
    const next: number[] = [];
    for (const pid of level) {
      const c = scan.processes.get(pid);
      const k = c ? known(c.comm) : null;
      if (k) return k;
      next.push(...(children.get(pid) ?? []));
    }
    level = next;
  }
  for (const arg of p.cmdline ?? []) {
    const k = known(arg.slice(arg.lastIndexOf('/') + 1));
    if (k) return k;
  }
  return null;
}

const byNumber = (a: number, b: number): number => a - b;

export function bpmFromScan(scan: Pick<ProcScan, 'processes' | 'cmdlineUnread'>, pods: readonly PodInfo[], index: PodIndex): BpmReport {
  const daemonContainers = new Map<string, PodInfo>();
  const roots = new Map<number, { pid: number; sandboxId: string; pod: string }>();
  for (const pod of pods) {
    if (!isDaemonPod(pod)) continue;
    for (const c of pod.containers) {
      if (c.name !== DAEMON_NAME) continue;
      daemonContainers.set(c.id, pod);
      const p = c.pid === null ? undefined : scan.processes.get(c.pid);
      if (p && p.comm === DAEMON_NAME) roots.set(p.pid, { pid: p.pid, sandboxId: pod.sandboxId, pod: `${pod.namespace}/${pod.name}` });
    }
  }
  const impostors: number[] = [];
  for (const p of scan.processes.values()) {
    if (p.comm !== DAEMON_NAME || roots.has(p.pid)) continue;
    const owner = p.cgroups.map((l) => ownerOfCgroupPath(index, l.path)).find((o) => o?.containerId);
    const pod = owner?.containerId ? daemonContainers.get(owner.containerId) : undefined;
    if (pod) roots.set(p.pid, { pid: p.pid, sandboxId: pod.sandboxId, pod: `${pod.namespace}/${pod.name}` });
    else impostors.push(p.pid);
  }
  // Only the roots' subtrees are walked: with no chaos-daemon on the node, no index of the whole scan is built.
  const children = roots.size === 0 ? new Map<number, number[]>() : childrenIndex(scan);
  const background: BpmProcess[] = [];
  const byCommand = new Map<BpmCommand, number>();
  const unknown: number[] = [];
  for (const root of roots.values()) {
    for (const pid of children.get(root.pid) ?? []) {
      const p = scan.processes.get(pid)!;
      if (roots.has(pid) || !isLive(p)) continue;
      const command = commandOf(p, scan, children);
      if (command === null) {
        if (scan.cmdlineUnread.has(pid)) unknown.push(pid);
        continue;
      }
      background.push({ pid, startTicks: p.startTicks, command, identified: command === 'toda' || command === 'tproxy', root: root.pid });
      byCommand.set(command, (byCommand.get(command) ?? 0) + 1);
    }
  }
  background.sort((a, b) => a.pid - b.pid);
  return {
    daemons: [...roots.values()].sort((a, b) => a.pid - b.pid),
    background,
    controlled: background.filter((b) => b.identified).length,
    byCommand,
    impostors: impostors.sort((a, b) => a - b),
    unknown: unknown.sort(byNumber),
  };
}
