/**
 * What the per-pod objects' own state says about the entries matched against the kernel (pure; reconcile.ts runs
 * it between matching and counting). Only entries chaos-daemon applies from a PodNetworkChaos (`network`),
 * PodHttpChaos or PodIOChaos (`podChaos`).
 * - Owners (owners.ts): an entry whose every owner is absent, being deleted or stopped, and has been so for
 *   `graceSeconds` (one informer may lag another; a pause or deletion normally recovers within seconds), is not
 *   wanted any more: with a kernel side (present, mismatch) it is a `leftover`, named after its owner and why,
 *   counted like any leftover that changes traffic; without one (missing) it is `stale`, not drift. Owner
 *   conditions without a since-time (null: a one-shot list, which lists NetworkChaos after PodNetworkChaos) are
 *   taken as they are.
 * - The same owner rules for the kernel side of the other per-pod objects (entries marked `podChaos`): the
 *   transparent proxy, its chains and tproxy of PodHttpChaos rules whose every HTTPChaos is gone, toda and its FUSE
 *   mount of PodIOChaos actions whose every IOChaos is gone (owners.ts says why Chaos Mesh leaves them); a tproxy /
 *   toda pid recorded for them that is not running is `stale`.
 * - Apply state, of each object for the entries that come from it: while generation > observedGeneration, the
 *   other differences (missing, mismatch, leftover) are `pending` (Chaos Mesh writes the spec first, chaos-daemon
 *   applies it after), until the pending has lasted `pendingLimitSeconds` (chaos-daemon not applying at all), when
 *   they are drift again with that said; when the last apply failed (status.failedMessage with generation
 *   observed), they are `failed`, with the message.
 */
import type { PendingEntry } from './drift.js';
import { ageText } from './format.js';
import type { ApplyState, OwnerKind, OwnerStatus, PodIntent } from './model.js';
import { isPending, type PodChaosKind } from './owners.js';

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

/** What each owner kind calls the items it writes into its per-pod object. */
const ITEMS: Readonly<Record<OwnerKind, string>> = { NetworkChaos: 'entries', HTTPChaos: 'rules', IOChaos: 'actions' };

/** Why an owner does not want its entries (rules, actions) any more, one clause. */
export function ownerWhy(o: OwnerStatus, now: number, kind: OwnerKind = 'NetworkChaos'): string {
  const age = o.since !== null ? ` (seen so for ${ageText(Math.max(0, now - o.since))})` : '';
  const items = ITEMS[kind];
  if (o.condition === 'absent') return `${kind} ${o.ref} no longer exists${age}: it was deleted without recovering its ${items} (a forced delete removes the finalizer without recovery)`;
  if (o.condition === 'deleting') return `${kind} ${o.ref} is being deleted${age} and has not recovered its ${items}`;
  return `${kind} ${o.ref} is stopped (desiredPhase Stop: paused or its duration over)${age} and has not recovered its ${items}`;
}

/** The per-pod object an entry comes from (null: none, e.g. a DNS entry or one owned through records). */
function objectOf(e: PendingEntry): PodChaosKind | null {
  return e.network ? 'PodNetworkChaos' : e.podChaos ?? null;
}

/** The experiment kind that writes each per-pod object. */
const OWNER_KIND: Readonly<Record<PodChaosKind, OwnerKind>> = { PodNetworkChaos: 'NetworkChaos', PodHttpChaos: 'HTTPChaos', PodIOChaos: 'IOChaos' };

/** The owner kind whose conditions decide an entry (null: none). */
function ownerKindOf(e: PendingEntry): OwnerKind | null {
  const o = objectOf(e);
  return o === null ? null : OWNER_KIND[o];
}

/** The detail of a PodHttpChaos / PodIOChaos entry whose every owner is gone (`why`). */
function podChaosDetail(e: PendingEntry, intent: PodIntent, kind: OwnerKind, why: string): string {
  const obj = kind === 'HTTPChaos' ? intent.http : intent.io;
  const name = `${kind === 'HTTPChaos' ? 'PodHttpChaos' : 'PodIOChaos'} ${obj ? `${obj.namespace}/${obj.name}` : ''}`;
  // Only a recorded process can be missing (the proxy and its chains are entries only when found).
  if (e.state === 'missing') {
    return `${name} still lists its ${ITEMS[kind]} and records ${e.name} ${e.where ?? ''} (status.pid), but ${why}; it is not running, and chaos-daemon would start it again on the next apply of ${name}`;
  }
  if (e.artefact === 'process') return `${e.name} ${e.where ?? ''} runs for ${name}'s ${ITEMS[kind]}, but ${why}`;
  return `${e.name}${e.where !== null ? ` (${e.where})` : ''} is in the kernel for ${name}'s ${ITEMS[kind]}, but ${why}`;
}

/** Entries whose every owner is gone: leftover (kernel side) or stale (none). Returns the entries changed. */
export function applyOwners(entries: PendingEntry[], intent: PodIntent, now: number, graceSeconds: number): Set<PendingEntry> {
  const changed = new Set<PendingEntry>();
  const byKind: Record<OwnerKind, Map<string, OwnerStatus>> = {
    NetworkChaos: new Map(intent.owners.map((o) => [o.ref, o])),
    HTTPChaos: new Map((intent.httpOwners ?? []).map((o) => [o.ref, o])),
    IOChaos: new Map((intent.ioOwners ?? []).map((o) => [o.ref, o])),
  };
  const pnc = intent.network ? `${intent.network.namespace}/${intent.network.name}` : '';
  for (const e of entries) {
    const kind = ownerKindOf(e);
    if (kind === null || e.owners.length === 0 || (e.state !== 'present' && e.state !== 'mismatch' && e.state !== 'missing')) continue;
    const owners = e.owners.map((r) => byKind[kind].get(r));
    if (!owners.every((o) => established(o, now, graceSeconds))) continue;
    const why = (owners as OwnerStatus[]).map((o) => ownerWhy(o, now, kind)).join('; ');
    if (kind !== 'NetworkChaos') {
      e.detail = podChaosDetail(e, intent, kind, why);
      // Active only when an active finding names it (reconcile.ts), as for the PodNetworkChaos' artefacts: an idle
      // tproxy -i (scaffolding) changes nothing.
      e.active = false;
    } else if (e.state === 'missing') {
      e.detail = `PodNetworkChaos ${pnc} still lists ${e.name} (${e.spec ?? e.artefact}), but ${why}; it is not in the kernel, and chaos-daemon would install it again on the next apply of that PodNetworkChaos`;
    } else {
      e.detail = `${e.name} is in the kernel for PodNetworkChaos ${pnc}'s entry, but ${why}`;
    }
    e.state = e.state === 'missing' ? 'stale' : 'leftover';
    // Kinds as for any leftover: those of the active findings naming it (reconcile.ts), none while inert.
    e.kinds = [];
    delete e.expected;
    delete e.actual;
    changed.add(e);
  }
  return changed;
}

/**
 * Differences explained by the apply state of the per-pod object they come from (`skip`: the owners' leftovers): the
 * PodNetworkChaos for its chains, ipsets and qdiscs (`network`), the PodHttpChaos / PodIOChaos for their kernel side
 * (`podChaos`: tproxy and its chains, toda and its mount). chaos-daemon's controllers for all three write
 * observedGeneration and failedMessage the same way (controllers/pod{network,http,io}chaos: a deferred status update
 * after each apply, the error's text or "").
 */
export function applyApplyState(entries: PendingEntry[], intent: PodIntent, now: number, pendingLimitSeconds: number, skip: ReadonlySet<PendingEntry>): void {
  const objects = [
    ['PodNetworkChaos', intent.network, intent.networkPendingSince],
    ['PodHttpChaos', intent.http, intent.httpPendingSince ?? null],
    ['PodIOChaos', intent.io, intent.ioPendingSince ?? null],
  ] as const;
  for (const [kind, o, since] of objects) {
    if (o === null || (!isPending(o) && o.failedMessage === null)) continue;
    explain(entries.filter((e) => objectOf(e) === kind && !skip.has(e)), `${kind} ${o.namespace}/${o.name}`, o, since, now, pendingLimitSeconds);
  }
}

function explain(entries: PendingEntry[], name: string, o: ApplyState, since: number | null, now: number, pendingLimitSeconds: number): void {
  const pending = isPending(o);
  const observed = o.observedGeneration ?? 0;
  const overdue = pending && since !== null && now - since >= pendingLimitSeconds;
  for (const e of entries) {
    if (e.state !== 'missing' && e.state !== 'mismatch' && e.state !== 'leftover') continue;
    if (!pending) {
      e.state = 'failed';
      e.detail = `${e.detail} (chaos-daemon's last apply of ${name} generation ${o.generation ?? observed} failed: ${o.failedMessage})`;
    } else if (overdue) {
      e.detail = `${e.detail} (${name} generation ${o.generation} has not been applied for ${ageText(now - since)}: observed ${observed})`;
    } else {
      e.state = 'pending';
      e.detail = `${e.detail} (pending: ${name} generation ${o.generation} is not applied yet, observed ${observed}` +
        `${o.failedMessage !== null ? `; the previous apply failed: ${o.failedMessage}` : ''})`;
    }
  }
}
