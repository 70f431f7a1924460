/**
 * Where the agent's own cgroup namespace is rooted in the host's cgroup hierarchy. On cgroup v2 a Kubernetes
 * container (the agent's DaemonSet pod included) gets a cgroup namespace of its own, rooted at its own cgroup; every
 * other container's /proc/<pid>/cgroup then reads `/../../<rest>` (relative to that root), which cannot be located
 * under the host's cgroup mount without knowing the root. Found here by identity, not by name: the agent's own view
 * of the hierarchy (`ownDir`: its /sys/fs/cgroup, which the runtime mounts rooted at the namespace's root) is the
 * same kernfs directory as one directory under the host's mount (`hostDir`: --host-root's /sys/fs/cgroup); the
 * directory with the same device and inode is the root. An inode names one cgroup for as long as it exists, and the
 * agent's own cgroup exists as long as the agent runs, so the answer is checked with one stat per collection and
 * searched again only when that check fails.
 *
 * Only once a path proved the namespace private (the kernel shows `/../` only to a reader in a namespace of its
 * own: cgroup-stats.ts): without one, paths are already the host's, and the agent's view of a v1 hierarchy can be a
 * bind mount of its own cgroup that a search would wrongly take for a namespace root.
 *
 * The search walks the host's hierarchy breadth-first (readdir + stat per cgroup; ~500 cgroups at 110 pods), bounded
 * by `maxDirs`; a failed one is not tried again for `retryMs`.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';

export type NamespaceRoot = { ok: true; rel: string } | { ok: false; reason: string };
/** A search's answer: also the identity (`dev:ino`) it matched, which the cache checks later. */
export type FoundRoot = { ok: true; rel: string; id: string } | { ok: false; reason: string };

/** Cgroups looked at, at most, by one search. */
export const MAX_SEARCH_DIRS = 20_000;

function identity(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

/** The directory under `hostDir` that is `ownDir` (relative path, '' for `hostDir` itself), searched breadth-first. */
export function findNamespaceRoot(hostDir: string, ownDir: string, maxDirs = MAX_SEARCH_DIRS): FoundRoot {
  let want: string;
  try {
    want = identity(ownDir);
  } catch (err) {
    return { ok: false, reason: `the agent's own cgroup view ${ownDir} is unreadable: ${errorMessage(err)}` };
  }
  const queue = [''];
  let seen = 0;
  for (let head = 0; head < queue.length; head++) {
    const rel = queue[head]!;
    const abs = rel === '' ? hostDir : join(hostDir, rel);
    try {
      if (identity(abs) === want) return { ok: true, rel, id: want };
      for (const e of readdirSync(abs, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        if (++seen > maxDirs) return { ok: false, reason: `the agent's cgroup is not among the first ${maxDirs} cgroups of ${hostDir}` };
        queue.push(rel === '' ? e.name : `${rel}/${e.name}`);
      }
    } catch (err) {
      if (rel === '') return { ok: false, reason: `${hostDir} is unreadable: ${errorMessage(err)}` };
      void err; // a cgroup removed during the walk (ENOENT) is not the agent's: the walk goes on
    }
  }
  return { ok: false, reason: `the agent's cgroup (${ownDir}) is not under ${hostDir}` };
}

/** One hierarchy's namespace root, kept between collections and checked with one stat each time. */
export class NamespaceRootCache {
  private found: { rel: string; id: string } | null = null;
  private failed: { at: number; reason: string } | null = null;
  /** Searches run (tests). */
  searches = 0;

  constructor(private readonly hostDir: string, private readonly ownDir: string, private readonly opts: { maxDirs?: number; retryMs?: number } = {}) {}

  /** The root, from the last search when still the same directory, else searched again (not within retryMs of a failed one). */
  get(now = performance.now()): NamespaceRoot {
    if (this.failed !== null && now - this.failed.at < (this.opts.retryMs ?? 300_000)) return { ok: false, reason: this.failed.reason };
    if (this.found !== null) {
      try {
        const id = identity(this.found.rel === '' ? this.hostDir : join(this.hostDir, this.found.rel));
        if (id === this.found.id && identity(this.ownDir) === id) return { ok: true, rel: this.found.rel };
      } catch (err) {
        void err; // gone or unreadable: searched again below, which says why if it fails
      }
      this.found = null;
    }
    this.searches++;
    const r = findNamespaceRoot(this.hostDir, this.ownDir, this.opts.maxDirs ?? MAX_SEARCH_DIRS);
    if (!r.ok) {
      this.failed = { at: now, reason: r.reason };
      return r;
    }
    this.found = { rel: r.rel, id: r.id };
    this.failed = null;
    return { ok: true, rel: r.rel };
  }
}
