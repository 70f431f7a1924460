/**
 * clean: no chaos state; scaffolding: only the residue of a recovered experiment; active: something changes
 * traffic now; unknown: the namespace could not be read at all (vanished, unresolved), so nothing can be claimed.
 */
export type Verdict = 'clean' | 'scaffolding' | 'active' | 'unknown';
export type ChaosKind =
  | 'partition' | 'delay' | 'loss' | 'duplicate' | 'corrupt' | 'reorder' | 'bandwidth' | 'http' | 'dns'
  // Not network state, read from /proc (agent/proc, agent/chaos/processes.ts):
  | 'io' | 'stress' | 'jvm';
export const CHAOS_KINDS: readonly ChaosKind[] = [
  'partition', 'delay', 'loss', 'duplicate', 'corrupt', 'reorder', 'bandwidth', 'http', 'dns', 'io', 'stress', 'jvm',
];

export interface Finding {
  kind: ChaosKind | null;
  /** active: changes traffic now; scaffolding: residue; foreign: belongs to another tool (kube-proxy, CNI, mesh). */
  level: 'active' | 'scaffolding' | 'foreign';
  message: string;
  /** Every kind this one finding shows, when more than one (a netem that delays and loses); `kind` is the first. */
  kinds?: ChaosKind[];
}

export interface ChaosReport {
  verdict: Verdict;
  /** Sorted, unique kinds of active injection. */
  kinds: ChaosKind[];
  /** Human sentences with the evidence, active first. */
  findings: string[];
  /** Same findings, structured (not part of the documented JSON contract's required fields). */
  details: Finding[];
}
