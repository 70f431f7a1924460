/**
 * Which runtime endpoints to talk to: the explicit ones from the config (flags / CONTAINER_RUNTIME_ENDPOINT /
 * DOCKER_HOST, already folded in by config.ts), or, when none is given, the well-known sockets under the host
 * root that exist. Symlinks under the host root (e.g. /host/var/run -> /run) are resolved inside the host root,
 * never against the agent's own filesystem.
 */
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config.js';
import type { Endpoint, Protocol } from './types.js';

export interface WellKnownSocket {
  protocol: Protocol;
  /** Path on the host. */
  path: string;
  /** Runtime expected there. */
  expected: string;
}

/** In the order crictl tries them, then Docker. */
export const WELL_KNOWN_SOCKETS: readonly WellKnownSocket[] = [
  { protocol: 'cri', path: '/run/containerd/containerd.sock', expected: 'containerd' },
  { protocol: 'cri', path: '/run/k3s/containerd/containerd.sock', expected: 'k3s' },
  { protocol: 'cri', path: '/var/run/crio/crio.sock', expected: 'cri-o' },
  { protocol: 'cri', path: '/run/crio/crio.sock', expected: 'cri-o' },
  { protocol: 'cri', path: '/var/run/cri-dockerd.sock', expected: 'cri-dockerd' },
  { protocol: 'docker', path: '/var/run/docker.sock', expected: 'docker' },
];

/** An endpoint that was considered: explicit ones are always `found` (the client reports connection errors). */
export interface Candidate {
  endpoint: Endpoint;
  found: boolean;
  /** Why a discovered candidate is not used (no such file, not a socket...). */
  error: string | null;
}

const MAX_SYMLINKS = 40;

/**
 * Resolve `path` as if `root` were `/`: absolute symlink targets restart at `root`, `..` never climbs above
 * it. Components that do not exist are kept as they are (the caller's stat reports the error).
 */
export function resolveInRoot(root: string, path: string): string {
  const rootAbs = posix.resolve(root);
  const inside = (rel: string[]): string => posix.join(rootAbs, ...rel);
  let pending = path.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const comp = pending.shift()!;
    if (comp === '.') continue;
    if (comp === '..') {
      done.pop();
      continue;
    }
    const candidate = inside([...done, comp]);
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch (err) {
      // Missing component: nothing further to resolve; keep the rest literally for the error message.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES') throw err;
      return inside([...done, comp, ...pending.filter((c) => c !== '..')]);
    }
    if (!isLink) {
      done.push(comp);
      continue;
    }
    if (++links > MAX_SYMLINKS) return inside([...done, comp, ...pending]);
    const target = readlinkSync(candidate);
    const parts = target.split('/').filter((c) => c !== '' && c !== '.');
    if (target.startsWith('/')) done.length = 0;
    pending = [...parts, ...pending];
  }
  return inside(done);
}

/** Explicit endpoints in the order given, each URL once. */
function explicit(urls: string[], protocol: Protocol): Candidate[] {
  return [...new Set(urls)].map((url) => ({
    endpoint: { protocol, url, socketPath: url.slice('unix://'.length), source: 'flag' as const },
    found: true,
    error: null,
  }));
}

/** Every well-known socket under hostRoot, with whether it exists as a socket; one entry per distinct socket. */
export function discoverCandidates(hostRoot: string): Candidate[] {
  const out: Candidate[] = [];
  const seenPaths = new Set<string>();
  const seenInodes = new Set<string>();
  for (const w of WELL_KNOWN_SOCKETS) {
    const socketPath = resolveInRoot(hostRoot, w.path);
    if (seenPaths.has(socketPath)) continue;
    seenPaths.add(socketPath);
    const endpoint: Endpoint = { protocol: w.protocol, url: `unix://${w.path}`, socketPath, source: 'discovered', expected: w.expected };
    const where = socketPath === w.path ? w.path : `${w.path} (${socketPath})`;
    let error: string | null = null;
    try {
      const st = statSync(socketPath);
      if (!st.isSocket()) error = `${w.expected}: ${where} is not a socket`;
      else {
        const key = `${st.dev}:${st.ino}`;
        if (seenInodes.has(key)) continue;
        seenInodes.add(key);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      error = code === 'ENOENT' ? `${w.expected}: no socket at ${where}` : `${w.expected}: cannot stat ${where}: ${code}`;
    }
    out.push({ endpoint, found: error === null, error });
  }
  return out;
}

/** Every endpoint considered: the explicit ones, or every well-known candidate (found or not). */
export function endpointCandidates(cfg: Pick<Config, 'runtimeEndpoints' | 'dockerEndpoints' | 'hostRoot'>): Candidate[] {
  if (cfg.runtimeEndpoints.length > 0 || cfg.dockerEndpoints.length > 0) {
    return [...explicit(cfg.runtimeEndpoints, 'cri'), ...explicit(cfg.dockerEndpoints, 'docker')];
  }
  return discoverCandidates(cfg.hostRoot);
}

/** The endpoints to use: explicit ones as given (not prefixed with the host root), or the discovered sockets that exist. */
export function endpointsFromConfig(cfg: Pick<Config, 'runtimeEndpoints' | 'dockerEndpoints' | 'hostRoot'>): Endpoint[] {
  return endpointCandidates(cfg)
    .filter((c) => c.found)
    .map((c) => c.endpoint);
}
