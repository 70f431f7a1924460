/**
 * The processes chaos-daemon starts for faults that are not network state, recognised in one /proc scan and
 * placed on their target pod by namespaces and cgroups (pod-match.ts), never by name alone. Pure.
 *
 * How chaos-daemon starts them (pkg/chaosdaemon/*_server*.go, pkg/bpm at chaos-mesh HEAD; chaos-tproxy v0.5):
 * - IOChaos: `nsexec -l -p /proc/P/ns/pid -m /proc/P/ns/mnt -- /usr/local/bin/toda --path <volume> --verbose info`,
 *   bpm identifier `toda-<container id>`: toda runs in the container's pid and mount namespaces, in chaos-daemon's
 *   cgroup. Recovery kills it: a live toda is an injection (or a leftover of one).
 * - HTTPChaos: `nsexec -l -n /proc/P/ns/net -p /proc/P/ns/pid -- /usr/local/bin/tproxy -i -vv`, identifier
 *   `tproxy-<container id>`, in the pod's net and pid namespaces. While rules are set it runs
 *   `ip netns exec <p>ns tproxy -vv --proxy --ipc-path=...` (exec'd: a `tproxy --proxy` child in the proxy
 *   namespace). Recovery stops the proxy child but leaves `tproxy -i` idle (it is killed only on re-create).
 * - StressChaos: `/usr/local/bin/pause [nsexec -p /proc/P/ns/pid --] stress-ng <stressors>` and the same with
 *   `memStress` (optionally through `choom -n <adj> --`); the paused process is moved into the target container's
 *   cgroup, then resumed (pause execs the rest). Recovery kills them.
 */
import type { PodRef } from './pod-match.js';
import { placeProcess, type NsKind, type PodIndex } from './pod-match.js';
import { childrenIndex, startTimeMs, type ProcProcess, type ProcScan } from './scan.js';
import { compareNames } from '../compare-names.js';

export type ChaosRole = 'toda' | 'tproxy' | 'tproxy-proxy' | 'stress-ng' | 'memStress';
export type ProcessKind = 'io' | 'http' | 'stress';

export const ROLE_KIND: Readonly<Record<ChaosRole, ProcessKind>> = {
  toda: 'io',
  tproxy: 'http',
  'tproxy-proxy': 'http',
  'stress-ng': 'stress',
  memStress: 'stress',
};

export interface ChaosProcess extends PodRef {
  role: ChaosRole;
  kind: ProcessKind;
  pid: number;
  ppid: number;
  comm: string;
  /** argv (capped); null when it could not be read. */
  cmdline: string[] | null;
  cmdlineTruncated: boolean;
  /** ms since the epoch, comparable to Chaos Mesh's PodIOChaos/PodHttpChaos status.startTime. */
  startTimeMs: number | null;
  uid: number | null;
  /** How the process was placed on the pod: `cgroup` and/or the namespaces that matched. */
  via: ('cgroup' | `${NsKind}-ns`)[];
  /** The cgroup path that names the target (stress), or the process's own (toda/tproxy keep chaos-daemon's). */
  cgroup: string | null;
  /** The nearest ancestor named chaos-daemon (within 4 generations), or null (orphaned leftovers have none). */
  launchedBy: { pid: number; comm: string } | null;
  /** `toda-<container id>` / `tproxy-<container id>`: the bpm identifier chaos-daemon gives it (null for others). */
  bpmIdentifier: string | null;
  /** toda: the volume path from `--path`. */
  volume?: string;
  /** stress-ng: the worker processes below this one. */
  workers?: number;
}

/** A zombie (exited, not yet reaped: an orphan's new parent may never reap it) injects nothing. */
export function isLive(p: Pick<ProcProcess, 'state'>): boolean {
  return p.state !== 'Z' && p.state !== 'X';
}

function base(argv: string[] | null): string | null {
  const a0 = argv?.[0];
  if (a0 === undefined) return null;
  return a0.slice(a0.lastIndexOf('/') + 1);
}

/** toda / tproxy / stress-ng / memStress by comm, confirmed by argv[0] when the command line was read. */
export function roleOf(p: Pick<ProcProcess, 'comm' | 'cmdline'>, parentComm: string | null): ChaosRole | null {
  const b = base(p.cmdline);
  const named = (name: string): boolean => p.comm === name && (b === null || b === name);
  if (named('toda')) return 'toda';
  if (named('tproxy')) return p.cmdline?.includes('--proxy') ? 'tproxy-proxy' : 'tproxy';
  if (named('memStress')) return 'memStress';
  // stress-ng names its workers stress-ng-<stressor>: only the top of a stress-ng tree is an instance.
  if (p.comm.startsWith('stress-ng') && (b === null || b.startsWith('stress-ng')) && !parentComm?.startsWith('stress-ng')) return 'stress-ng';
  return null;
}

/** The pod's only running container: where a pod-level placement (a shared pid namespace) can only point. */
function soleContainer(index: PodIndex, sandboxId: string): string | null {
  const running = index.pods.get(sandboxId)?.containers.filter((c) => c.state === 'CONTAINER_RUNNING') ?? [];
  return running.length === 1 ? running[0]!.id : null;
}

function optionValue(argv: string[] | null, name: string): string | undefined {
  if (!argv) return undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === name) return argv[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

function launcher(scan: Pick<ProcScan, 'processes'>, p: ProcProcess): ChaosProcess['launchedBy'] {
  let cur = scan.processes.get(p.ppid);
  for (let hops = 0; cur && hops < 4; hops++) {
    if (cur.comm === 'chaos-daemon') return { pid: cur.pid, comm: cur.comm };
    cur = scan.processes.get(cur.ppid);
  }
  return null;
}

function countWorkers(children: Map<number, number[]>, scan: Pick<ProcScan, 'processes'>, pid: number): number {
  let n = 0;
  const stack = [...(children.get(pid) ?? [])];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const c = stack.pop()!;
    if (seen.has(c)) continue;
    seen.add(c);
    if (scan.processes.get(c)?.comm.startsWith('stress-ng')) n++;
    stack.push(...(children.get(c) ?? []));
  }
  return n;
}

/**
 * Every chaos process the scan holds that can be placed on a pod. toda and tproxy are placed by the namespaces
 * they entered (their cgroup is chaos-daemon's); stress-ng and memStress by the cgroup they were moved into, else
 * by namespace. A chaos-named process placed nowhere is not reported (a host process, or a pod-less leftover).
 */
export function findChaosProcesses(scan: Pick<ProcScan, 'processes' | 'bootTime'>, index: PodIndex): ChaosProcess[] {
  const out: ChaosProcess[] = [];
  let children: Map<number, number[]> | null = null;
  for (const p of scan.processes.values()) {
    if (!isLive(p)) continue;
    const role = roleOf(p, scan.processes.get(p.ppid)?.comm ?? null);
    if (role === null) continue;
    const where = placeProcess(index, p);
    const byCgroupFirst = role === 'stress-ng' || role === 'memStress';
    const ns = where.namespaces;
    const cg = where.cgroup;
    let target: PodRef | null = null;
    const via: ChaosProcess['via'] = [];
    if (byCgroupFirst && cg) {
      target = cg;
      via.push('cgroup');
      if (ns && ns.sandboxId === cg.sandboxId) via.push(...ns.via.map((k) => `${k}-ns` as const));
    } else if (ns) {
      target = ns;
      via.push(...ns.via.map((k) => `${k}-ns` as const));
      if (cg && cg.sandboxId === ns.sandboxId) via.unshift('cgroup');
    }
    if (!target) continue;
    const containerId = target.containerId ?? (cg && cg.sandboxId === target.sandboxId ? cg.containerId : null) ?? soleContainer(index, target.sandboxId);
    const proc: ChaosProcess = {
      role,
      kind: ROLE_KIND[role],
      sandboxId: target.sandboxId,
      containerId,
      pid: p.pid,
      ppid: p.ppid,
      comm: p.comm,
      cmdline: p.cmdline,
      cmdlineTruncated: p.cmdlineTruncated,
      startTimeMs: startTimeMs(scan, p),
      uid: p.uid,
      via,
      cgroup: cg?.path ?? p.cgroups.find((l) => l.hierarchy === 0)?.path ?? p.cgroups[0]?.path ?? null,
      launchedBy: launcher(scan, p),
      bpmIdentifier: (role === 'toda' || role === 'tproxy') && containerId !== null ? `${role}-${containerId}` : null,
    };
    if (role === 'toda') {
      const v = optionValue(p.cmdline, '--path');
      if (v !== undefined) proc.volume = v;
    }
    if (role === 'stress-ng') proc.workers = countWorkers((children ??= childrenIndex(scan)), scan, p.pid);
    out.push(proc);
  }
  return out.sort((a, b) => compareNames(a.sandboxId, b.sandboxId) || a.pid - b.pid);
}
