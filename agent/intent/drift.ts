/**
 * The result of reconciling one pod's intent with its kernel state (types only; reconcile.ts builds it).
 * Every Chaos Mesh artefact found in the namespace, and every entry the intent asks for, becomes one DriftEntry:
 * - present: intended and in the kernel as specified;
 * - missing: intended, not in the kernel;
 * - mismatch: intended and in the kernel, with other parameters (a tbf rate, a netem delay, a chain's rules);
 * - leftover: in the kernel, intended by nothing (no owner), or intended only by PodNetworkChaos entries whose
 *   NetworkChaos, PodHttpChaos rules whose HTTPChaos or PodIOChaos actions whose IOChaos is absent, being deleted or
 *   stopped (owners.ts; `owners` names them, `detail` says which and why).
 *   `active` says whether it changes traffic now (only active leftovers count in chaos_daemon_injection_drift;
 *   inert ones are the routine residue of a recovered experiment: empty CHAOS-* chains, ipsets chaos-daemon never
 *   destroys);
 * - stale: a PodNetworkChaos entry whose NetworkChaos is absent, being deleted or stopped, and that is not in the
 *   kernel (not drift: nothing changes traffic, but chaos-daemon installs it again on that object's next apply);
 *   likewise a tproxy / toda pid a PodHttpChaos / PodIOChaos records for such rules / actions that is not running;
 * - pending: a difference (would be missing / mismatch / leftover) while the PodNetworkChaos has a generation
 *   chaos-daemon has not applied yet (generation > observedGeneration): Chaos Mesh changes the spec first; not drift;
 * - failed: a difference while chaos-daemon's last apply of the PodNetworkChaos failed (status.failedMessage,
 *   retried by Chaos Mesh): counted in chaos_daemon_injection_drift{state="failed"} unless inert.
 */
import type { ChaosKind } from '../chaos/types.js';
import type { ExperimentRef } from './model.js';

export type DriftState = 'present' | 'missing' | 'leftover' | 'mismatch' | 'stale' | 'pending' | 'failed';
export const DRIFT_STATES: readonly DriftState[] = ['present', 'missing', 'leftover', 'mismatch', 'stale', 'pending', 'failed'];

export type Quantity = number | string | null;

export interface DriftEntry {
  artefact: 'chain' | 'ipset' | 'qdisc' | 'dns' | 'http' | 'process';
  /** Chain or set name, qdisc position (`eth0 root tbf`), process kind. */
  name: string;
  /** Where it lives: `legacy ipv4 filter`, `eth0`, ...; null when not applicable. */
  where: string | null;
  /** The experiments that own it (`<ns>/<name>`); [] = none (a leftover nothing asks for, or an entry without
   *  source). A leftover or stale entry of an absent / deleting / stopped NetworkChaos, HTTPChaos or IOChaos names
   *  that experiment. */
  owners: ExperimentRef[];
  state: DriftState;
  /** Chaos kinds concerned (partition, delay, bandwidth...); empty for inert scaffolding. */
  kinds: ChaosKind[];
  /** The kernel artefact changes traffic now (false for missing entries). */
  active: boolean;
  /** One sentence. */
  detail: string;
  /** Short descriptions of each side for `diff` (null when that side has nothing). */
  spec: string | null;
  kernel: string | null;
  /** mismatch: the differing parameters, spec side and kernel side, in base units. */
  expected?: Record<string, Quantity>;
  actual?: Record<string, Quantity>;
  /** leftover: when this agent first saw its kind of injection (unix seconds), and the age now. */
  firstSeen?: number | null;
  ageSeconds?: number | null;
}

export interface FindingOwners {
  finding: string;
  /** Experiments owning the artefacts the finding names; [] = none. */
  owners: ExperimentRef[];
}

export interface PodDrift {
  /** unknown: no claim can be made (namespace unread, intent unavailable or too old); `reason` says why, in words. */
  status: 'reconciled' | 'unknown';
  reason?: string;
  /** unknown for want of the intent: the Kubernetes API's errors the reason rests on (the intent status' `errors`).
   *  Kept apart from `reason`: the JSON reason gives them after it in parentheses (driftReason), the text leaves them
   *  to the intent line above it. */
  reasonErrors?: string[];
  counts: Record<DriftState, number>;
  entries: DriftEntry[];
  /** Each finding of chaos.findings with its owners, in the same order. */
  findings: FindingOwners[];
  /** Per active kind, the experiments owning its active findings ([] = none): chaos_daemon_injection_active{experiment}. */
  kindOwners: Partial<Record<ChaosKind, ExperimentRef[]>>;
}

/** An entry under construction: the words a finding would use to name its artefact. */
export interface PendingEntry extends DriftEntry {
  /** Whole tokens (chain / set names). */
  tokens: string[];
  /** Phrases (qdisc positions). */
  phrases: string[];
  /** The entry is what chaos-daemon applies from the PodNetworkChaos (its chains, ipsets and qdiscs): its owners
   *  are that object's sources, and its apply state (generation, failedMessage) explains its differences. */
  network?: boolean;
  /** The entry is the kernel side of a PodHttpChaos' rules (the proxy, its chains, tproxy) or a PodIOChaos' actions
   *  (toda and its FUSE mount): its owners are that object's sources, HTTPChaos / IOChaos (lifecycle.ts). */
  podChaos?: 'PodHttpChaos' | 'PodIOChaos';
}

export function emptyCounts(): Record<DriftState, number> {
  return { present: 0, missing: 0, leftover: 0, mismatch: 0, stale: 0, pending: 0, failed: 0 };
}
