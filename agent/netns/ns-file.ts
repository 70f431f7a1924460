/**
 * Opening a namespace file that came from a runtime (a CRI-O runtimeSpec path, a Docker SandboxKey) or from /proc,
 * without trusting what it names. A real namespace file is an nsfs inode (a bind mount of one, or /proc/<pid>/ns/net
 * followed): a regular file (S_IFREG) on a filesystem of type NSFS_MAGIC. Anything else is refused: a FIFO, which a
 * plain open(O_RDONLY) would wait on until a writer came (forever, on the main thread or in a worker thread that
 * terminate() cannot end), a device, a directory, a plain file.
 *
 * The file is opened O_RDONLY|O_NONBLOCK|O_CLOEXEC, so a FIFO cannot block the open, and the opened fd is what is
 * checked (fstat: a regular file, the expected inode; the fd's filesystem: nsfs), so a path swapped between a check
 * and the open cannot pass. The filesystem type is fstatfs(fd)'s where the caller has it (the netlink reader's
 * threads, through koffi: no path walk), else statfs of /proc/self/fd/<fd> (Node has no fstatfs). The runtime layer (netns-resolve.ts netnsInode) refuses the same files
 * by stat and statfs, without opening them, so a pod's reported path that names a device is never opened at all.
 * Shared by both readers: the tools reader (main thread) and the netlink reader (worker threads, or the calling
 * thread).
 */
import { closeSync, constants, fstatSync, openSync, statfsSync, type Stats } from 'node:fs';
import { AgentError } from '../errors.js';

/** f_type of nsfs (linux/magic.h). */
export const NSFS_MAGIC = 0x6e736673;
/** O_CLOEXEC on Linux (x86_64, arm64: asm-generic); not in fs.constants (libuv sets it anyway, this says it). */
const O_CLOEXEC = 0o2000000;
/** Flags of every open of a namespace file: read only, never blocks (a FIFO), not inherited by a spawned process. */
export const NS_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | O_CLOEXEC;

/** Why a namespace file could not be used: gone (or now another namespace), not a namespace file, or open refused. */
export type NsFileProblem = 'vanished' | 'not-namespace' | 'open';

/** A namespace file that could not be opened or is not what it should be. Readers wrap it in their own error. */
export class NsFileError extends AgentError {
  readonly problem: NsFileProblem;
  readonly path: string;
  constructor(path: string, problem: NsFileProblem, message: string, options?: { cause?: unknown }) {
    super(`NS_FILE_${problem.toUpperCase().replace(/-/g, '_')}`, `${path}: ${message}`, options);
    this.path = path;
    this.problem = problem;
  }
}

/** The kind of a file that is not a regular one, for messages. */
export function fileKind(st: Pick<Stats, 'isFIFO' | 'isDirectory' | 'isCharacterDevice' | 'isBlockDevice' | 'isSocket' | 'isSymbolicLink' | 'isFile'>): string {
  if (st.isFile()) return 'a regular file';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'an unknown file type';
}

/** What a file is instead of a namespace file (`a FIFO`, `a regular file on a filesystem of type 0xef53, not nsfs`); null when it is one. */
export function nonNamespaceKind(st: Stats, fsType: number): string | null {
  if (!st.isFile()) return fileKind(st);
  if (fsType !== NSFS_MAGIC) return `a regular file on a filesystem of type 0x${fsType.toString(16)}, not nsfs`;
  return null;
}

/** Why stat/statfs results are not those of a namespace file; null when they are. */
export function notNamespaceFile(st: Stats, fsType: number): string | null {
  const kind = nonNamespaceKind(st, fsType);
  return kind === null ? null : `not a namespace file (${kind})`;
}

/** f_type of the filesystem the open file `fd` is on (statfs of its magic link resolves to the open file itself). */
function procFdFsType(fd: number): number {
  return statfsSync(`/proc/self/fd/${fd}`).type;
}

/**
 * Open the namespace file at `path` and check the fd: an nsfs file and, unless `expectedInode` is null, that inode.
 * Returns the fd (the caller closes it) and its inode. Throws NsFileError: vanished (ENOENT/ESRCH, or the path now
 * names another namespace), not-namespace (any other file), open (any other errno). `fsTypeOf(fd, lib)`: the f_type of
 * an open fd's filesystem (fstatfs(2); throws when it cannot tell); `lib` is passed to it as given.
 */
export function openNamespaceFile<L = undefined>(path: string, expectedInode: number | null, fsTypeOf: (fd: number, lib: L) => number = procFdFsType, lib?: L): { fd: number; inode: number } {
  let fd: number;
  try {
    fd = openSync(path, NS_OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NsFileError(path, code === 'ENOENT' || code === 'ESRCH' ? 'vanished' : 'open', code ?? String(err), { cause: err });
  }
  try {
    const st = fstatSync(fd);
    // The open file's filesystem, not that of whatever `path` names now.
    const why = notNamespaceFile(st, st.isFile() ? fsTypeOf(fd, lib as L) : 0);
    // Another inode than the one resolved: the namespace is gone (a netns mount point left behind once unmounted is
    // a plain file) or was replaced; which file is there now is said, not counted.
    if (expectedInode !== null && st.ino !== expectedInode) {
      const now = why === null ? 'another namespace' : `another file, ${why}`;
      throw new NsFileError(path, 'vanished', `now names ${now} (inode ${expectedInode} -> ${st.ino})`);
    }
    if (why !== null) throw new NsFileError(path, 'not-namespace', why);
    return { fd, inode: st.ino };
  } catch (err) {
    closeSync(fd);
    if (err instanceof NsFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new NsFileError(path, 'open', `cannot check the opened file: ${code ?? String(err)}`, { cause: err });
  }
}
