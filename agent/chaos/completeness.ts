/**
 * A verdict may only claim what was read. When a source of the namespace read is incomplete (failed, or cut at its
 * cap), the state may hide chaos rules (a pod can spam rules to push its chaos chain past the cap): the verdict is
 * `unknown`, unless what was read already proves an active injection, which stays `active` (absence cannot be
 * proven from a partial read, presence can). Pure.
 */
import type { SourceStatus } from '../netns/state.js';
import type { ChaosReport } from './types.js';

/** How a truncated source was cut, by its reason: the byte or rule cap, the read's deadline, else only in part. */
const TRUNCATED: Record<string, string> = { output_limit: 'cut at its output cap', timeout: 'cut by the time budget' };

/**
 * Sentence for an incomplete source, e.g. `ipset cut at its output cap (output_limit: ...)`, `iptables-legacy-ipv4
 * cut by the time budget (timeout: ...)`, `ipset read in part (parse: ...)` (members it could not decode, a dump
 * interrupted by changes on every attempt), `tc not read (...)`.
 */
export function describeSource(s: SourceStatus): string {
  const what = s.status !== 'truncated' ? 'not read' : (TRUNCATED[s.reason ?? ''] ?? 'read in part');
  return `${s.source} ${what}${s.reason ? ` (${s.reason}${s.message ? `: ${s.message}` : ''})` : ''}`;
}

export function incompleteSources(sources: readonly SourceStatus[]): SourceStatus[] {
  return sources.filter((s) => s.status !== 'complete');
}

export function applyCompleteness(report: ChaosReport, sources: readonly SourceStatus[]): ChaosReport {
  const missing = incompleteSources(sources);
  if (missing.length === 0 || report.verdict === 'unknown') return report;
  const why = `incomplete read: ${missing.map(describeSource).join('; ')}`;
  if (report.verdict === 'active') {
    return { ...report, findings: [...report.findings, why], details: [...report.details, { kind: null, level: 'scaffolding', message: why }] };
  }
  return {
    verdict: 'unknown',
    kinds: [],
    findings: [`not inspected completely: ${missing.map(describeSource).join('; ')}`, ...report.findings],
    details: report.details,
  };
}
