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

/** Reads the details of the pods' PIDs the scan skipped (none when the scan was given them as detailPids). */
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
    const members: { pid: number | null; owner: Owner }[] = [{ pid: pod.pid, owner: { sandboxId: pod.sandboxId, containerId: null } }];
    for (const c of pod.containers) members.push({ pid: c.pid, owner: { sandboxId: pod.sandboxId, containerId: c.id } });
    for (const m of members) {
      const p = m.pid === null ? null : detailOf(scan, m.pid);
      if (!p) continue;
      for (const kind of NS_KINDS) {
        // The network namespace is the pod's, never one container's.
        const owner = kind === 'net' ? { sandboxId: pod.sandboxId, containerId: null } : m.owner;
        claim(ns[kind], p.ns[kind], owner);
      }
    }
  }
  for (const kind of NS_KINDS) {
    const mine = scan.self[kind];
    if (mine !== null) ns[kind].set(mine, null);
  }
  const uids = new Map<string, string>();
  for (const [uid, sb] of uidCount) if (sb !== null) uids.set(uid, sb);
  return { pods: byId, ids, uids, ns };
}

const HEX64 = /[0-9a-f]{64}/g;
const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/g;

/** The owner named by one cgroup path: a container/sandbox ID wins over a pod UID. */
export function ownerOfCgroupPath(index: PodIndex, path: string): Owner | null {
  for (const m of path.matchAll(HEX64)) {
    const o = index.ids.get(m[0]);
    if (o) return o;
  }
  for (const m of path.matchAll(POD_UID)) {
    const sb = index.uids.get(m[1]!.replace(/_/g, '-'));
    if (sb) return { sandboxId: sb, containerId: null };
  }
  return null;
}

function placeByCgroup(index: PodIndex, p: ProcProcess): Placement['cgroup'] {
  let best: Placement['cgroup'] = null;
  for (const line of p.cgroups) {
    const o = ownerOfCgroupPath(index, line.path);
    if (!o) continue;
    if (o.containerId !== null) return { ...o, path: line.path };
    best ??= { ...o, path: line.path };
  }
  return best;
}

function placeByNamespaces(index: PodIndex, p: ProcProcess): Placement['namespaces'] {
  const hits: { kind: NsKind; owner: Owner }[] = [];
  for (const kind of NS_KINDS) {
    const inode = p.ns[kind];
    const o = inode === null ? undefined : index.ns[kind].get(inode);
    if (o) hits.push({ kind, owner: o });
  }
  const first = hits[0];
  if (!first) return null;
  const same = hits.filter((h) => h.owner.sandboxId === first.owner.sandboxId);
  const container = same.find((h) => h.owner.containerId !== null)?.owner.containerId ?? null;
  return { sandboxId: first.owner.sandboxId, containerId: container, via: same.map((h) => h.kind) };
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
