/**
 * Container runtimes: chaos_daemon_runtime_up, chaos_daemon_runtime_info, chaos_daemon_pods,
 * chaos_daemon_containers (fresh per collection) and the long-lived
 * chaos_daemon_runtime_request_duration_seconds histogram fed by every CRI/Docker call.
 */
import { Histogram, type Registry } from 'prom-client';
import { runtimeLabel } from '../runtime/call-labels.js';
import type { CallObserver, ContainerState, SandboxState } from '../runtime/types.js';
import type { Snapshot } from '../snapshot.js';
import { CACHED, gauge, type CollectionFamilies } from './families.js';

/** 1 ms .. 10 s: CRI calls take milliseconds, the per-call deadline defaults to 2 s. */
export const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const SANDBOX_STATES: Record<SandboxState, string> = { SANDBOX_READY: 'ready', SANDBOX_NOTREADY: 'notready' };
const CONTAINER_STATES: Record<ContainerState, string> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
  CONTAINER_UNKNOWN: 'unknown',
};

/** One more pod or container of `runtime` in `state` (module level: see chaos/processes.ts on per-call closures). */
function bump(m: Map<string, Map<string, number>>, runtime: string, state: string): void {
  const byState = m.get(runtime);
  if (byState) byState.set(state, (byState.get(state) ?? 0) + 1);
}

export function registerRuntimeMetrics(registry: CollectionFamilies, snapshot: Snapshot): void {
  const up = gauge(registry, 'chaos_daemon_runtime_up',
    `1 if the runtime endpoint answered its version probe in the last collection, else 0 ${CACHED}`, ['runtime', 'endpoint']);
  const info = gauge(registry, 'chaos_daemon_runtime_info',
    `Version of each runtime that is up (value always 1) ${CACHED}`, ['runtime', 'endpoint', 'version', 'api_version']);
  const pods = gauge(registry, 'chaos_daemon_pods', `Pod sandboxes by runtime and state ${CACHED}`, ['runtime', 'state']);
  const containers = gauge(registry, 'chaos_daemon_containers', `Containers by runtime and state ${CACHED}`, ['runtime', 'state']);

  const podCounts = new Map<string, Map<string, number>>();
  const containerCounts = new Map<string, Map<string, number>>();
  const seenEndpoints = new Set<string>();
  for (const status of snapshot.runtimes) {
    if (seenEndpoints.has(status.endpoint)) continue;
    seenEndpoints.add(status.endpoint);
    const runtime = runtimeLabel(status);
    up.set([runtime, status.endpoint], status.up ? 1 : 0);
    if (!status.up) continue;
    info.set([runtime, status.endpoint, status.version ?? '', status.apiVersion ?? ''], 1);
    if (!podCounts.has(runtime)) {
      podCounts.set(runtime, new Map(Object.values(SANDBOX_STATES).map((s) => [s, 0])));
      containerCounts.set(runtime, new Map(Object.values(CONTAINER_STATES).map((s) => [s, 0])));
    }
  }
  for (const report of snapshot.pods) {
    const pod = report.pod;
    if (!pod) continue;
    if (!podCounts.has(pod.runtime)) {
      podCounts.set(pod.runtime, new Map());
      containerCounts.set(pod.runtime, new Map());
    }
    bump(podCounts, pod.runtime, SANDBOX_STATES[pod.state] ?? 'unknown');
    for (const c of pod.containers) bump(containerCounts, pod.runtime, CONTAINER_STATES[c.state] ?? 'unknown');
  }
  for (const [runtime, byState] of podCounts) for (const [state, n] of byState) pods.set([runtime, state], n);
  for (const [runtime, byState] of containerCounts) for (const [state, n] of byState) containers.set([runtime, state], n);
}

/**
 * Bounded method label: the query string is dropped and path segments that are IDs (Docker's
 * /containers/<id>/json) become {id} and the API version prefix (/v1.41) is dropped, so the histogram's cardinality does not grow with containers.
 */
export function methodLabel(method: string): string {
  const path = method.split('?')[0] ?? '';
  return path
    .split('/')
    .map((seg) => (/^v\d+\.\d+$/.test(seg) ? '' : /^[0-9a-f]{12,}$/i.test(seg) ? '{id}' : seg))
    .filter((seg, i) => seg !== '' || i === 0)
    .join('/')
    .slice(0, 120);
}

/** The long-lived request histogram and the CallObserver that feeds it. */
export function runtimeRequestHistogram(registry: Registry): { histogram: Histogram<'runtime' | 'method' | 'code'>; observe: CallObserver } {
  const histogram = new Histogram({
    name: 'chaos_daemon_runtime_request_duration_seconds',
    help: 'Duration of every CRI / Docker Engine API request the agent made, by runtime (the endpoint\'s label in chaos_daemon_runtime_up), method (RPC or HTTP path) and result code (gRPC code name; the HTTP status of a Docker answer, UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED for a Docker request without one)',
    labelNames: ['runtime', 'method', 'code'],
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const observe: CallObserver = (call) => {
    histogram.observe({ runtime: call.runtime, method: methodLabel(call.method), code: call.code }, call.seconds);
  };
  return { histogram, observe };
}
