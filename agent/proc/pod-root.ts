/**
 * Paths inside a pod's root, read through `<proc-root>/<pid>/root` without following anything out of it.
 *
 * The kernel resolves `/proc/<pid>/root/a/b` inside the process's root only for the magic link itself: an absolute
 * symlink met further down resolves in the AGENT's root, and `..` is not clamped. So the path is walked here, one
 * component at a time, each step opening ONE name below an already-verified directory
 * (`/proc/self/fd/<dir fd>/<name>` with O_PATH|O_NOFOLLOW: nothing but that name is resolved, and a symlink is
 * opened as itself), which leaves no window for a pod to swap a directory for a symlink mid-walk:
 * - an absolute symlink is refused (`absolute-symlink`), as is a `..` above the root (`escape`);
 * - a relative symlink is spliced into the rest of the path, at most `maxHops` times (`too-many-links`: loops);
 * - `..` goes back to the previous directory fd (lexical over verified directories, hence exact);
 * - a component on a filesystem that can block (FUSE, NFS...: `blocking`, from the container's mountinfo) is not
 *   touched (`unsafe-mount`);
 * - every call races a deadline (`timeout`); a call still pending then is abandoned (an fd it opens later is closed).
 * The file read is the final O_PATH fd re-opened through /proc/self/fd (regular files only), capped at `maxBytes`.
 * With synchronous calls (the root reader's thread) a path is first looked up in ONE openat2 call below the root fd
 * that follows no symlink and cannot leave the root (beneath.ts): when it says the path is absent, so would the walk
 * (its names are then exactly the path's components, checked against the mounts that may block before the call);
 * any other answer (it exists, a symlink on the way, no openat2) is walked as above.
 *
 * Every refusal is a PodPathError: the pod's doing, counted on that pod, never an agent failure. A path that does
 * not exist is `null`, not an error.
 */
import { constants, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { PodPathError, errorMessage } from '../errors.js';
import { ASYNC_OPS, O_PATH, SYNC_OPS, type RootOps } from './root-ops.js';
import { Deadline, EXPIRED } from './async-read.js';
import { growCapped } from './read-capped.js';
import { probeBeneath } from './beneath.js';

export interface RootAccess {
  procRoot: string;
  /** A process whose root is the container's. */
  pid: number;
  /** Date.now() after which every call fails with `timeout`. */
  deadline: number;
  /** Symlinks followed at most (default 16). */
  maxHops?: number;
  /** Mount points (pod paths) on filesystems that may block: never walked into. */
  blocking?: readonly string[];
  /**
   * Synchronous calls (root-ops.ts SYNC_OPS): ONLY in the root reader's worker thread, whose watchdog bounds a call
   * that blocks; the deadline is then checked before each call. Default: thread-pool calls raced against it.
   */
  sync?: boolean;
  /**
   * An O_PATH fd of `<procRoot>/<pid>/root` the caller opened and closes (several walks of one container share it);
   * a walk never closes it. Default: each walk opens the root itself.
   */
  rootFd?: number;
}

export interface RootFile {
  /** The canonical path inside the pod (symlinks resolved). */
  podPath: string;
  text: string;
  /** Bytes read (at most maxBytes). */
  bytes: number;
  truncated: boolean;
}

const OPEN_NAME = O_PATH | constants.O_NOFOLLOW;

function absent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function underBlocking(podPath: string, blocking: readonly string[] | undefined): string | null {
  for (const m of blocking ?? []) {
    if (m === '/' || podPath === m || podPath.startsWith(`${m}/`)) return m;
  }
  return null;
}

/**
 * `podPath` relative to the root, for probeBeneath: only when the walk could answer `null` for it without meeting a
 * refusal the probe cannot see: no `..` (lexical over the fds: a probe cannot step back), no NUL (cut short by C), and
 * no prefix on a mount that may block (the walk refuses those before looking: `unsafe-mount`). The probe follows no
 * symlink, so the prefixes checked here are exactly the names it resolves. null when the walk must decide.
 */
function beneathPath(podPath: string, blocking: readonly string[] | undefined): string | null {
  if (podPath.includes('\0')) return null;
  // Loops, no inline callback: this runs twice per container per collection (README "V8 and per-call closures").
  const names: string[] = [];
  let prefix = '';
  for (const c of podPath.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') return null;
    names.push(c);
    prefix += `/${c}`;
    if (underBlocking(prefix, blocking) !== null) return null;
  }
  return names.length === 0 ? null : names.join('/');
}

interface Step {
  fd: number;
  /** null for a directory passed on the way (opened with O_DIRECTORY: no fstat needed). */
  stat: Stats | null;
}

/**
 * A walk in progress: the fds of the directories passed (the root first) and the names that lead to them, and ONE
 * deadline (async-read.ts Deadline: one timer) every call of the walk races against.
 */
class Walk {
  readonly dirs: Step[] = [];
  readonly names: string[] = [];
  private readonly deadline: Deadline;
  readonly ops: RootOps;
  constructor(readonly access: RootAccess, readonly podPath: string) {
    this.ops = access.sync ? SYNC_OPS : ASYNC_OPS;
    this.deadline = new Deadline(access.deadline);
  }

  /** ms left before the walk's deadline. */
  timeLeft(): number {
    return this.deadline.left;
  }

  get inPod(): string {
    return `/${this.names.join('/')}`;
  }

  /**
   * `op` started unless the walk's deadline has passed, and raced against it; a call still pending then is
   * abandoned (`onLate` closes what it opens). A synchronous op (SYNC_OPS) returns before the race: only the check
   * before it applies (its thread's watchdog bounds it).
   */
  async call<T>(op: () => T | Promise<T>, what: string, onLate?: (v: T) => void): Promise<T> {
    if (this.deadline.left <= 0) throw new PodPathError(this.podPath, 'timeout', `deadline reached during ${what}`);
    let r: T | typeof EXPIRED;
    let p: T | Promise<T> | undefined;
    try {
      p = op();
      if (!(p instanceof Promise)) return p;
      r = await this.deadline.race(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new PodPathError(this.podPath, 'vanished', `process ${this.access.pid} exited`, { cause: err });
      throw err;
    }
    if (r === EXPIRED) {
      p.then(onLate, (err: unknown) => void err);
      throw new PodPathError(this.podPath, 'timeout', `deadline reached during ${what}`);
    }
    return r;
  }

  /** Close without waiting for the result (root-ops.ts: never throws); never the caller's shared root fd. */
  closeFd = (fd: number | null | undefined): void => {
    if (fd !== this.access.rootFd) this.ops.close(fd);
  };

  /** One name, opened as itself (O_PATH|O_NOFOLLOW), with its fstat. */
  async openStep(path: string, what: string): Promise<Step> {
    const fd = await this.call(() => this.ops.open(path, OPEN_NAME), `open ${what}`, this.closeFd);
    try {
      return { fd, stat: await this.call(() => this.ops.fstat(fd), `fstat ${what}`) };
    } catch (err) {
      this.closeFd(fd);
      throw err;
    }
  }

  close(): void {
    this.deadline.clear();
    for (const d of this.dirs) this.closeFd(d.fd);
  }
}

/**
 * Walk `podPath` (absolute, as the pod sees it) inside the root of `access.pid`. Returns the final component's
 * O_PATH fd and fstat (the caller closes it), or null when the path does not exist.
 */
async function walk(w: Walk): Promise<(Step & { stat: Stats }) | null> {
  const { access, podPath } = w;
  const base = posix.join(access.procRoot, String(access.pid), 'root');
  if (access.rootFd !== undefined) w.dirs.push({ fd: access.rootFd, stat: null });
  else try {
    // The magic link itself is followed (into the pod's root); nothing after it is. O_DIRECTORY: no fstat needed.
    const fd = await w.call(() => w.ops.open(base, O_PATH | constants.O_DIRECTORY), 'open the root', w.closeFd);
    w.dirs.push({ fd, stat: null });
  } catch (err) {
    if (err instanceof PodPathError) throw err;
    if (absent(err)) throw new PodPathError(podPath, 'vanished', `process ${access.pid} exited`, { cause: err });
    throw new PodPathError(podPath, 'io', `cannot open the root of process ${access.pid}: ${errorMessage(err)}`, { cause: err });
  }
  // The common answer first (beneath.ts): one call says a symlink-free path is absent; anything else is walked.
  // Synchronous only (the root reader's thread), and only before the deadline, as every call of the walk; a deadline
  // already past leaves the walk to report it exactly as before.
  if (access.sync && w.timeLeft() > 0) {
    const rel = beneathPath(podPath, access.blocking);
    if (rel !== null && probeBeneath(w.dirs[0]!.fd, rel) === 'absent') return null;
  }
  const maxHops = access.maxHops ?? 16;
  const queue = podPath.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (w.names.length === 0) throw new PodPathError(podPath, 'escape', '`..` above the root');
      w.closeFd(w.dirs.pop()!.fd);
      w.names.pop();
      continue;
    }
    const inPod = posix.join(w.inPod, c);
    const blocked = underBlocking(inPod, access.blocking);
    if (blocked !== null) throw new PodPathError(podPath, 'unsafe-mount', `${inPod} is on a filesystem that may block (mount ${blocked})`);
    const dir = w.dirs[w.dirs.length - 1]!;
    const at = `/proc/self/fd/${dir.fd}/${c}`;
    const more = queue.some((q) => q !== '' && q !== '.');
    // ENOENT for this name either way (the open below returns null on it): skip the failing open when cheap to know.
    if (w.ops.missing(at)) return null;
    if (more) {
      // A name on the way: one open that succeeds only on a real directory (not a symlink to one).
      try {
        const fd = await w.call(() => w.ops.open(at, OPEN_NAME | constants.O_DIRECTORY), `open ${inPod}`, w.closeFd);
        w.dirs.push({ fd, stat: null });
        w.names.push(c);
        continue;
      } catch (err) {
        if (err instanceof PodPathError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return null;
        // ENOTDIR / ELOOP: a symlink, or a file used as a directory: the full step below tells which.
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw new PodPathError(podPath, 'io', `open ${inPod}: ${errorMessage(err)}`, { cause: err });
      }
    }
    let step: Step;
    try {
      step = await w.openStep(at, inPod);
    } catch (err) {
      if (err instanceof PodPathError) throw err;
      if (absent(err)) return null;
      throw new PodPathError(podPath, 'io', `open ${inPod}: ${errorMessage(err)}`, { cause: err });
    }
    if (step.stat!.isSymbolicLink()) {
      w.closeFd(step.fd);
      if (++hops > maxHops) throw new PodPathError(podPath, 'too-many-links', `more than ${maxHops} symlinks (a loop?)`);
      let target: string;
      try {
        // Only the last name is not followed by readlink: the directory part is the verified fd.
        target = await w.call(() => w.ops.readlink(at), `readlink ${inPod}`);
      } catch (err) {
        if (err instanceof PodPathError) throw err;
        if (absent(err)) return null;
        throw new PodPathError(podPath, 'io', `readlink ${inPod}: ${errorMessage(err)}`, { cause: err });
      }
      if (target.startsWith('/')) throw new PodPathError(podPath, 'absolute-symlink', `${inPod} -> ${target}: absolute symlink refused`);
      queue.unshift(...target.split('/'));
      continue;
    }
    if (more && !step.stat!.isDirectory()) {
      w.closeFd(step.fd);
      return null;
    }
    w.dirs.push(step);
    w.names.push(c);
  }
  // The final component is the last fd pushed: hand it over (the walk no longer closes it).
  const last = w.dirs.pop()!;
  if (last.stat === null) {
    // A directory reached by `..`, or the root itself: its facts are still needed.
    try {
      last.stat = await w.call(() => w.ops.fstat(last.fd), `fstat ${w.inPod}`);
    } catch (err) {
      w.closeFd(last.fd);
      if (err instanceof PodPathError) throw err;
      throw new PodPathError(podPath, 'io', `fstat ${w.inPod}: ${errorMessage(err)}`, { cause: err });
    }
  }
  return last as Step & { stat: Stats };
}

/** lstat-like facts of a path inside the pod's root (symlinks resolved inside the root), or null when absent. */
export async function statInRoot(access: RootAccess, podPath: string): Promise<{ podPath: string; stat: Stats } | null> {
  if (!podPath.startsWith('/')) throw new PodPathError(podPath, 'io', 'not an absolute path');
  const w = new Walk(access, podPath);
  try {
    const last = await walk(w);
    if (last === null) return null;
    w.closeFd(last.fd);
    return { podPath: w.inPod, stat: last.stat };
  } finally {
    w.close();
  }
}

/**
 * lstat of `names` in the directory `dirPath` inside the pod's root, after one walk to it: null for a name that
 * does not exist (a symlink is reported as one, not followed). null when the directory does not exist.
 */
export async function statEntriesInRoot(access: RootAccess, dirPath: string, names: readonly string[]): Promise<{ podPath: string; entries: Map<string, Stats | null> } | null> {
  if (!dirPath.startsWith('/')) throw new PodPathError(dirPath, 'io', 'not an absolute path');
  const w = new Walk(access, dirPath);
  let last: Step | null = null;
  try {
    last = await walk(w);
    if (last === null || !last.stat!.isDirectory()) return null;
    const entries = new Map<string, Stats | null>();
    for (const name of names) {
      if (name === '' || name.includes('/') || name === '.' || name === '..') throw new PodPathError(dirPath, 'io', `bad entry name ${JSON.stringify(name)}`);
      try {
        const at = `/proc/self/fd/${last.fd}/${name}`;
        entries.set(name, await w.call(() => w.ops.lstat(at), `lstat ${w.inPod}/${name}`));
      } catch (err) {
        if (err instanceof PodPathError) throw err;
        if (!absent(err)) throw new PodPathError(dirPath, 'io', `lstat ${w.inPod}/${name}: ${errorMessage(err)}`, { cause: err });
        entries.set(name, null);
      }
    }
    return { podPath: w.inPod, entries };
  } finally {
    w.closeFd(last?.fd);
    w.close();
  }
}

/** Read a regular file inside the pod's root, capped at maxBytes. null when it does not exist. */
export async function readInRoot(access: RootAccess, podPath: string, maxBytes: number): Promise<RootFile | null> {
  if (!podPath.startsWith('/')) throw new PodPathError(podPath, 'io', 'not an absolute path');
  const w = new Walk(access, podPath);
  let last: (Step & { stat: Stats }) | null = null;
  let file: number | null = null;
  try {
    last = await walk(w);
    if (last === null) return null;
    const where = w.inPod;
    if (!last.stat.isFile()) throw new PodPathError(podPath, 'not-regular', `${where} is not a regular file`);
    try {
      const at = `/proc/self/fd/${last.fd}`;
      file = await w.call(() => w.ops.open(at, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY), `reopen ${where}`, w.closeFd);
      // Sized by the file (plus one byte to see growth), grown up to the cap only if it grew.
      let buf = Buffer.allocUnsafe(Math.min(maxBytes, last.stat.size) + 1);
      let total = 0;
      for (;;) {
        const [fd, into, off] = [file, buf, total];
        const bytesRead = await w.call(() => w.ops.read(fd, into, off, into.length - off), `read ${where}`);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total === buf.length) {
          const bigger = growCapped(buf, maxBytes);
          if (bigger === null) break;
          buf = bigger;
        }
      }
      const truncated = total > maxBytes;
      const bytes = truncated ? maxBytes : total;
      return { podPath: where, text: buf.toString('utf8', 0, bytes), bytes, truncated };
    } catch (err) {
      if (err instanceof PodPathError) throw err;
      if (absent(err)) return null;
      throw new PodPathError(podPath, 'io', `reading ${where}: ${errorMessage(err)}`, { cause: err });
    }
  } finally {
    w.closeFd(file);
    w.closeFd(last?.fd);
    w.close();
  }
}
