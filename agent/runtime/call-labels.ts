/**
 * The `runtime` label of an endpoint, one for its chaos_daemon_runtime_up series and its
 * chaos_daemon_runtime_request_duration_seconds series alike.
 *
 * runtime_up labels an endpoint by its status: the runtime it says it is (Version's runtime_name, `docker`), the
 * one it last said while it is down (Inventory keeps it), else its protocol (`cri`, `docker`) for an endpoint never
 * up. A client labels its own calls with what it knows when it makes them: a CRI client's first Version call goes
 * out before anything is known (`unknown`, or the runtime a discovered path suggests), its later calls carry the
 * runtime's name, so one endpoint was split across two histogram series, and a CRI endpoint never up was `cri` in
 * one metric and `unknown` in the other. CallLabels relabels every call with the endpoint's status label: the calls
 * of a status probe are held until the probe's status is known (settle), then observed with its label; calls
 * between probes (listing pods, stats) take the label of the last probe.
 */
import type { CallObserver, RuntimeStatus } from './types.js';

/** The runtime label of a status: the runtime's own name, else the protocol (a down endpoint never said). */
export function runtimeLabel(status: Pick<RuntimeStatus, 'runtime' | 'protocol'>): string {
  return status.runtime ?? status.protocol;
}

type Call = Parameters<CallObserver>[0];

export class CallLabels {
  /** Endpoint URL -> its label as of its last settled probe. */
  private readonly labels = new Map<string, string>();
  /** Endpoint URL -> calls made while its status is being probed, observed once it is settled. */
  private readonly held = new Map<string, Call[]>();

  constructor(private readonly sink: CallObserver) {}

  /** The observer to give the runtime clients (one function for the instance's life). */
  readonly observe: CallObserver = (call) => {
    const held = this.held.get(call.endpoint);
    if (held !== undefined) {
      held.push(call);
      return;
    }
    const label = this.labels.get(call.endpoint);
    this.sink(label === undefined || label === call.runtime ? call : { ...call, runtime: label });
  };

  /** A status probe of `endpoint` starts: its calls are held until settle() or release(). */
  probing(endpoint: string): void {
    if (!this.held.has(endpoint)) this.held.set(endpoint, []);
  }

  /** The probe's status (with the runtime Inventory keeps for a down endpoint): the held calls observed with its label. */
  settle(status: Pick<RuntimeStatus, 'endpoint' | 'runtime' | 'protocol'>): void {
    this.labels.set(status.endpoint, runtimeLabel(status));
    this.release(status.endpoint);
  }

  /** The held calls of `endpoint` observed with its last label (their own when it has none): a probe that ended without a status. */
  release(endpoint: string): void {
    const held = this.held.get(endpoint);
    if (held === undefined) return;
    this.held.delete(endpoint);
    for (const call of held) this.observe(call);
  }
}
