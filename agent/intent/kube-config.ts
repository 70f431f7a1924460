/**
 * Where the Kubernetes API credentials come from (`--kube auto|on|off`, `--kubeconfig PATH`), in this order:
 * --kubeconfig, then $KUBECONFIG (its first existing file), then in-cluster (KUBERNETES_SERVICE_HOST/PORT and the
 * service-account token file), then $HOME/.kube/config. `auto` turns the source on when one of them exists and
 * loads, and off otherwise (the agent then runs exactly as without the feature); `on` requires one (an error
 * otherwise); `off` never looks. The environment is passed in (never process.env), so tests and commands agree.
 * @kubernetes/client-node is imported only when a candidate exists (loading it costs ~0.9 s of CPU, which
 * commands without API access must not pay).
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { AgentError, errorMessage } from '../errors.js';

export type KubeMode = 'auto' | 'on' | 'off';

export const SERVICEACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeResolution =
  | { enabled: false; reason: string }
  | { enabled: true; kc: KubeConfig; from: string; server: string };

export interface ResolveOptions {
  mode: KubeMode;
  kubeconfig: string | null;
  env: NodeJS.ProcessEnv;
  /** Prefix of the service-account directory (tests); default ''. */
  serviceAccountRoot?: string;
}

/** Kubernetes credentials could not be loaded while `--kube on` requires them. */
export class KubeConfigError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KUBE_CONFIG', message, options);
  }
}

type KubeConfigClass = typeof import('@kubernetes/client-node').KubeConfig;

function fromFile(KubeConfig: KubeConfigClass, path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(readFileSync(path, 'utf8'));
  return kc;
}

function inCluster(KubeConfig: KubeConfigClass, env: NodeJS.ProcessEnv, root: string): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT!;
  const dir = `${root}${SERVICEACCOUNT_DIR}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'inCluster', server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, caFile: `${dir}/ca.crt`, skipTLSVerify: false }],
    // The tokenFile provider re-reads the projected token, which the kubelet rotates.
    users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } }],
    contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }],
    currentContext: 'inClusterContext',
  });
  return kc;
}

interface Candidate {
  from: string;
  load: (KubeConfig: KubeConfigClass) => KubeConfig;
}

function candidates(opts: ResolveOptions): Candidate[] {
  const out: Candidate[] = [];
  const env = opts.env;
  if (opts.kubeconfig !== null) return [{ from: `--kubeconfig ${opts.kubeconfig}`, load: (K) => fromFile(K, opts.kubeconfig!) }];
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const existing = listed.find((p) => existsSync(p));
  if (existing !== undefined) out.push({ from: `KUBECONFIG ${existing}`, load: (K) => fromFile(K, existing) });
  const root = opts.serviceAccountRoot ?? '';
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(`${root}${SERVICEACCOUNT_DIR}/token`)) {
    out.push({ from: 'in-cluster service account', load: (K) => inCluster(K, env, root) });
  }
  if (env.HOME) {
    const home = join(env.HOME, '.kube', 'config');
    if (existsSync(home)) out.push({ from: home, load: (K) => fromFile(K, home) });
  }
  return out;
}

const NO_CREDENTIALS = 'no Kubernetes credentials (no --kubeconfig, KUBECONFIG, in-cluster service account or ~/.kube/config)';

/**
 * Without loading anything: null when a credential candidate exists (the source may run), else why it is off.
 * Throws KubeConfigError for `on` without any candidate, so commands fail before doing any work.
 */
export function kubeOffReason(opts: ResolveOptions): string | null {
  if (opts.mode === 'off') return '--kube off';
  if (candidates(opts).length > 0) return null;
  if (opts.mode === 'on') throw new KubeConfigError(`--kube on: ${NO_CREDENTIALS}`);
  return NO_CREDENTIALS;
}

/** Decide whether the Kubernetes source runs and with which credentials. Throws KubeConfigError only for `on`. */
export async function resolveKube(opts: ResolveOptions): Promise<KubeResolution> {
  const off = kubeOffReason(opts);
  if (off !== null) return { enabled: false, reason: off };
  const { KubeConfig } = await import('@kubernetes/client-node');
  const failures: string[] = [];
  for (const c of candidates(opts)) {
    let kc: KubeConfig;
    try {
      kc = c.load(KubeConfig);
    } catch (err) {
      // The first line: a YAML error goes on with a drawing of the bad line, which would break the one-line message.
      failures.push(`${c.from}: ${errorMessage(err).split('\n', 1)[0]}`);
      continue;
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster?.server) {
      failures.push(`${c.from}: no current cluster with a server`);
      continue;
    }
    return { enabled: true, kc, from: c.from, server: cluster.server };
  }
  const why = `no usable Kubernetes credentials (${failures.join('; ')})`;
  if (opts.mode === 'on') throw new KubeConfigError(`--kube on: ${why}`);
  return { enabled: false, reason: why };
}
