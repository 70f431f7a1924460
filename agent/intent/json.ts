/**
 * `chaos.intent` and `chaos.drift` of a pod entry (inspect --json, /debug/pods, diff --json), in a fixed key
 * order. Present only when the Kubernetes API source is on.
 */
import type { PodDrift } from './drift.js';
import type { IntentStatus, PodIntent } from './model.js';

export function intentJson(intent: { status: IntentStatus; pod: PodIntent }) {
  const p = intent.pod;
  return {
    status: intent.status.state,
    syncAgeSeconds: intent.status.syncAgeSeconds === null ? null : Math.round(intent.status.syncAgeSeconds * 1000) / 1000,
    errors: intent.status.errors,
    podNetworkChaos: p.network,
    podHttpChaos: p.http,
    podIoChaos: p.io,
    experiments: p.experiments,
  };
}

/** The drift's reason with the API's errors it rests on, in parentheses: `... not available (podnetworkchaos: ...; ...)`. */
export function driftReason(d: PodDrift): string | undefined {
  if (d.reason === undefined || d.reasonErrors === undefined || d.reasonErrors.length === 0) return d.reason;
  return `${d.reason} (${d.reasonErrors.join('; ')})`;
}

export function driftJson(d: PodDrift) {
  const reason = driftReason(d);
  return {
    status: d.status,
    ...(reason !== undefined ? { reason } : {}),
    counts: d.counts,
    entries: d.entries,
    findings: d.findings,
  };
}
