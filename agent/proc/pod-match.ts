/**
 * Which processes belong to which pod and container, never by name: by cgroup (a cgroup path naming a container
 * or sandbox ID, or the pod UID: cgroupfs `/kubepods/<qos>/pod<uid>/<id>`, systemd
 * `kubepods-<qos>-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope`, plain `/k8s.io/<id>`; v1 has one
 * line per hierarchy, v2 one `0::` line) and by namespace (the pid, mnt and net namespaces of the pod's sandbox
 * and containers, as the scan read them from the runtime-reported PIDs).
 *
 * A namespace identifies a pod only when exactly one pod holds it and it is not one of the agent's own (host-PID
 * and host-network pods share the host's namespaces with every host process). mnt namespaces are per container;
 * a pid namespace is a container's unless the pod shares one (shareProcessNamespace), then it names the pod only.
 *
 * The two placements are kept apart: chaos-daemon's toda and tproxy enter the target's namespaces but stay in
 * chaos-daemon's cgroup; its stress-ng and memStress are moved into the target's cgroup and may keep the host's
 * pid namespace.
 */
import type { PodInfo } from '../runtime/types.js';
import { detailOf, type NsInodes, type ProcProcess, type ProcScan } from './scan.js';

export type NsKind = keyof NsInodes;
export const NS_KINDS: readonly NsKind[] = ['pid', 'mnt', 'net'];

export interface PodRef {
  sandboxId: string;
  /** null when the evidence names the pod, not one of its containers. */
  containerId: string | null;
}

export interface Placement {
  /** The pod/container whose cgroup holds the process, and the cgroup path that says so. */
  cgroup: (PodRef & { path: string }) | null;
  /** The pod whose namespaces the process is in; `via` lists the namespaces that agree (pid first). */
  namespaces: (PodRef & { via: NsKind[] }) | null;
}

interface Owner {
  sandboxId: string;
  containerId: string | null;
}

export interface PodIndex {
  pods: ReadonlyMap<string, PodInfo>;
  /** 64-hex container or sandbox ID -> owner (sandbox IDs name the pod). */
  ids: ReadonlyMap<string, Owner>;
  /** Pod UID (dashes) -> sandbox ID; UIDs seen on several sandboxes are left out. */
  uids: ReadonlyMap<string, string>;
  /** Per namespace kind: inode -> owner; null marks an inode shared by several pods (useless as evidence). */
  ns: Readonly<Record<NsKind, ReadonlyMap<number, Owner | null>>>;
}

function claim(map: Map<number, Owner | null>, inode: number | null, owner: Owner): void {
  if (inode === null) return;
  if (!map.has(inode)) {
    map.set(inode, owner);
    return;
  }
  const prev = map.get(inode);
  if (prev === null || prev === undefined) return;
  if (prev.sandboxId !== owner.sandboxId) map.set(inode, null);
  else if (prev.containerId !== owner.containerId) map.set(inode, { sandboxId: owner.sandboxId, containerId: null });
}

/**
 * Reads the details of the pods' PIDs the scan skipped (none when the scan was given them as detailPids). One owner
 * object per pod and per container, shared by every claim (Owner objects are never changed).
 */
export function buildPodIndex(scan: ProcScan, pods: readonly PodInfo[]): PodIndex {
  const byId = new Map<string, PodInfo>();
  const ids = new Map<string, Owner>();
  const uidCount = new Map<string, string | null>();
  const ns: Record<NsKind, Map<number, Owner | null>> = { pid: new Map(), mnt: new Map(), net: new Map() };
  for (const pod of pods) {
    byId.set(pod.sandboxId, pod);
    ids.set(pod.sandboxId, { sandboxId: pod.sandboxId, containerId: null });
    if (pod.uid !== '') uidCount.set(pod.uid, uidCount.has(pod.uid) ? null : pod.sandboxId);
    for (const c of pod.containers) {
      if (c.id !== pod.sandboxId) ids.set(c.id, { sandboxId: pod.sandboxId, containerId: c.id });
    }
  }
  for (const pod of pods) {
    const podOwner: Owner = { sandboxId: pod.sandboxId, containerId: null };
    claimAll(ns, scan, pod.pid, podOwner, podOwner);
    for (const c of pod.containers) claimAll(ns, scan, c.pid, { sandboxId: pod.sandboxId, containerId: c.id }, podOwner);
  }
  for (const kind of NS_KINDS) {
    const mine = scan.self[kind];
    if (mine !== null) ns[kind].set(mine, null);
  }
  const uids = new Map<string, string>();
  for (const [uid, sb] of uidCount) if (sb !== null) uids.set(uid, sb);
  return { pods: byId, ids, uids, ns };
}

/** The namespaces of one of a pod's PIDs claimed for `owner`; the network namespace is the pod's (`podOwner`), never one container's. */
function claimAll(ns: Record<NsKind, Map<number, Owner | null>>, scan: ProcScan, pid: number | null, owner: Owner, podOwner: Owner): void {
  const p = pid === null ? null : detailOf(scan, pid);
  if (!p) return;
  for (const kind of NS_KINDS) claim(ns[kind], p.ns[kind], kind === 'net' ? podOwner : owner);
}

const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/g;

function isLowerHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/**
 * The owner named by one cgroup path: a container/sandbox ID wins over a pod UID. IDs are what the global pattern
 * /[0-9a-f]{64}/g finds, in its order: in each run of lowercase hex, the 64-character pieces from the run's start
 * (a match resumes the search right after it), walked by index (no regex iterator or match array per path).
 */
export function ownerOfCgroupPath(index: PodIndex, path: string): Owner | null {
  const len = path.length;
  for (let i = 0; i + 64 <= len;) {
    if (!isLowerHex(path.charCodeAt(i))) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < len && isLowerHex(path.charCodeAt(end))) end++;
    for (let s = i; s + 64 <= end; s += 64) {
      const o = index.ids.get(path.slice(s, s + 64));
      if (o) return o;
    }
    i = end;
  }
  for (const m of path.matchAll(POD_UID)) {
    const sb = index.uids.get(m[1]!.replace(/_/g, '-'));
    if (sb) return { sandboxId: sb, containerId: null };
  }
  return null;
}

/** The pod/container whose cgroup holds the process (a container's line wins), and the path that says so. */
export function placeByCgroup(index: PodIndex, p: ProcProcess): Placement['cgroup'] {
  let best: Placement['cgroup'] = null;
  for (const line of p.cgroups) {
    const o = ownerOfCgroupPath(index, line.path);
    if (!o) continue;
    if (o.containerId !== null) return { sandboxId: o.sandboxId, containerId: o.containerId, path: line.path };
    best ??= { sandboxId: o.sandboxId, containerId: o.containerId, path: line.path };
  }
  return best;
}

/** The first namespace hit's pod, the kinds that agree with it (pid first) and the first container they name. */
function placeByNamespaces(index: PodIndex, p: ProcProcess): Placement['namespaces'] {
  let first: Owner | null = null;
  let container: string | null = null;
  const via: NsKind[] = [];
  for (const kind of NS_KINDS) {
    const inode = p.ns[kind];
    const o = inode === null ? undefined : index.ns[kind].get(inode);
    if (!o) continue;
    first ??= o;
    if (o.sandboxId !== first.sandboxId) continue;
    via.push(kind);
    if (container === null) container = o.containerId;
  }
  return first === null ? null : { sandboxId: first.sandboxId, containerId: container, via };
}

export function placeProcess(index: PodIndex, p: ProcProcess): Placement {
  return { cgroup: placeByCgroup(index, p), namespaces: placeByNamespaces(index, p) };
}

/**
 * Every placed process per sandbox ID (by namespace or by cgroup), for the readers that need a pod's processes.
 * Reads the details the scan skipped (5 syscalls per process): call it only when needed.
 */
export function processesByPod(index: PodIndex, scan: ProcScan): Map<string, ProcProcess[]> {
  const out = new Map<string, ProcProcess[]>();
  const add = (sb: string, p: ProcProcess): void => {
    const list = out.get(sb);
    if (list) list.push(p);
    else out.set(sb, [p]);
  };
  for (const pid of scan.processes.keys()) {
    const p = detailOf(scan, pid);
    if (!p) continue;
    const where = placeProcess(index, p);
    const a = where.namespaces?.sandboxId;
    const b = where.cgroup?.sandboxId;
    if (a) add(a, p);
    if (b && b !== a) add(b, p);
  }
  return out;
}
