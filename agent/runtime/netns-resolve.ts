/**
 * Validation of what runtimes report (IDs, PIDs, paths) before it touches the filesystem, and resolution of a
 * PID or a netns path to a NetnsRef identified by inode. Shared by every runtime client.
 */
import { readlinkSync, statSync, type Stats } from 'node:fs';
import { stat, statfs } from 'node:fs/promises';
import { posix } from 'node:path';
import { ValidationError, errorMessage } from '../errors.js';
import { notNamespaceFile } from '../netns/ns-file.js';
import { parseNsLink } from '../proc/proc-files.js';
import { resolveInRoot } from './detect.js';
import type { NetnsRef } from './types.js';

/** Linux PID_MAX_LIMIT (2^22). */
const PID_MAX = 4_194_304;
/** Container/sandbox IDs: containerd, CRI-O and Docker use 64 hex chars; accept any conservative token. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validateId(what: string, id: unknown): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new ValidationError(`${what}: invalid id ${JSON.stringify(String(id)).slice(0, 80)}`);
  }
  return id;
}

/** A PID from a runtime: a positive integer within the kernel's limit; 0 or absent means "not running". */
export function validatePid(what: string, pid: unknown): number {
  const n = typeof pid === 'string' && /^\d+$/.test(pid) ? Number(pid) : pid;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > PID_MAX) {
    throw new ValidationError(`${what}: invalid pid ${JSON.stringify(pid)}`);
  }
  return n;
}

/**
 * A netns path reported by a runtime (e.g. /var/run/netns/cni-<uuid>): must be absolute, normalised, free of
 * NULs and `..`, and is then placed under the host root (`/host` in the DaemonSet). Symlinks on the way (a host
 * whose /var/run -> /run) are resolved inside the host root, as endpoint discovery does, never against the
 * agent's own filesystem.
 */
/**
 * The shared shape check of every path that reaches the filesystem or nsenter: 'invalid' when not a string of
 * 1-4096 characters, 'unsafe' when not absolute, holding a character of `forbidden`, or a `..` component.
 */
export function pathProblem(p: unknown, forbidden: RegExp): 'invalid' | 'unsafe' | null {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096) return 'invalid';
  if (!p.startsWith('/') || forbidden.test(p) || p.split('/').includes('..')) return 'unsafe';
  return null;
}

export function hostPath(hostRoot: string, reported: unknown): string {
  const problem = pathProblem(reported, /\0/);
  if (problem === 'invalid') throw new ValidationError(`invalid path ${JSON.stringify(reported)}`);
  if (problem === 'unsafe') throw new ValidationError(`unsafe path ${JSON.stringify((reported as string).slice(0, 200))}`);
  const normal = posix.normalize(reported as string);
  if (hostRoot === '/') return normal;
  try {
    return resolveInRoot(hostRoot, normal);
  } catch (err) {
    throw new ValidationError(`cannot resolve ${JSON.stringify(normal.slice(0, 200))} under ${hostRoot}: ${errorMessage(err)}`, { cause: err });
  }
}

export function procNetnsPath(procRoot: string, pid: number): string {
  return posix.join(procRoot, String(pid), 'ns', 'net');
}

/**
 * st_ino of a netns file (stat follows /proc/<pid>/ns/net to the nsfs inode). Only a namespace file is accepted (a
 * regular file on nsfs, ns-file.ts): a path a runtime reports could name a FIFO, which an open would wait on forever,
 * or any other file. Neither stat nor statfs opens the file. The readers check the fd they open again.
 */
export async function netnsInode(path: string): Promise<number> {
  let st: Stats;
  let fsType = 0;
  try {
    st = await stat(path, { bigint: false });
    if (st.isFile()) fsType = (await statfs(path)).type;
  } catch (err) {
    throw new ValidationError(`cannot stat netns ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
    });
  }
  const why = notNamespaceFile(st, fsType);
  if (why !== null) throw new ValidationError(`netns ${path}: ${why}`);
  return st.ino;
}

/** The inode in a namespace link's target text `net:[<inode>]`, or null when the text is not that (proc-files.ts parseNsLink). */
function nsLinkInode(target: string): number | null {
  return parseNsLink(target, 'net');
}

/**
 * statSync(path).ino (same value, same error), for re-checking a cached netns every collection. With `procLink`
 * (the path is <procRoot>/<pid>/ns/net, a procfs namespace link) the link's target text is read instead: procfs
 * makes it `net:[<inode>]` from the namespace's inode number, which is the st_ino a stat through the link returns
 * (the kernel's ns_get_name prints ns->inum, the nsfs inode's i_ino). That skips the Stats object (~0.9 KB with
 * its four Dates on Node 20) per pod per collection. Anything else (not that text, a readlink failure) is stat'ed.
 */
export function netnsInodeSync(path: string, procLink: boolean): number {
  if (procLink) {
    let target: string | null = null;
    try {
      target = readlinkSync(path);
    } catch (err) {
      // Gone, or not a link after all: the stat below gives the answer (or the error) a stat always gave.
      void err;
    }
    const inode = target === null ? null : nsLinkInode(target);
    if (inode !== null) return inode;
  }
  return statSync(path).ino;
}

/**
 * Inode of the host's network namespace, from /proc/1/ns/net. Null when it cannot be read (on some machines
 * PID 1's namespaces are not readable even by root): callers then rely on the runtime's NamespaceMode NODE.
 */
export async function hostNetnsInode(procRoot: string): Promise<number | null> {
  try {
    return (await stat(procNetnsPath(procRoot, 1))).ino;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT') return null;
    throw new ValidationError(`cannot stat host netns: ${code ?? String(err)}`, { cause: err });
  }
}

/**
 * Resolve a sandbox's netns: prefer the PID (its /proc/<pid>/ns/net always reflects the live namespace), then
 * a reported netns path (CRI-O with a dropped infra container has only that). Throws ValidationError with the
 * reason when neither works.
 */
export async function resolveNetns(
  source: { pid: number | null; netnsPath: string | null },
  opts: { procRoot: string; hostRoot: string },
): Promise<NetnsRef> {
  const tried: string[] = [];
  if (source.pid !== null) {
    const path = procNetnsPath(opts.procRoot, source.pid);
    try {
      return { inode: await netnsInode(path), path };
    } catch (err) {
      tried.push((err as Error).message);
    }
  }
  if (source.netnsPath !== null) {
    const path = hostPath(opts.hostRoot, source.netnsPath);
    try {
      return { inode: await netnsInode(path), path };
    } catch (err) {
      tried.push((err as Error).message);
    }
  }
  throw new ValidationError(tried.length ? tried.join('; ') : 'runtime reported neither a pid nor a netns path');
}
