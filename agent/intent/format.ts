/**
 * Human text for owners and drift (inspect's pod entries; diff builds on it). Pure.
 */
import { plural } from '../chaos/format.js';
import type { PodReport } from '../snapshot.js';
import type { DriftEntry, PodDrift } from './drift.js';
import { driftReason } from './json.js';
import type { IntentStatus, PodIntent } from './model.js';

export function ownerText(owners: string[]): string {
  return owners.length === 0 ? 'none' : owners.join(', ');
}

/** `finding  [owner: ns/exp]` when the drift is reconciled; the finding alone otherwise. */
export function findingWithOwner(finding: string, index: number, drift: PodDrift | undefined): string {
  if (drift === undefined || drift.status !== 'reconciled') return finding;
  const f = drift.findings[index];
  return f && f.finding === finding ? `${finding}  [owner: ${ownerText(f.owners)}]` : finding;
}

export function ageText(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function intentSummary(status: IntentStatus, pod: PodIntent): string {
  const parts: string[] = [];
  if (pod.network) {
    const n = pod.network;
    parts.push(`PodNetworkChaos ${n.namespace}/${n.name}: ${plural(n.chains.length, 'chain')}, ${plural(n.ipsets.length, 'ipset')}, ${plural(n.tcs.length, 'tc')}` +
      `${n.generation !== null ? `, generation ${n.generation}${n.observedGeneration !== null ? ` (observed ${n.observedGeneration})` : ''}` : ''}` +
      `${n.failedMessage ? `, failed: ${n.failedMessage}` : ''}`);
  }
  if (pod.http) parts.push(`PodHttpChaos: ${plural(pod.http.rules.length, 'rule')}${pod.http.pid ? `, tproxy pid ${pod.http.pid}` : ''}`);
  if (pod.io) parts.push(`PodIOChaos: ${plural(pod.io.actions.length, 'action')}${pod.io.pid ? `, toda pid ${pod.io.pid}` : ''}`);
  for (const e of pod.experiments) {
    const injected = e.records.filter((r) => r.phase === 'Injected').length;
    parts.push(`${e.kind} ${e.namespace}/${e.name}${e.action ? ` (${e.action})` : ''}: ${injected}/${e.records.length} records Injected${e.desiredPhase ? `, desired ${e.desiredPhase}` : ''}${e.deleting ? ', being deleted' : ''}`);
  }
  // Owners named by the per-pod objects that are absent (those with records for the pod are listed above).
  for (const o of pod.owners) if (o.condition === 'absent') parts.push(`NetworkChaos ${o.ref}: absent`);
  for (const o of pod.httpOwners ?? []) if (o.condition === 'absent') parts.push(`HTTPChaos ${o.ref}: absent`);
  for (const o of pod.ioOwners ?? []) if (o.condition === 'absent') parts.push(`IOChaos ${o.ref}: absent`);
  if (status.state === 'unavailable') {
    // Never listed completely: "nothing for this pod" would read as Chaos Mesh intending nothing. Read in part (a
    // list cut at the cache's cap, some resources listed and others not), the part read is shown, or said to have
    // nothing for the pod; nothing listed, not read.
    const why = status.errors.join('; ') || 'no reason given';
    if (parts.length === 0 && status.readInPart !== true) return `intent (Kubernetes API): not read (${why})`;
    return `intent (Kubernetes API, read in part: ${why}): ${parts.length > 0 ? parts.join('; ') : 'none of the part read is for this pod'}`;
  }
  const age = status.syncAgeSeconds !== null && status.state !== 'synced' ? `, ${ageText(status.syncAgeSeconds)} old` : '';
  const head = `intent (Kubernetes API, ${status.state}${age})`;
  return parts.length === 0 ? `${head}: nothing for this pod` : `${head}: ${parts.join('; ')}`;
}

/** `drift: unknown (<reason>)`; the API's errors it rests on only when no intent line above gives them (an
 *  unavailable intent's line always does: intentSummary). */
export function driftUnknownLine(d: PodDrift, status: IntentStatus | undefined): string {
  const why = (status?.state === 'unavailable' ? d.reason : driftReason(d)) ?? 'no reason';
  return `drift: unknown (${why})`;
}

/** `6 leftover, 0 missing, 0 mismatch, 0 present`, then the other states when they have entries (`, 2 pending`). */
export function countsText(c: PodDrift['counts']): string {
  const extra = (['failed', 'pending', 'stale'] as const).filter((k) => c[k] > 0).map((k) => `, ${c[k]} ${k}`).join('');
  return `${c.leftover} leftover, ${c.missing} missing, ${c.mismatch} mismatch, ${c.present} present${extra}`;
}

export function entryLine(e: DriftEntry): string {
  const flags: string[] = [];
  if (e.kinds.length > 0) flags.push(e.kinds.join(','));
  if (e.state !== 'missing') flags.push(e.active ? 'active' : 'inert');
  if (e.ageSeconds !== undefined && e.ageSeconds !== null) flags.push(`seen ${ageText(e.ageSeconds)}`);
  return `${e.state.padEnd(8)} ${e.artefact} ${e.name}${e.where && e.artefact !== 'qdisc' ? ` (${e.where})` : ''}  owner: ${ownerText(e.owners)}` +
    `${flags.length ? `  [${flags.join(', ')}]` : ''}\n      ${e.detail}`;
}

/** inspect: the intent line and the drift section (entries not `present`; present ones counted). */
export function driftLines(r: PodReport): string[] {
  if (r.intent === undefined && r.drift === undefined) return [];
  const out: string[] = [];
  if (r.intent) out.push(`  ${intentSummary(r.intent.status, r.intent.pod)}`);
  const d = r.drift;
  if (!d) return out;
  if (d.status !== 'reconciled') {
    out.push(`  ${driftUnknownLine(d, r.intent?.status)}`);
    return out;
  }
  out.push(`  drift: ${countsText(d.counts)}`);
  for (const e of d.entries) if (e.state !== 'present') out.push(`    ${entryLine(e)}`);
  return out;
}
