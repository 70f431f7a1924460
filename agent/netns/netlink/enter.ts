/**
 * Entering a network namespace for as short as possible: open the namespace file (ns-file.ts: never blocking, an nsfs
 * file only), check its inode against what the runtime layer resolved (the fd pins that namespace, so a recycled PID
 * cannot substitute another one between the check and setns), setns(2) the calling thread into it, run a synchronous
 * callback that opens sockets and reads /proc/thread-self/net files, and setns back to the thread's own namespace
 * before returning.
 *
 * setns(CLONE_NEWNET) moves only the calling thread: the reader calls this from worker threads. If the way back
 * fails the thread is left in a pod's namespace; that is unrecoverable for the thread, so it throws a
 * StrandedThreadError which the worker treats as fatal (it exits and is replaced).
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { AgentError, NetlinkError, errorMessage } from '../../errors.js';
import { NsFileError, openNamespaceFile } from '../ns-file.js';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AT_FDCWD,
  CLONE_NEWNET,
  Errno,
  IPPROTO_RAW,
  NETLINK_NETFILTER,
  NETLINK_ROUTE,
  O_CLOEXEC,
  O_DIRECTORY,
  O_PATH,
  O_RDONLY,
  SOCK_CLOEXEC,
  SOCK_RAW,
  errnoName,
  libc,
  type Libc,
} from './libc.js';
import { NetlinkSocket } from './socket.js';
import { RawSocket } from './raw-socket.js';
import { openRouteEvents, type RouteEvents } from './route-events.js';

/** The thread could not return to its own network namespace: it must not be used again. */
export class StrandedThreadError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NETNS_STRANDED', message, options);
  }
}

/** Files of /proc/thread-self/net the reader may read while inside (small, bounded). */
const PROC_NET_FILES = new Set(['ip_tables_names', 'ip6_tables_names', 'dev']);
const MAX_PROC_NET_FILE = 64 * 1024;

/** What the callback can do while the thread is inside the namespace. */
export interface Inside {
  route(): NetlinkSocket;
  netfilter(): NetlinkSocket;
  raw(family: 'ipv4' | 'ipv6'): RawSocket;
  /** A socket told of every change the links source would dump (route-events.ts). */
  routeEvents(): RouteEvents;
  /** /proc/thread-self/net/<name> as seen from inside (null when the file does not exist: module not loaded). */
  procNet(name: 'ip_tables_names' | 'ip6_tables_names' | 'dev'): string | null;
  /**
   * procNet, with the file left open (`fd`, null when it does not exist) for rereadProcNet: the open file stays the
   * namespace's, wherever the thread is later (its seq_file holds the namespace it was opened in). The caller closes
   * it; withNetns closes it if the callback or the way back fails.
   */
  procNetKept(name: 'ip_tables_names' | 'ip6_tables_names'): { text: string | null; fd: number | null };
}

let ownNetnsFd: number | null = null;

/** This thread's own namespace, opened once per thread (worker threads each load this module afresh). */
function ownNetns(): number {
  if (ownNetnsFd === null) ownNetnsFd = openSync('/proc/thread-self/ns/net', 'r');
  return ownNetnsFd;
}

/** The inode of this thread's current network namespace (tests check the thread came back). */
export function currentNetnsInode(): number {
  const fd = openSync('/proc/thread-self/ns/net', 'r');
  try {
    return fstatSync(fd).ino;
  } finally {
    closeSync(fd);
  }
}

/**
 * Enter the namespace at `path` (expected inode `expectedInode`, or any when null), run `fn` inside, come back.
 * Sockets opened through `Inside` stay usable after return (they keep their namespace); the caller closes them.
 * Throws NetlinkError (reason vanished when the file is gone or names another namespace, spawn when it is not a
 * namespace file or the kernel refuses), or StrandedThreadError.
 */
export function withNetns<T, A = undefined>(path: string, expectedInode: number | null, fn: (inside: Inside, arg: A) => T, arg?: A, lib: Libc = libc()): { value: T; inode: number } {
  let fd: number;
  let inode: number;
  try {
    // Never blocks (a FIFO would hold this thread where terminate() cannot reach it); refuses any non-nsfs file.
    ({ fd, inode } = openNamespaceFile(path, expectedInode, fsTypeOf, lib));
  } catch (err) {
    const reason = err instanceof NsFileError && err.problem === 'vanished' ? 'vanished' : 'spawn';
    throw new NetlinkError('open netns', reason, errorMessage(err), { cause: err });
  }
  try {
    const home = ownNetns();
    if (lib.setns(fd, CLONE_NEWNET) !== 0) {
      const errno = lib.errno();
      throw new NetlinkError('setns', 'spawn', `${path}: ${errnoName(errno)}${errno === Errno.EINVAL ? ' (not a network namespace)' : ''}`, { errno });
    }
    const inside = new InsideNamespace(lib);
    const opened = inside.opened;
    let value: T;
    try {
      value = fn(inside, arg as A);
    } catch (err) {
      for (const s of opened) s.close();
      throw err;
    } finally {
      if (lib.setns(home, CLONE_NEWNET) !== 0) {
        const errno = lib.errno();
        for (const s of opened) s.close();
        // eslint-disable-next-line no-unsafe-finally -- the thread is unusable; this must win over anything else
        throw new StrandedThreadError(`could not return from ${path}: setns ${errnoName(errno)}`);
      }
    }
    return { value, inode };
  } finally {
    closeSync(fd);
  }
}

/**
 * Inside for one withNetns call: a class, not an object of closures made per read (V8 would compile those again
 * after every full GC of the reader's isolate: collect/netns.ts readGroup says why).
 */
class InsideNamespace implements Inside {
  /** Every socket opened inside, closed by withNetns if the callback or the way back fails. */
  readonly opened: { close(): void }[] = [];
  constructor(private readonly lib: Libc) {}

  route(): NetlinkSocket {
    return track(this.opened, netlinkSocket(this.lib, NETLINK_ROUTE));
  }

  netfilter(): NetlinkSocket {
    return track(this.opened, netlinkSocket(this.lib, NETLINK_NETFILTER));
  }

  raw(family: 'ipv4' | 'ipv6'): RawSocket {
    return track(this.opened, rawSocket(this.lib, family));
  }

  routeEvents(): RouteEvents {
    return track(this.opened, openRouteEvents(this.lib));
  }

  procNet(name: 'ip_tables_names' | 'ip6_tables_names' | 'dev'): string | null {
    const fd = openProcNet(this.lib, name);
    if (fd === null) return null;
    try {
      return readProcNetFd(this.lib, fd, name);
    } finally {
      this.lib.close(fd);
    }
  }

  procNetKept(name: 'ip_tables_names' | 'ip6_tables_names'): { text: string | null; fd: number | null } {
    const fd = openProcNet(this.lib, name);
    if (fd === null) return { text: null, fd: null };
    const lib = this.lib;
    this.opened.push({ close: () => lib.close(fd) });
    return { text: readProcNetFd(lib, fd, name), fd };
  }
}

/** fstatfs(fd)'s f_type (one call on the fd, where statfs of /proc/self/fd/<fd> walks procfs first). */
function fsTypeOf(fd: number, lib: Libc): number {
  const type = lib.fstatfsType(fd);
  if (type < 0) {
    const errno = lib.errno();
    throw new NetlinkError('fstatfs', 'spawn', errnoName(errno), { errno });
  }
  return type;
}

function track<S extends { close(): void }>(list: { close(): void }[], s: S): S {
  list.push(s);
  return s;
}

function netlinkSocket(lib: Libc, protocol: number): NetlinkSocket {
  const fd = lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    const errno = lib.errno();
    throw new NetlinkError(`netlink socket ${protocol === NETLINK_ROUTE ? 'route' : 'netfilter'}`, 'spawn', errnoName(errno), { errno });
  }
  return new NetlinkSocket(lib, fd, protocol);
}

function rawSocket(lib: Libc, family: 'ipv4' | 'ipv6'): RawSocket {
  const af = family === 'ipv4' ? AF_INET : AF_INET6;
  const fd = lib.socket(af, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) {
    const errno = lib.errno();
    throw new NetlinkError(`raw socket ${family}`, 'spawn', errnoName(errno), { errno });
  }
  return new RawSocket(lib, fd, af);
}

/**
 * The files read are seq_files (xt_table_seq_ops, dev_seq_ops), whose read (seq_read_iter) returns fewer bytes than
 * asked only at the end of the records, on an error from the iterator (these have none), or when the next record
 * does not fit the seq_file's buffer (at least a page, 4096 bytes). Their records are lines of at most 32 bytes (a
 * table name: XT_TABLE_MAXNAMELEN) or ~200 (a device's counters), so a read that leaves the total under 2048 bytes,
 * short of what was asked, ended at the end: the read returning 0 that would follow is not made.
 */
const SEQ_FILE_SHORT_READ = 2048;

/** This thread's buffer for /proc/thread-self/net files (read synchronously, one at a time). */
let procNetBuffer: Buffer | null = null;
/** threadDir's fd, once opened. */
let threadDirFd: number | null = null;

/** This thread's /proc/<pid>/task/<tid> directory (O_PATH), opened once per thread. */
function threadDir(lib: Libc): number {
  if (threadDirFd === null) {
    const fd = lib.openat(AT_FDCWD, '/proc/thread-self', O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      const errno = lib.errno();
      throw new NetlinkError('proc net', 'spawn', `/proc/thread-self: ${errnoName(errno)}`, { errno });
    }
    threadDirFd = fd;
  }
  return threadDirFd;
}

/**
 * /proc/thread-self/net/<name> opened on the thread's own /proc task directory, without resolving /proc/thread-self
 * and the task directory again (a third of the cost of Node's openSync of the full path, read twice a namespace).
 * Its `net` entry is looked up afresh on every open (procfs never caches it: it depends on the namespace the thread
 * is in at that moment), so this opens the file of the namespace the thread is in now. Null when it does not exist.
 */
function openProcNet(lib: Libc, name: string): number | null {
  if (!PROC_NET_FILES.has(name)) throw new NetlinkError('proc net', 'spawn', `${name} is not a file the reader reads`);
  const fd = lib.openat(threadDir(lib), `net/${name}`, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  const errno = lib.errno();
  if (errno === Errno.ENOENT) return null;
  throw new NetlinkError('proc net', 'spawn', `/proc/thread-self/net/${name}: ${errnoName(errno)}`, { errno });
}

/**
 * Whether /proc/thread-self/net/<name> exists in the namespace the thread is in now. ip_tables_names and
 * ip6_tables_names exist in every namespace once their module is loaded (x_tables creates them in each namespace
 * when the module registers), so the thread's own namespace answers for all of them.
 */
export function procNetExists(name: 'ip_tables_names' | 'ip6_tables_names', lib: Libc = libc()): boolean {
  const fd = openProcNet(lib, name);
  if (fd === null) return false;
  lib.close(fd);
  return true;
}

/** A file procNetKept left open, read again from its start (what its namespace holds now). */
export function rereadProcNet(fd: number, name: string, lib: Libc = libc()): string {
  return readProcNetFd(lib, fd, name);
}

/**
 * The file's first MAX_PROC_NET_FILE bytes, read with pread from offset 0 into the thread's buffer (a seq_file read
 * at offset 0 is generated afresh: the same open file serves every later read), to the end or the cap.
 */
function readProcNetFd(lib: Libc, fd: number, name: string): string {
  const buf = (procNetBuffer ??= Buffer.allocUnsafe(MAX_PROC_NET_FILE));
  let len = 0;
  for (;;) {
    const n = lib.pread(fd, len === 0 ? buf : buf.subarray(len), buf.length - len, len);
    if (n < 0) {
      const errno = lib.errno();
      if (errno === Errno.EINTR) continue;
      throw new NetlinkError('proc net', 'spawn', `/proc/thread-self/net/${name}: read: ${errnoName(errno)}`, { errno });
    }
    if (n === 0) break;
    len += n;
    if (len === buf.length) break;
    // A short read of these files is their end: no second read only to see 0 (SEQ_FILE_SHORT_READ).
    if (len < SEQ_FILE_SHORT_READ) break;
  }
  return buf.toString('utf8', 0, len);
}
