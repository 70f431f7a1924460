/**
 * The /debug/pods body and the `inspect --json` document: `{"pods":[ENTRY...], "host": ENTRY|null,
 * "staleSandboxes": [...]}`, each entry in collect/report.ts's podReportJson shape (the same function for both, so
 * they stay identical), iptables rules capped per pod at --max-rules-per-pod (chaos chains first).
 */
import { podReportJson } from '../collect/report.js';
import type { PodReport, StaleSandbox } from '../snapshot.js';

export interface DocumentOptions {
  maxRulesPerPod?: number;
  host?: PodReport | null;
  stale?: readonly StaleSandbox[];
}

export function podsJson(reports: readonly PodReport[], opts: DocumentOptions = {}): string {
  const entry = (r: PodReport) => podReportJson(r, opts.maxRulesPerPod);
  const doc = {
    pods: reports.map(entry),
    ...(opts.host !== undefined ? { host: opts.host ? entry(opts.host) : null } : {}),
    ...(opts.stale !== undefined ? { staleSandboxes: opts.stale } : {}),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
