/**
 * The Kubernetes API source of intent, read-only and never in the collection's way:
 * - `serve`: one informer per resource (resources.ts), started once; every collection takes `view()` of the
 *   caches as they are, without waiting (a slow or gone API server leaves the last caches, marked stale);
 * - one-shot commands (`inspect`, `diff`, `metrics`): `listIntent()` lists every resource once (NetworkChaos after
 *   PodNetworkChaos, HTTPChaos after PodHttpChaos, IOChaos after PodIOChaos), in parallel with the node
 *   collection, under one deadline; a failure makes the intent `unavailable`, never the command fail.
 * `health()` feeds chaos_daemon_kube_up (every resource listed and watched now) and
 * chaos_daemon_kube_sync_age_seconds (since the caches were last known to match the server).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { ResourceInformer, type InformerStatus, type KubeSourceSettings } from './informer.js';

export type { KubeSourceSettings };
import { listAll } from './list.js';
import type { IntentStatus } from './model.js';
import { SinceTracker } from './owners.js';
import { RESOURCES, type Normalised, type ResourceSpec } from './resources.js';
import { cachesFrom, IntentView } from './view.js';

export const KUBE_DEFAULTS: KubeSourceSettings = {
  maxObjects: 5_000,
  pageSize: 500,
  requestTimeoutMs: 10_000,
  watchTimeoutSeconds: 300,
  resyncMs: 10 * 60_000,
  backoffMs: { initial: 500, max: 30_000 },
};

export interface KubeHealth {
  /** Every resource listed and its watch open (one-shot: every list answered). */
  up: boolean;
  /** Seconds since the caches were last known to match the server; null before the first complete list. */
  syncAgeSeconds: number | null;
  resources: InformerStatus[];
  /** Where the credentials came from and the server, for logs and `inspect`. */
  from: string;
  server: string;
}

/** What a collection reads: the view of the intent, and the source's health. */
export interface IntentSource {
  view(): IntentView;
  health(): KubeHealth;
}

function statusFrom(resources: InformerStatus[], now: number): IntentStatus & { up: boolean } {
  const up = resources.every((r) => r.connected);
  const synced = resources.every((r) => r.synced && r.lastSyncAt !== null);
  // A connected watch matches the server now: its age is 0 exactly, not the time between the informers' clocks and ours.
  const oldest = synced ? Math.min(...resources.map((r) => (r.connected ? now : r.lastSyncAt!))) : null;
  const errors = resources.filter((r) => r.lastError !== null).map((r) => (r.lastError!.startsWith(`${r.resource}:`) ? r.lastError! : `${r.resource}: ${r.lastError}`));
  const truncated = resources.filter((r) => r.truncated);
  // A truncated cache is full: it holds exactly the cap's worth of objects.
  for (const r of truncated) errors.push(`${r.resource}: more objects than the cache keeps (${r.objects})`);
  // A truncated cache cannot say that nothing intends an artefact: no drift is claimed from it.
  const state = !synced || truncated.length > 0 ? 'unavailable' : up ? 'synced' : 'stale';
  return {
    up,
    state,
    syncAgeSeconds: oldest === null ? null : Math.max(0, (now - oldest) / 1000),
    errors,
    // A list cut at the cap was read up to it; a resource listed beside others that were not, read in full.
    ...(state === 'unavailable' ? { readInPart: resources.some((r) => r.synced) } : {}),
  };
}

/** `serve`: informers on every resource. */
export class KubeIntentSource implements IntentSource {
  private readonly informers: ResourceInformer[];
  /** Since when owners (NetworkChaos, HTTPChaos, IOChaos) have been absent / deleting / stopped and PodNetworkChaos
   *  objects pending (owners.ts). */
  private readonly conditions = new SinceTracker();

  constructor(
    private readonly kc: KubeConfig,
    private readonly meta: { from: string; server: string },
    log: Logger,
    settings: KubeSourceSettings = KUBE_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {
    this.informers = RESOURCES.map((resource) => new ResourceInformer({ kc, resource, log, now, ...settings }));
  }

  start(): void {
    for (const i of this.informers) i.start();
  }

  stop(): Promise<void> {
    return Promise.all(this.informers.map((i) => i.stop())).then(() => undefined);
  }

  view(): IntentView {
    const resources = this.informers.map((i) => i.status());
    const now = this.now() / 1000;
    const { up: _up, ...status } = statusFrom(resources, this.now());
    const caches = cachesFrom(this.informers.flatMap((i) => i.objects()));
    // Conditions start their clock only in a synced view: one informer behind another (a watch re-opening, a
    // relist) must not make an owner look absent. A stale view keeps the clocks as they were; a condition it shows
    // for the first time counts from now, i.e. is not yet past any grace.
    const view = new IntentView(caches, status, (key) => this.conditions.since(key) ?? now);
    if (status.state === 'synced') this.conditions.observe(view.conditionKeys(), now);
    return view;
  }

  health(): KubeHealth {
    const resources = this.informers.map((i) => i.status());
    const s = statusFrom(resources, this.now());
    return { up: s.up, syncAgeSeconds: s.syncAgeSeconds, resources, ...this.meta };
  }

  get kubeConfig(): KubeConfig {
    return this.kc;
  }
}

/** The experiment kinds one-shot commands list only once the per-pod objects naming them are listed. */
const LISTED_AFTER: Readonly<Record<string, string>> = { networkchaos: 'podnetworkchaos', httpchaos: 'podhttpchaos', iochaos: 'podiochaos' };

/** One-shot commands: list every resource once (in parallel, each owner kind after its per-pod objects; one overall deadline). Never throws. */
export async function listIntent(
  kc: KubeConfig,
  meta: { from: string; server: string },
  opts: { timeoutMs: number; settings?: KubeSourceSettings; signal?: AbortSignal },
): Promise<IntentSource> {
  const settings = opts.settings ?? KUBE_DEFAULTS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  const onAbort = (): void => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const listOne = async (resource: ResourceSpec): Promise<{ status: InformerStatus; objects: Normalised[] }> => {
      const base = { resource: resource.plural, connected: false, lists: 1, watches: 0 };
      try {
        const r = await listAll(kc, resource, { pageSize: settings.pageSize, maxObjects: settings.maxObjects, requestTimeoutMs: opts.timeoutMs, signal: controller.signal });
        return {
          status: { ...base, synced: true, connected: true, lastSyncAt: Date.now(), objects: r.objects.size, truncated: r.truncated, skipped: r.skipped, lastError: null, failures: 0 },
          objects: [...r.objects.values()],
        };
      } catch (err) {
        const why = controller.signal.aborted ? `no answer within ${opts.timeoutMs} ms` : errorMessage(err);
        return { status: { ...base, synced: false, lastSyncAt: null, objects: 0, truncated: false, skipped: 0, lastError: why, failures: 1 }, objects: [] };
      }
    };
    // NetworkChaos is listed after PodNetworkChaos has been (HTTPChaos after PodHttpChaos, IOChaos after
    // PodIOChaos): an entry's owner created before the entry (as Chaos Mesh does) is then in the later list unless
    // it was deleted in between, so an absent owner is not list lag. Without memory of earlier lists, owner
    // conditions have no since-time (null) and are taken as they are.
    const started = new Map<string, Promise<{ status: InformerStatus; objects: Normalised[] }>>();
    for (const r of RESOURCES) if (!(r.plural in LISTED_AFTER)) started.set(r.plural, listOne(r));
    const after = (r: ResourceSpec): Promise<unknown> => started.get(LISTED_AFTER[r.plural] ?? '') ?? Promise.resolve();
    const results = await Promise.all(RESOURCES.map((r) => started.get(r.plural) ?? after(r).then(() => listOne(r))));
    const resources = results.map((r) => r.status);
    const s = statusFrom(resources, Date.now());
    const { up: _up, ...status } = s;
    const view = new IntentView(cachesFrom(results.flatMap((r) => r.objects)), status);
    const health: KubeHealth = { up: s.up, syncAgeSeconds: s.syncAgeSeconds, resources, ...meta };
    return { view: () => view, health: () => health };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
