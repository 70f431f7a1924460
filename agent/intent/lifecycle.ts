/**
 * What the PodNetworkChaos' own state says about the entries matched against the kernel (pure; reconcile.ts runs
 * it between matching and counting). Only entries chaos-daemon applies from the PodNetworkChaos (`network`).
 * - Owners (owners.ts): an entry whose every owner is absent, being deleted or stopped, and has been so for
 *   `graceSeconds` (one informer may lag another; a pause or deletion normally recovers within seconds), is not
 *   wanted any more: with a kernel side (present, mismatch) it is a `leftover`, named after its owner and why,
 *   counted like any leftover that changes traffic; without one (missing) it is `stale`, not drift. Owner
 *   conditions without a since-time (null: a one-shot list, which lists NetworkChaos after PodNetworkChaos) are
 *   taken as they are.
 * - Apply state: while generation > observedGeneration, the other differences (missing, mismatch, leftover) are
 *   `pending` (Chaos Mesh writes the spec first, chaos-daemon applies it after), until the pending has lasted
 *   `pendingLimitSeconds` (chaos-daemon not applying at all), when they are drift again with that said; when
 *   the last apply failed (status.failedMessage with generation observed), they are `failed`, with the message.
 */
import type { PendingEntry } from './drift.js';
import { ageText } from './format.js';
import type { OwnerStatus, PodIntent } from './model.js';
import { isPending } from './owners.js';

/** An owner must be seen absent / deleting / stopped this long (serve) before its entries are leftovers. */
export const DEFAULT_OWNER_GRACE_SECONDS = 30;
/** A PodNetworkChaos pending longer than this no longer excuses the differences. */
export const DEFAULT_PENDING_LIMIT_SECONDS = 120;

/** The two clocks, seconds: `serve`'s --intent-owner-grace and --intent-pending-limit (the defaults above without). */
export interface LifecycleLimits {
  ownerGraceSeconds: number;
  pendingLimitSeconds: number;
}

function established(o: OwnerStatus | undefined, now: number, graceSeconds: number): o is OwnerStatus {
  if (o === undefined || o.condition === 'running') return false;
  return o.since === null || now - o.since >= graceSeconds;
}

/** Why an owner does not want its entries any more, one clause. */
export function ownerWhy(o: OwnerStatus, now: number): string {
  const age = o.since !== null ? ` (seen so for ${ageText(Math.max(0, now - o.since))})` : '';
  if (o.condition === 'absent') return `NetworkChaos ${o.ref} no longer exists${age}: it was deleted without recovering its entries (a forced delete removes the finalizer without recovery)`;
  if (o.condition === 'deleting') return `NetworkChaos ${o.ref} is being deleted${age} and has not recovered its entries`;
  return `NetworkChaos ${o.ref} is stopped (desiredPhase Stop: paused or its duration over)${age} and has not recovered its entries`;
}

/** Entries whose every owner is gone: leftover (kernel side) or stale (none). Returns the entries changed. */
export function applyOwners(entries: PendingEntry[], intent: PodIntent, now: number, graceSeconds: number): Set<PendingEntry> {
  const changed = new Set<PendingEntry>();
  const byRef = new Map(intent.owners.map((o) => [o.ref, o]));
  const pnc = intent.network ? `${intent.network.namespace}/${intent.network.name}` : '';
  for (const e of entries) {
    if (!e.network || e.owners.length === 0 || (e.state !== 'present' && e.state !== 'mismatch' && e.state !== 'missing')) continue;
    const owners = e.owners.map((r) => byRef.get(r));
    if (!owners.every((o) => established(o, now, graceSeconds))) continue;
    const why = (owners as OwnerStatus[]).map((o) => ownerWhy(o, now)).join('; ');
    if (e.state === 'missing') {
      e.state = 'stale';
      e.detail = `PodNetworkChaos ${pnc} still lists ${e.name} (${e.spec ?? e.artefact}), but ${why}; it is not in the kernel, and chaos-daemon would install it again on the next apply of that PodNetworkChaos`;
    } else {
      e.state = 'leftover';
      e.detail = `${e.name} is in the kernel for PodNetworkChaos ${pnc}'s entry, but ${why}`;
    }
    // Kinds as for any leftover: those of the active findings naming it (reconcile.ts), none while inert.
    e.kinds = [];
    delete e.expected;
    delete e.actual;
    changed.add(e);
  }
  return changed;
}

/** Differences explained by the PodNetworkChaos' apply state: pending or failed (`skip`: the owners' leftovers). */
export function applyApplyState(entries: PendingEntry[], intent: PodIntent, now: number, pendingLimitSeconds: number, skip: ReadonlySet<PendingEntry>): void {
  const n = intent.network;
  if (n === null) return;
  const pending = isPending(n);
  if (!pending && n.failedMessage === null) return;
  const observed = n.observedGeneration ?? 0;
  const name = `PodNetworkChaos ${n.namespace}/${n.name}`;
  const since = intent.networkPendingSince;
  const overdue = pending && since !== null && now - since >= pendingLimitSeconds;
  for (const e of entries) {
    if (!e.network || skip.has(e) || (e.state !== 'missing' && e.state !== 'mismatch' && e.state !== 'leftover')) continue;
    if (!pending) {
      e.state = 'failed';
      e.detail = `${e.detail} (chaos-daemon's last apply of ${name} generation ${n.generation ?? observed} failed: ${n.failedMessage})`;
    } else if (overdue) {
      e.detail = `${e.detail} (${name} generation ${n.generation} has not been applied for ${ageText(now - since)}: observed ${observed})`;
    } else {
      e.state = 'pending';
      e.detail = `${e.detail} (pending: ${name} generation ${n.generation} is not applied yet, observed ${observed}` +
        `${n.failedMessage !== null ? `; the previous apply failed: ${n.failedMessage}` : ''})`;
    }
  }
}
