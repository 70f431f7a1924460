/**
 * The commands' entry to the Kubernetes API source: resolve `--kube` / `--kubeconfig` (kube-config.ts), then
 * informers for `serve`, or one parallel round of lists for one-shot commands. With the source off (`--kube off`,
 * or `auto` without credentials) both return null and the agent behaves exactly as without this feature.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { resolveKube } from './kube-config.js';
import { KubeIntentSource, listIntent, type IntentSource } from './source.js';

/** How long a one-shot command waits for the lists (they run while the namespaces are read). */
export const ONE_SHOT_TIMEOUT_MS = 5_000;

type KubeFlags = Pick<Config, 'kube' | 'kubeconfig'>;

/** `serve`: informers, started; null when the source is off. Throws KubeConfigError for `--kube on` without credentials. */
export function startKubeSource(cfg: KubeFlags, env: NodeJS.ProcessEnv, log: Logger): KubeIntentSource | null {
  const r = resolveKube({ mode: cfg.kube, kubeconfig: cfg.kubeconfig, env });
  if (!r.enabled) {
    log.info({ kube: cfg.kube, reason: r.reason }, 'Kubernetes API source off');
    return null;
  }
  log.info({ kube: cfg.kube, from: r.from, server: r.server }, 'Kubernetes API source on: watching chaos-mesh.org resources');
  const source = new KubeIntentSource(r.kc, { from: r.from, server: r.server }, log);
  source.start();
  return source;
}

export interface PendingIntent {
  /** Why the source is off (null when on). */
  off: string | null;
  /** The lists' result, to be awaited after the collection (null when off); never rejects. */
  intent: Promise<IntentSource | null>;
}

/** One-shot commands: start the lists now. Throws KubeConfigError at once for `--kube on` without credentials. */
export function beginKubeLists(cfg: KubeFlags, env: NodeJS.ProcessEnv, log: Logger, signal?: AbortSignal): PendingIntent {
  const r = resolveKube({ mode: cfg.kube, kubeconfig: cfg.kubeconfig, env });
  if (!r.enabled) {
    log.debug({ kube: cfg.kube, reason: r.reason }, 'Kubernetes API source off');
    return { off: r.reason, intent: Promise.resolve(null) };
  }
  return { off: null, intent: listIntent(r.kc, { from: r.from, server: r.server }, { timeoutMs: ONE_SHOT_TIMEOUT_MS, ...(signal ? { signal } : {}) }) };
}
