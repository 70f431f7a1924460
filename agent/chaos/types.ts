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
  /** HTTPChaos's bridge layout (chaos-tproxy >= 0.4.5): the evidence the message names, structured. */
  http?: HttpEvidence;
}

export interface HttpEvidence {
  layout: 'bridge';
  /** `<p>`: 13 characters of a UUID. */
  prefix: string;
  /** `<p>b1`, when it exists, and the interfaces it holds. */
  bridge: string | null;
  ports: string[];
  /** `<p>v1` / `<p>v4` that exist. */
  veths: string[];
  /** IPv4 addresses on `<p>v4` (`10.244.1.7/24`). */
  addresses: string[];
  /** Default routes via `<p>v4` (`via 10.244.1.1 dev <p>v4`). */
  defaultRoutes: string[];
  /** ebtables nat PREROUTING dnat rules that belong to this layout (rule text). */
  ebtablesRules: string[];
  /** `<p>ns`, and whether /run/netns holds it (null: not listed). */
  proxyNetns: string;
  proxyNetnsExists: boolean | null;
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
