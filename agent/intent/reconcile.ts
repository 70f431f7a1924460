/**
 * Per pod, what Chaos Mesh intends against what the kernel holds (pure): every Chaos Mesh artefact read from
 * the namespace and every intended entry becomes a DriftEntry with its owners and state (drift.ts), and each
 * finding of the fingerprint gets the owners of the artefacts it names.
 * - Findings name artefacts by their chain / set names (whole words) and qdisc positions (`eth0 root tbf`), the
 *   same words artefacts.ts records; a finding's owners are the owners of the artefacts it names.
 * - A leftover is `active` when an active finding names it; its kinds are those findings' kinds, and its age
 *   counts from the injection tracker's first-seen time of the oldest of those kinds.
 * - No claim without knowledge: the pod's namespace unread (verdict unknown), the intent never listed, or the
 *   intent older than `maxStalenessSeconds` give status `unknown` and no entries.
 * - The per-pod objects' owners and the PodNetworkChaos' apply state (lifecycle.ts): the kernel side of entries of
 *   an absent / deleting / stopped NetworkChaos, of PodHttpChaos rules of such an HTTPChaos and of PodIOChaos
 *   actions of such an IOChaos becomes leftovers (or stale), differences while a generation is unapplied pending,
 *   after a failed apply failed.
 */
import type { ChaosKind, ChaosReport } from '../chaos/types.js';
import { kernelArtefacts, type NetnsView } from './artefacts.js';
import { emptyCounts, type DriftEntry, type FindingOwners, type PendingEntry, type PodDrift } from './drift.js';
import { applyApplyState, applyOwners, DEFAULT_OWNER_GRACE_SECONDS, DEFAULT_PENDING_LIMIT_SECONDS } from './lifecycle.js';
import { matchIptables } from './match-iptables.js';
import { matchRecords } from './match-records.js';
import { matchTc } from './match-tc.js';
import type { ExperimentRef, IntentStatus, PodIntent } from './model.js';
import { reconcileProcesses, type ChaosProcess } from './processes.js';
import { compareNames } from '../compare-names.js';

/** Intent older than this is not used to claim drift (the API has been unreachable too long). */
export const DEFAULT_MAX_STALENESS_SECONDS = 300;

export interface ReconcileInput {
  intent: PodIntent;
  status: IntentStatus;
  state: NetnsView;
  chaos: ChaosReport;
  /** First-seen time (unix seconds) of an injection kind on this pod, from the InjectionTracker. */
  firstSeen: (kind: ChaosKind) => number | undefined;
  /** Unix seconds. */
  now: number;
  /** The pod's chaos processes (issue 11's model); null / absent: not known. */
  processes?: ChaosProcess[] | null;
  maxStalenessSeconds?: number;
  /** How long an owner must be seen absent / deleting / stopped before its entries are leftovers (lifecycle.ts). */
  ownerGraceSeconds?: number;
  /** How long a pending PodNetworkChaos generation excuses the differences. */
  pendingLimitSeconds?: number;
}

function unknown(reason: string, chaos: ChaosReport, reasonErrors: string[] = []): PodDrift {
  return {
    status: 'unknown', reason, ...(reasonErrors.length > 0 ? { reasonErrors } : {}),
    counts: emptyCounts(), entries: [], findings: chaos.findings.map((f) => ({ finding: f, owners: [] })), kindOwners: {},
  };
}

function words(message: string): Set<string> {
  return new Set(message.split(/[\s,;()"]+/).filter(Boolean));
}

function names(entry: PendingEntry, message: string, tokens: Set<string>): boolean {
  if (entry.state === 'missing' || entry.state === 'stale') return false;
  return entry.tokens.some((t) => tokens.has(t)) || entry.phrases.some((p) => message.includes(p));
}

function union(lists: ExperimentRef[][]): ExperimentRef[] {
  return [...new Set(lists.flat())].sort();
}

function strip(e: PendingEntry): DriftEntry {
  const { tokens: _t, phrases: _p, network: _n, podChaos: _c, ...rest } = e;
  return rest;
}

export function reconcilePod(input: ReconcileInput): PodDrift {
  const { intent, status, chaos } = input;
  if (chaos.verdict === 'unknown') return unknown('the network namespace could not be read', chaos);
  if (status.state === 'unavailable') {
    return unknown('the Kubernetes API intent is not available', chaos, status.errors);
  }
  const maxAge = input.maxStalenessSeconds ?? DEFAULT_MAX_STALENESS_SECONDS;
  if (status.syncAgeSeconds !== null && status.syncAgeSeconds > maxAge) {
    return unknown(`the Kubernetes API intent is ${Math.round(status.syncAgeSeconds)} s old (more than ${maxAge} s)`, chaos);
  }

  const intendedSets = intent.network?.ipsets.map((s) => s.name) ?? [];
  const artefacts = kernelArtefacts(input.state, intendedSets);
  const pending: PendingEntry[] = [
    ...matchIptables(intent.network, intent.http, artefacts),
    ...matchTc(intent.network, artefacts),
    ...matchRecords(intent, chaos),
    ...reconcileProcesses(intent, input.processes ?? null),
  ];
  const orphaned = applyOwners(pending, intent, input.now, input.ownerGraceSeconds ?? DEFAULT_OWNER_GRACE_SECONDS);

  // Findings -> the artefacts they name; active findings make their artefacts active and give them kinds.
  const findings: FindingOwners[] = [];
  const kindOwners: Partial<Record<ChaosKind, ExperimentRef[][]>> = {};
  const activeKinds = new Map<PendingEntry, Set<ChaosKind>>();
  const byMessage = new Map(chaos.details.map((d) => [d.message, d]));
  for (const message of chaos.findings) {
    const detail = byMessage.get(message);
    const tokens = words(message);
    const named = pending.filter((e) => names(e, message, tokens));
    const owners = union(named.map((e) => e.owners));
    findings.push({ finding: message, owners });
    if (detail?.level !== 'active') continue;
    const kinds = [...new Set([...(detail.kind ? [detail.kind] : []), ...(detail.kinds ?? [])])];
    for (const k of kinds) (kindOwners[k] ??= []).push(owners);
    for (const e of named) {
      const set = activeKinds.get(e) ?? new Set<ChaosKind>();
      for (const k of kinds) set.add(k);
      activeKinds.set(e, set);
    }
  }

  for (const e of pending) {
    const kinds = activeKinds.get(e);
    if (kinds !== undefined) {
      e.active = true;
      if (e.state === 'leftover' || e.kinds.length === 0) e.kinds = [...kinds].sort();
    }
    if (e.state === 'leftover') {
      const seen = e.kinds.map((k) => input.firstSeen(k)).filter((t): t is number => t !== undefined);
      e.firstSeen = seen.length > 0 ? Math.min(...seen) : null;
      e.ageSeconds = e.firstSeen !== null ? Math.max(0, input.now - e.firstSeen) : null;
    }
  }
  applyApplyState(pending, intent, input.now, input.pendingLimitSeconds ?? DEFAULT_PENDING_LIMIT_SECONDS, orphaned);
  const entries: DriftEntry[] = [];
  const counts = emptyCounts();
  for (const e of pending) {
    counts[e.state]++;
    entries.push(strip(e));
  }
  const owners: Partial<Record<ChaosKind, ExperimentRef[]>> = {};
  for (const [k, lists] of Object.entries(kindOwners) as [ChaosKind, ExperimentRef[][]][]) owners[k] = union(lists);
  return { status: 'reconciled', counts, entries, findings, kindOwners: owners };
}

/** The states chaos_daemon_injection_drift exports. */
export type DriftSeriesState = 'leftover' | 'missing' | 'mismatch' | 'failed';

/**
 * The series of chaos_daemon_injection_drift for one reconciled pod: per kind and state, the drifting entries
 * (leftovers only when they change traffic; failed ones with a kind, i.e. not inert; never present, stale or
 * pending); the pod's active and drifting kinds are exported with 0 for leftover, missing and mismatch when they
 * have none, so "reconciled, nothing drifts" (0) differs from "not reconciled" (absent); `failed` only while > 0.
 */
export function driftCounts(drift: PodDrift, activeKinds: readonly ChaosKind[] = []): { kind: ChaosKind; state: DriftSeriesState; count: number }[] {
  if (drift.status !== 'reconciled') return [];
  const m = new Map<string, { kind: ChaosKind; state: DriftSeriesState; count: number }>();
  const bump = (kind: ChaosKind, state: DriftSeriesState, n: number): void => {
    const key = `${kind}\0${state}`;
    const cur = m.get(key) ?? { kind, state, count: 0 };
    cur.count += n;
    m.set(key, cur);
  };
  const kinds = new Set<ChaosKind>(activeKinds);
  for (const e of drift.entries) {
    if (e.state === 'present' || e.state === 'stale' || e.state === 'pending') continue;
    if (e.state === 'leftover' && !e.active) continue;
    for (const kind of e.kinds) {
      kinds.add(kind);
      bump(kind, e.state, 1);
    }
  }
  for (const kind of kinds) for (const state of ['leftover', 'missing', 'mismatch'] as const) bump(kind, state, 0);
  return [...m.values()].sort((a, b) => compareNames(a.kind, b.kind) || compareNames(a.state, b.state));
}
