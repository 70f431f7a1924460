/**
 * A running container of a pod whose process is not in the network namespace the pod was read from (its sandbox's,
 * the inode the runtime layer resolved): e.g. a Docker sandbox killed and `docker start`ed gets a new, empty
 * namespace while the app container (joined with `--network container:<sandbox>`) stays in the old one, with
 * whatever chaos rules were in it. That namespace was not read, so the pod's verdict cannot be `clean`.
 * Pure: compares inodes the /proc scan already read (the containers' PIDs are the scan's detailPids).
 */
import type { PodInfo } from '../runtime/types.js';
import type { NsInodes } from './scan.js';

export interface OtherNetns {
  container: string;
  pid: number;
  /** The container's network namespace inode (/proc/<pid>/ns/net). */
  net: number;
  /** The namespace the pod was read from (PodInfo.netns.inode). */
  sandboxNet: number;
}

/**
 * The container's namespace when it differs from the pod's; null when they are the same, or when there is nothing
 * to compare: a host-network pod (the node's namespace, out of scope), a pod whose namespace is unresolved, a
 * container whose namespace inode could not be read.
 */
export function otherNetns(pod: Pick<PodInfo, 'hostNetwork' | 'netns'>, container: string, p: { pid: number; ns: Pick<NsInodes, 'net'> }): OtherNetns | null {
  if (pod.hostNetwork || pod.netns === null || p.ns.net === null) return null;
  if (p.ns.net === pod.netns.inode) return null;
  return { container, pid: p.pid, net: p.ns.net, sandboxNet: pod.netns.inode };
}

/** `container app (pid 42) is in another network namespace (net:[X]) than its sandbox's (net:[Y]): not read`. */
export function otherNetnsNote(o: OtherNetns): string {
  return `container ${o.container} (pid ${o.pid}) is in another network namespace (net:[${o.net}]) than its sandbox's (net:[${o.sandboxNet}]): not read`;
}
