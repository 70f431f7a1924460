/**
 * The per-pod bound on exported qdiscs: a pod with NET_ADMIN can create 10k qdiscs (htb classes with pfifo leaves),
 * and six statistics series per qdisc would let it decide the agent's memory and the size of every scrape. What is
 * judged is never capped (the fingerprint sees every qdisc read); what is exported is. Qdiscs Chaos Mesh uses for
 * its faults (netem, tbf) are exported first, so spam cannot push them out; then the others in order. Pure.
 */
import type { Qdisc } from '../netns/state.js';

/** Qdiscs exported per pod at most (a pod has 2-3; Chaos Mesh's filtered layout a prio, three sfq and N netem). */
export const MAX_QDISCS_PER_POD = 64;

/** Whether exportedQdiscs(qdiscs, max) leaves qdiscs out. */
export function qdiscsTruncated(qdiscs: readonly Qdisc[], max = MAX_QDISCS_PER_POD): boolean {
  return qdiscs.length > max;
}

/** The qdiscs of a pod to export, chaos kinds first, cut at `max`; `truncated` when some were left out. */
export function exportedQdiscs(qdiscs: readonly Qdisc[], max = MAX_QDISCS_PER_POD): { qdiscs: Qdisc[]; truncated: boolean } {
  if (!qdiscsTruncated(qdiscs, max)) return { qdiscs: [...qdiscs], truncated: false };
  const chaos = qdiscs.filter((q) => q.netem || q.tbf);
  const other = qdiscs.filter((q) => !(q.netem || q.tbf));
  return { qdiscs: [...chaos, ...other].slice(0, Math.max(0, max)), truncated: true };
}
