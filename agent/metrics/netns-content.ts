/**
 * Whether a pod's series that describe its network namespace's content may be exported: a series saying "0
 * members" or "0 qdiscs" for a namespace nobody read would be read as a fact by a dashboard. So each such series is
 * exported only when the source it counts was read in the last collection (`complete`, or `truncated`: what was
 * read up to the cap, which chaos_daemon_pod_truncated flags), and is absent otherwise: the netns collector off or
 * not reached (no sources), the namespace unresolved, vanished, failed or past its time budget (its sources
 * `failed`), or a host-network pod whose summarised entry holds none of the node's namespace (reported once, as the
 * host entry). chaos_daemon_iptables_* need no test: their series come from the backends' dumps, which exist only
 * for backends that were read.
 */
import type { SourceName } from '../netns/state.js';
import type { PodReport } from '../snapshot.js';

/** Whether `source` of the pod's namespace was read (complete or cut at its cap) in the report's collection. */
export function sourceRead(report: Pick<PodReport, 'sources'>, source: SourceName): boolean {
  for (const s of report.sources) if (s.source === source) return s.status !== 'failed';
  return false;
}

/**
 * Whether the pod's namespace was read or its read was attempted: something was read or failed (sources), a
 * problem was met (errors: an unresolved namespace, the deadline), or the pod shares the node's namespace, read
 * once for the host entry. False only for a pod the netns collector never reached (off, or the collection aborted
 * before it ran): chaos_daemon_pod_errors is then absent, not 0.
 */
export function readAttempted(report: Pick<PodReport, 'sources' | 'errors' | 'hostNetwork'>): boolean {
  return report.sources.length > 0 || report.errors.length > 0 || report.hostNetwork === true;
}
