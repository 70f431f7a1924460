/**
 * `inspect NS/POD` and `diff` resolve only their pod (its PID and namespaces: 3 runtime calls instead of 3 per pod of
 * the node); the node's other pods are listed without PIDs. Their PIDs matter to the read pod's facts only through
 * the namespace claims of the pod index (pod-match.ts: a namespace two pods hold names neither): cgroup placement
 * uses container/sandbox IDs and pod UIDs, which the lists give. otherPodsMatter says whether facts computed from
 * that partial index can differ from the ones every pod's PIDs would give; when they can, the caller resolves every
 * pod and computes the facts again.
 *
 * Why its two checks are enough. Let T be a read pod (resolved, so every namespace it claims is in both indexes).
 * Resolving the others only adds claims: an inode T alone held may become shared (null), an inode nobody held may
 * become another pod's. So a process with NO namespace hit in the partial index is never placed on T by namespace in
 * the full one either (it may be placed on another pod, or nowhere: both are "not T"). Where the facts use a
 * placement (facts.ts):
 * - chaos processes (chaos-processes.ts): T gets a process when its namespace placement is T, or for stress-ng and
 *   memStress when its cgroup placement is T (then `via` adds namespace kinds only when they name T too). For a live
 *   chaos-role process without a namespace hit in the partial index, both indexes give T the same answer: check 1.
 * - the pod's processes (processesByPod: every process, by namespace or cgroup), searched for the owner of a
 *   Byteman listener: consulted only for a container with Byteman jars (jvm.ts): check 2.
 * - a container PID now in another pod's cgroup (PID reuse): cgroup placement only, the same in both.
 * Pure.
 */
import { isLive, roleOf } from './chaos-processes.js';
import type { PodProcFacts } from './model.js';
import { placeProcess, type PodIndex } from './pod-match.js';
import type { ProcScan } from './scan.js';

/** null when the read pods' facts cannot depend on the unresolved pods; otherwise why they can. */
export function otherPodsMatter(scan: Pick<ProcScan, 'processes'>, partial: PodIndex, facts: Iterable<PodProcFacts>): string | null {
  for (const p of scan.processes.values()) {
    if (!isLive(p) || roleOf(p, scan.processes.get(p.ppid)?.comm ?? null) === null) continue;
    if (placeProcess(partial, p).namespaces !== null) return `${p.comm} (pid ${p.pid}) is in a namespace of a pod read`;
  }
  for (const f of facts) {
    if (f.jvm.some((j) => j.jars.length > 0 || j.listeners.length > 0)) return `a container of sandbox ${f.sandboxId} has Byteman jars`;
  }
  return null;
}
