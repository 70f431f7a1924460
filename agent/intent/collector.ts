/**
 * The `kube` collector: after the namespaces are read, every pod entry gets Chaos Mesh's intent and its drift
 * (attach.ts), and the collection the source's health (chaos_daemon_kube_*). It never waits for the API server:
 * `serve` hands it the informers' caches as they are; one-shot commands hand it the lists started with the
 * command (bounded by their own deadline, setup.ts). Its success (chaos_daemon_scrape_collector_success
 * {collector="kube"}) is whether the intent was in sync with the server.
 */
import type { Collector, CollectorOutcome } from '../collect/collector.js';
import type { Draft } from '../collect/draft.js';
import { attachIntent, type FirstSeen } from './attach.js';
import type { LifecycleLimits } from './lifecycle.js';
import type { IntentSource } from './source.js';

export interface KubeCollectorOptions {
  /** The source, or the one-shot lists' result (null: the source turned out off). */
  source: IntentSource | Promise<IntentSource | null>;
  /** First-seen times of injections (the exporter's InjectionTracker); absent (one-shot commands): leftovers have no age. */
  firstSeen?: FirstSeen;
  /** The lifecycle clocks (`serve`'s --intent-owner-grace, --intent-pending-limit); absent: lifecycle.ts's defaults. */
  lifecycle?: LifecycleLimits;
}

export function kubeCollector(opts: KubeCollectorOptions): Collector {
  return new KubeCollector(opts);
}

/** A class: its collect() is one function for the process's life, not a closure per collection (collect/netns.ts readGroup). */
class KubeCollector implements Collector {
  readonly name = 'kube';
  constructor(private readonly opts: KubeCollectorOptions) {}

  async collect(draft: Draft): Promise<CollectorOutcome> {
    const opts = this.opts;
    const source = await opts.source;
    if (source === null) return { success: false, error: 'Kubernetes API source off' };
    const view = source.view();
    const health = source.health();
    draft.kube = health;
    attachIntent(draft.reports.values(), view, opts.firstSeen, Date.now() / 1000, opts.lifecycle);
    if (health.up) return { success: true };
    return { success: false, error: view.status.errors.join('; ') || 'Kubernetes API not reachable' };
  }
}
