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
 *
 * Every refusal is a PodPathError: the pod's doing, counted on that pod, never an agent failure. A path that does
 * not exist is `null`, not an error.
 */
import { constants, type Stats } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { PodPathError, errorMessage } from '../errors.js';

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
}

export interface RootFile {
  /** The canonical path inside the pod (symlinks resolved). */
  podPath: string;
  text: string;
  /** Bytes read (at most maxBytes). */
  bytes: number;
  truncated: boolean;
}

const O_PATH = 0o10000000;
const OPEN_NAME = O_PATH | constants.O_NOFOLLOW;

function absent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

const closeQuietly = (fh: FileHandle | null | undefined): Promise<void> =>
  // Closing an O_PATH or read-only fd cannot lose data; a failure here has nothing left to report to.
  fh ? fh.close().catch((err: unknown) => void err) : Promise.resolve();

/** `p` raced against the deadline; a late result is handed to `onLate` (to close what it opened). */
async function bounded<T>(p: Promise<T>, access: RootAccess, podPath: string, what: string, onLate?: (v: T) => void): Promise<T> {
  const left = access.deadline - Date.now();
  const abandon = (): void => {
    p.then(onLate, (err: unknown) => void err);
  };
  if (left <= 0) {
    abandon();
    throw new PodPathError(podPath, 'timeout', `deadline passed before ${what}`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abandon();
      reject(new PodPathError(podPath, 'timeout', `${what} took longer than ${left} ms`));
    }, left);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function underBlocking(podPath: string, blocking: readonly string[] | undefined): string | null {
  for (const m of blocking ?? []) {
    if (m === '/' || podPath === m || podPath.startsWith(`${m}/`)) return m;
  }
  return null;
}

interface Step {
  fh: FileHandle;
  stat: Stats;
}

/** A walk in progress: the fds of the directories passed (the root first) and the names that lead to them. */
class Walk {
  readonly dirs: Step[] = [];
  readonly names: string[] = [];
  constructor(readonly access: RootAccess, readonly podPath: string) {}

  get inPod(): string {
    return `/${this.names.join('/')}`;
  }

  async call<T>(p: Promise<T>, what: string, onLate?: (v: T) => void): Promise<T> {
    try {
      return await bounded(p, this.access, this.podPath, what, onLate);
    } catch (err) {
      if (err instanceof PodPathError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new PodPathError(this.podPath, 'vanished', `process ${this.access.pid} exited`, { cause: err });
      throw err;
    }
  }

  async openStep(path: string, what: string, flags = OPEN_NAME): Promise<Step> {
    const fh = await this.call(open(path, flags), `open ${what}`, (late) => void closeQuietly(late));
    try {
      return { fh, stat: await this.call(fh.stat(), `fstat ${what}`) };
    } catch (err) {
      await closeQuietly(fh);
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.dirs.map((d) => closeQuietly(d.fh)));
  }
}

/**
 * Walk `podPath` (absolute, as the pod sees it) inside the root of `access.pid`. Returns the final component's
 * O_PATH fd and fstat (the caller closes it), or null when the path does not exist.
 */
async function walk(w: Walk): Promise<Step | null> {
  const { access, podPath } = w;
  const base = posix.join(access.procRoot, String(access.pid), 'root');
  try {
    // The magic link itself is followed (into the pod's root); nothing after it is.
    const root = await w.openStep(base, 'the root', O_PATH | constants.O_DIRECTORY);
    w.dirs.push(root);
  } catch (err) {
    if (err instanceof PodPathError) throw err;
    if (absent(err)) throw new PodPathError(podPath, 'vanished', `process ${access.pid} exited`, { cause: err });
    throw new PodPathError(podPath, 'io', `cannot open the root of process ${access.pid}: ${errorMessage(err)}`, { cause: err });
  }
  const maxHops = access.maxHops ?? 16;
  const queue = podPath.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (w.names.length === 0) throw new PodPathError(podPath, 'escape', '`..` above the root');
      await closeQuietly(w.dirs.pop()!.fh);
      w.names.pop();
      continue;
    }
    const inPod = posix.join(w.inPod, c);
    const blocked = underBlocking(inPod, access.blocking);
    if (blocked !== null) throw new PodPathError(podPath, 'unsafe-mount', `${inPod} is on a filesystem that may block (mount ${blocked})`);
    const dir = w.dirs[w.dirs.length - 1]!;
    const at = `/proc/self/fd/${dir.fh.fd}/${c}`;
    let step: Step;
    try {
      step = await w.openStep(at, inPod);
    } catch (err) {
      if (err instanceof PodPathError) throw err;
      if (absent(err)) return null;
      throw new PodPathError(podPath, 'io', `open ${inPod}: ${errorMessage(err)}`, { cause: err });
    }
    if (step.stat.isSymbolicLink()) {
      await closeQuietly(step.fh);
      if (++hops > maxHops) throw new PodPathError(podPath, 'too-many-links', `more than ${maxHops} symlinks (a loop?)`);
      let target: string;
      try {
        // Only the last name is not followed by readlink: the directory part is the verified fd.
        target = await w.call(readlink(at), `readlink ${inPod}`);
      } catch (err) {
        if (err instanceof PodPathError) throw err;
        if (absent(err)) return null;
        throw new PodPathError(podPath, 'io', `readlink ${inPod}: ${errorMessage(err)}`, { cause: err });
      }
      if (target.startsWith('/')) throw new PodPathError(podPath, 'absolute-symlink', `${inPod} -> ${target}: absolute symlink refused`);
      queue.unshift(...target.split('/'));
      continue;
    }
    if (queue.some((q) => q !== '' && q !== '.') && !step.stat.isDirectory()) {
      await closeQuietly(step.fh);
      return null;
    }
    w.dirs.push(step);
    w.names.push(c);
  }
  // The final component is the last fd pushed: hand it over (the walk no longer closes it).
  const last = w.dirs.pop()!;
  return last;
}

/** lstat-like facts of a path inside the pod's root (symlinks resolved inside the root), or null when absent. */
export async function statInRoot(access: RootAccess, podPath: string): Promise<{ podPath: string; stat: Stats } | null> {
  if (!podPath.startsWith('/')) throw new PodPathError(podPath, 'io', 'not an absolute path');
  const w = new Walk(access, podPath);
  try {
    const last = await walk(w);
    if (last === null) return null;
    await closeQuietly(last.fh);
    return { podPath: w.inPod, stat: last.stat };
  } finally {
    await w.close();
  }
}

/** Read a regular file inside the pod's root, capped at maxBytes. null when it does not exist. */
export async function readInRoot(access: RootAccess, podPath: string, maxBytes: number): Promise<RootFile | null> {
  if (!podPath.startsWith('/')) throw new PodPathError(podPath, 'io', 'not an absolute path');
  const w = new Walk(access, podPath);
  let last: Step | null = null;
  let fh: FileHandle | null = null;
  try {
    last = await walk(w);
    if (last === null) return null;
    const where = w.inPod;
    if (!last.stat.isFile()) throw new PodPathError(podPath, 'not-regular', `${where} is not a regular file`);
    try {
      fh = await w.call(open(`/proc/self/fd/${last.fh.fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY), `reopen ${where}`, (late) => void closeQuietly(late));
      const buf = Buffer.allocUnsafe(maxBytes + 1);
      let total = 0;
      while (total < buf.length) {
        const { bytesRead } = await w.call(fh.read(buf, total, buf.length - total, null), `read ${where}`);
        if (bytesRead === 0) break;
        total += bytesRead;
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
    await closeQuietly(fh);
    await closeQuietly(last?.fh);
    await w.close();
  }
}
