/**
 * One openat2(2) call that says whether a symlink-free path below a directory fd does not exist: the root reader's
 * shortcut for the common answer of a walk in a container's root (pod-root.ts: no /etc/resolv.conf.chaos.bak, no
 * /usr/local/byteman/lib), where the component walk costs 2 calls per name, each through a /proc/self/fd magic link.
 *
 * The call resolves `rel` below `dirFd` with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS and O_PATH |
 * O_NOFOLLOW: no symlink is followed (not even the last name), no `..` can leave `dirFd`, nothing is opened for I/O.
 * With no symlink allowed, the names resolved are exactly the lexical components of `rel`, so the walk's lexical
 * checks (the mount points that may block) apply to it unchanged. RESOLVE_CACHED (5.12+) makes the kernel answer from
 * its dentry cache only, negative entries included, and fail with EAGAIN when a name would need a filesystem's
 * lookup or revalidation: the call never waits on any filesystem, not even one the mount table did not show.
 *
 * Only `absent` is an answer (ENOENT, or ENOTDIR: a file used as a directory; the walk returns null for both). Any
 * other outcome is `walk`: the caller walks the path as before, which gives today's result by construction. That
 * includes a path that exists (the fd is closed at once: an fd opened here is not one Node's worker tracks, so it is
 * never held across a call that could block and get the thread terminated), a symlink on the way (ELOOP), a name not
 * in the cache (EAGAIN), and a kernel or seccomp filter without openat2 (ENOSYS, EPERM; after which this thread stops
 * trying). openat2 is allowed by the default seccomp profiles the DaemonSet runs under (RuntimeDefault): containerd's
 * contrib/seccomp/seccomp_default.go and moby's profiles/seccomp/default_linux.go both list "openat2" among the
 * syscalls always allowed.
 *
 * Synchronous (koffi): only on threads where a blocking call cannot hold the event loop, i.e. the root reader's
 * (root-ops.ts SYNC_OPS); and it cannot block anyway (RESOLVE_CACHED).
 */
import { Errno, O_CLOEXEC, O_NOFOLLOW, O_PATH, libc, loadedLibcLibrary, type Libc } from '../netns/netlink/libc.js';

const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;
const RESOLVE_CACHED = 0x20;
/** Not in libc.ts's Errno (whose names go into the netlink reader's messages): only told apart here. */
const ENOTDIR = 20;
const E2BIG = 7;

export type BeneathAnswer = 'absent' | 'walk';

/** Answers given on this thread since it started (tests: that the shortcut is taken, and when it is not). */
export const beneathCounts = { absent: 0, walk: 0 };

/** open_how {u64 flags, mode, resolve}. */
const how = Buffer.alloc(24);
/** The thread's bindings (libc.ts); null: none (koffi not loaded on this thread, or no openat2 here). */
let calls: Libc | null | undefined;
/** Whether RESOLVE_CACHED is asked (dropped once if the kernel refuses it: 5.6-5.11). */
let cached = true;

function setHow(): void {
  how.writeBigUInt64LE(BigInt(O_PATH | O_NOFOLLOW | O_CLOEXEC), 0);
  how.writeBigUInt64LE(0n, 8);
  how.writeBigUInt64LE(BigInt(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | (cached ? RESOLVE_CACHED : 0)), 16);
}

/**
 * The thread's libc bindings (libc.ts, where openat2 is bound with the others), or null when koffi is not loaded on
 * this thread (the root reader's threads load it when they start: root-worker.ts, the netlink threads; never here,
 * see loadedLibcLibrary) or cannot bind: every path is then walked.
 */
function load(): Libc | null {
  if (calls !== undefined) return calls;
  if (loadedLibcLibrary() === null) return null; // not cached: a thread that loads koffi later uses it from then on
  try {
    calls = libc();
    setHow();
  } catch (err) {
    void err; // no binding on this thread: the walk does everything, as it always did
    calls = null;
  }
  return calls;
}

/**
 * `absent` when `rel` (names separated by '/', none empty, `.` or `..`, no NUL) certainly does not exist below
 * `dirFd` with no symlink on the way; otherwise `walk`.
 */
export function probeBeneath(dirFd: number, rel: string): BeneathAnswer {
  const answer = probe(dirFd, rel);
  beneathCounts[answer]++;
  return answer;
}

function probe(dirFd: number, rel: string): BeneathAnswer {
  const c = load();
  if (c === null) return 'walk';
  const fd = c.openat2(dirFd, rel, how);
  if (fd >= 0) {
    c.close(fd); // it exists: the walk opens it again with fds Node tracks
    return 'walk';
  }
  const errno = c.errno();
  if (errno === Errno.ENOENT || errno === ENOTDIR) return 'absent';
  if (errno === Errno.EINVAL && cached) {
    // A kernel before RESOLVE_CACHED (5.6-5.11) refuses the flag: asked without it from now on.
    cached = false;
    setHow();
    return probe(dirFd, rel);
  }
  // No openat2 here (old kernel, seccomp) or a malformed call: this thread stops asking; the walk is exact anyway.
  if (errno === Errno.ENOSYS || errno === Errno.EPERM || errno === Errno.EINVAL || errno === E2BIG) calls = null;
  return 'walk';
}
