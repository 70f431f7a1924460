/**
 * The commands' entry to the Kubernetes API source: resolve `--kube` / `--kubeconfig` (kube-config.ts), then
 * informers for `serve`, or one parallel round of lists for one-shot commands. With the source off (`--kube off`,
 * or `auto` without credentials) nothing is loaded (not even @kubernetes/client-node) and the agent behaves
 * exactly as without this feature.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { kubeOffReason, resolveKube } from './kube-config.js';
import type { KubeCollectorOptions } from './collector.js';
import type { LifecycleLimits } from './lifecycle.js';
import type { IntentSource, KubeIntentSource } from './source.js';

/** How long a one-shot command waits for the lists (they run while the namespaces are read). */
export const ONE_SHOT_TIMEOUT_MS = 5_000;

type KubeFlags = Pick<Config, 'kube' | 'kubeconfig'>;

/** `serve`: informers, started; null when the source is off. Throws KubeConfigError for `--kube on` without credentials. */
export async function startKubeSource(cfg: KubeFlags, env: NodeJS.ProcessEnv, log: Logger): Promise<KubeIntentSource | null> {
  const r = await resolveKube({ mode: cfg.kube, kubeconfig: cfg.kubeconfig, env });
  if (!r.enabled) {
    log.debug({ kube: cfg.kube, reason: r.reason }, 'Kubernetes API source off');
    return null;
  }
  log.info({ kube: cfg.kube, from: r.from, server: r.server }, 'Kubernetes API source on: watching chaos-mesh.org resources');
  const { KubeIntentSource } = await import('./source.js');
  const source = new KubeIntentSource(r.kc, { from: r.from, server: r.server }, log);
  source.start();
  return source;
}

/** `serve`'s lifecycle clocks, from --intent-owner-grace and --intent-pending-limit (ms) in seconds. */
export function lifecycleLimits(cfg: Pick<Config, 'intentOwnerGraceMs' | 'intentPendingLimitMs'>): LifecycleLimits {
  return { ownerGraceSeconds: cfg.intentOwnerGraceMs / 1000, pendingLimitSeconds: cfg.intentPendingLimitMs / 1000 };
}

export interface OneShotIntent {
  /** The lists' result (null when the source is off). */
  source: IntentSource | null;
  /** Why the source is off (null when on). */
  off: string | null;
}

export interface PendingKube {
  /** Credentials exist: the kube collector should run (known at once, nothing loaded yet). */
  candidate: boolean;
  /** Resolution and lists, started now; to be awaited by the kube collector / after the collection. */
  result: Promise<OneShotIntent>;
}

/**
 * One-shot commands: start resolving and listing now, in parallel with the namespace reads. Throws KubeConfigError
 * at once for `--kube on` without any credentials; `result` rejects for `--kube on` with credentials that do not
 * load; otherwise it never rejects (an unreachable API makes the intent `unavailable`).
 */
export function beginKubeLists(cfg: KubeFlags, env: NodeJS.ProcessEnv, log: Logger, signal?: AbortSignal): PendingKube {
  const opts = { mode: cfg.kube, kubeconfig: cfg.kubeconfig, env };
  const off = kubeOffReason(opts);
  if (off !== null) {
    log.debug({ kube: cfg.kube, reason: off }, 'Kubernetes API source off');
    return { candidate: false, result: Promise.resolve({ source: null, off }) };
  }
  const result = (async (): Promise<OneShotIntent> => {
    const r = await resolveKube(opts);
    if (!r.enabled) return { source: null, off: r.reason };
    const { listIntent } = await import('./source.js');
    const source = await listIntent(r.kc, { from: r.from, server: r.server }, { timeoutMs: ONE_SHOT_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    return { source, off: null };
  })();
  // Handled here too: a command that fails before awaiting it must not die of an unhandled rejection.
  result.catch(() => undefined);
  return { candidate: true, result };
}

/**
 * The kube collector's options for a one-shot command (undefined when no credentials exist). When `result` rejects
 * (`--kube on` with credentials that do not load), the collector sees the source off: the rejection is the
 * command's to report, as it awaits `result` after the collection. A rejection left unhandled here would end the
 * process with a stack trace before the collection reaches the kube collector.
 */
export function oneShotKube(pending: PendingKube): KubeCollectorOptions | undefined {
  return pending.candidate ? { source: pending.result.then((r) => r.source, () => null) } : undefined;
}
