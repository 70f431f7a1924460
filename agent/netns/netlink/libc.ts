/**
 * The few libc calls the netlink reader needs, through koffi (FFI with prebuilt binaries inside the npm package: no
 * compiler on the node or in the image). Loaded lazily, once per thread: only namespace reads (and `serve`'s mount
 * events) need it, so CLI commands that never read a namespace do not pay for loading it.
 *
 * Every call is synchronous and runs on the calling thread: the reader calls these bindings from worker threads
 * (setns moves only the calling thread), never from the main thread of `serve`. That thread loads the library only
 * for proc/mount-events.ts, whose own bindings (fanotify_init, fanotify_mark, a FAN_NONBLOCK read) never wait.
 */
import { createRequire } from 'node:module';
import { threadFdLedger, type FdLedger } from '../../fd-ledger.js';

export interface Libc {
  setns(fd: number, nstype: number): number;
  socket(domain: number, type: number, protocol: number): number;
  close(fd: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  /**
   * recvmmsg(2) into `vec` (an array of struct mmsghdr built by the caller, whose iovecs point at memory that stays
   * valid: receive-batch.ts): the number of datagrams received, or -1 (errno). No timeout argument (its bound is
   * only checked between datagrams): SO_RCVTIMEO bounds the wait.
   */
  recvmmsg(fd: number, vec: Buffer, vlen: number, flags: number): number;
  /** The address of a Buffer's memory (a Buffer's backing store never moves while the Buffer lives). */
  address(buf: Buffer): bigint;
  /** fstatfs(2)'s f_type of the open file `fd`, or -1 (errno). */
  fstatfsType(fd: number): number;
  /** openat2(2) (through syscall(2): glibc has no wrapper) with `how`, a struct open_how of `how.length` bytes: an fd or -1 (errno). */
  openat2(dirfd: number, path: string, how: Buffer): number;
  /** `len` is a one-element array: in = buffer size, out = bytes written. */
  getsockopt(fd: number, level: number, name: number, buf: Buffer, len: number[]): number;
  setsockopt(fd: number, level: number, name: number, buf: Buffer, len: number): number;
  /** bind(2) with the socket address `addr` (its whole length): 0, or -1 (errno). */
  bind(fd: number, addr: Buffer): number;
  /** openat(2): an fd, or -1 (errno). */
  openat(dirfd: number, path: string, flags: number): number;
  /** read(2) into buf[0, len): bytes read, 0 at the end, -1 (errno). */
  read(fd: number, buf: Buffer, len: number): number;
  /** pread(2) into buf[0, len) from `offset`: bytes read, 0 at the end, -1 (errno). */
  pread(fd: number, buf: Buffer, len: number, offset: number): number;
  /** CPU time this thread has run, ns (clock_gettime CLOCK_THREAD_CPUTIME_ID); NaN when the call fails. */
  threadCpuNanos(): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
}

export const CLONE_NEWNET = 0x40000000;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const IPPROTO_RAW = 255;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_RCVTIMEO = 20;
export const SOL_IP = 0;
export const SOL_IPV6 = 41;
export const SOL_NETLINK = 270;
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
/** recvmmsg: block for the first datagram only, take the ones already queued after it. */
export const MSG_WAITFORONE = 0x10000;
export const CLOCK_THREAD_CPUTIME_ID = 3;
/** openat2(2)'s number: the same in every Linux architecture's table (asm-generic included). */
export const SYS_OPENAT2 = 437;
export const AT_FDCWD = -100;
export const O_RDONLY = 0;
export const O_DIRECTORY = 0x10000;
export const O_CLOEXEC = 0x80000;
export const O_PATH = 0x200000;
export const O_NOFOLLOW = 0x20000;

/** errno values the reader tells apart. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EINVAL: 22,
  ENOSYS: 38,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  ENOBUFS: 105,
} as const;

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Errno).map(([k, v]) => [v, k]));

/** `EPERM`, `ENOENT`..., or `errno N` for the ones not listed. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** koffi and libc.so.6 as this module uses them (koffi's own types are not needed: each binding is typed by its user). */
export interface LibcLibrary {
  koffi: { errno(value?: number): number; address(value: unknown): bigint };
  lib: { func(proto: string): (...args: unknown[]) => number };
}

let library: LibcLibrary | null = null;

/** koffi and libc.so.6, loaded once per thread, for every binding of libc the agent makes (here, thread-priority.ts). */
export function libcLibrary(): LibcLibrary {
  if (library) return library;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as LibcLibrary['koffi'] & { load(name: string): LibcLibrary['lib'] };
  library = { koffi, lib: koffi.load('libc.so.6') };
  return library;
}

/**
 * koffi and libc.so.6 when this thread has already loaded them, else null; never loads them itself. For calls made
 * while the thread may be terminated (a request under a watchdog): terminating a thread while koffi initialises aborts
 * the whole process (worker-loaded.ts), so only threads that loaded it at their start use it there.
 */
export function loadedLibcLibrary(): LibcLibrary | null {
  return library;
}

let loaded: Libc | null = null;

/** Outside a worker started by worker-loaded.ts (the main thread): nothing to record. */
const NO_LEDGER: Pick<FdLedger, 'opened' | 'closing'> = { opened: (fd) => fd, closing: () => undefined };

/** The libc bindings of this thread (koffi loads the library once per process; functions are bound per thread). */
export function libc(): Libc {
  if (loaded) return loaded;
  const { koffi, lib } = libcLibrary();
  const setns = lib.func('int setns(int fd, int nstype)');
  const socket = lib.func('int socket(int domain, int type, int protocol)');
  const close = lib.func('int close(int fd)');
  const send = lib.func('long send(int fd, void *buf, unsigned long len, int flags)');
  const recv = lib.func('long recv(int fd, _Out_ void *buf, unsigned long len, int flags)');
  const getsockopt = lib.func('int getsockopt(int fd, int level, int name, void *buf, _Inout_ uint32_t *len)');
  const setsockopt = lib.func('int setsockopt(int fd, int level, int name, void *buf, uint32_t len)');
  const bind = lib.func('int bind(int fd, void *addr, uint32_t len)');
  const clockGettime = lib.func('int clock_gettime(int clk, _Out_ void *ts)');
  const openat = lib.func('int openat(int dirfd, const char *path, int flags)');
  const read = lib.func('long read(int fd, _Out_ void *buf, unsigned long len)');
  const pread = lib.func('long pread(int fd, _Out_ void *buf, unsigned long len, long offset)');
  const recvmmsg = lib.func('int recvmmsg(int fd, void *vec, unsigned int vlen, int flags, void *timeout)');
  const fstatfs = lib.func('int fstatfs(int fd, _Out_ void *buf)');
  // glibc's syscall() is assembly that moves its integer arguments into the syscall's registers: a fixed prototype
  // passes them exactly as the variadic one would (and koffi calls it without per-call type parsing).
  const syscall = lib.func('long syscall(long nr, int dirfd, const char *path, void *how, unsigned long size)');
  const timespec = Buffer.alloc(16);
  /** struct statfs is 120 bytes on x86_64 and arm64; f_type (a long) comes first. */
  const statfsBuf = Buffer.alloc(128);
  // In a worker thread, every fd opened here is recorded until closed here: the parent closes what the thread left
  // open once it has ended (fd-ledger.ts). Every fd these opens return is closed through `close` below.
  const fds = threadFdLedger() ?? NO_LEDGER;
  loaded = {
    setns: (fd, nstype) => setns(fd, nstype),
    socket: (d, t, p) => fds.opened(socket(d, t, p)),
    close: (fd) => {
      fds.closing(fd);
      return close(fd);
    },
    send: (fd, buf, len, flags) => Number(send(fd, buf, len, flags)),
    recv: (fd, buf, len, flags) => Number(recv(fd, buf, len, flags)),
    recvmmsg: (fd, vec, vlen, flags) => recvmmsg(fd, vec, vlen, flags, null),
    address: (buf) => koffi.address(buf),
    fstatfsType: (fd) => (fstatfs(fd, statfsBuf) !== 0 ? -1 : Number(statfsBuf.readBigInt64LE(0))),
    openat2: (dirfd, path, how) => fds.opened(Number(syscall(SYS_OPENAT2, dirfd, path, how, how.length))),
    getsockopt: (fd, level, name, buf, len) => getsockopt(fd, level, name, buf, len),
    setsockopt: (fd, level, name, buf, len) => setsockopt(fd, level, name, buf, len),
    bind: (fd, addr) => bind(fd, addr, addr.length),
    openat: (dirfd, path, flags) => fds.opened(openat(dirfd, path, flags)),
    read: (fd, buf, len) => Number(read(fd, buf, len)),
    pread: (fd, buf, len, offset) => Number(pread(fd, buf, len, offset)),
    threadCpuNanos: () => {
      if (clockGettime(CLOCK_THREAD_CPUTIME_ID, timespec) !== 0) return NaN;
      return Number(timespec.readBigInt64LE(0)) * 1e9 + Number(timespec.readBigInt64LE(8));
    },
    errno: () => koffi.errno(),
  };
  return loaded;
}
