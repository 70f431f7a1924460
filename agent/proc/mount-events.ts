/**
 * Whether any container's mount table changed since the last collection, from the kernel's own mount events, so
 * that a container whose mountstats showed nothing last time need not be read again (mount-quiet.ts, on the root
 * reader's thread). One fanotify group (fanotify_init FAN_REPORT_MNT, Linux 6.15+) with a FAN_MARK_MNTNS mark on
 * each container's mount namespace: the kernel queues a FAN_MNT_ATTACH or FAN_MNT_DETACH event on it for every mount
 * attached to or detached from a marked namespace (mount, umount, move, propagation; a namespace that dies detaches
 * all its mounts first, so its death is an event too). The events are not parsed: ANY byte read (an event, the
 * queue-overflow event) means "something changed somewhere", and the epoch moves on.
 *
 * Why a reuse is exact (mount-quiet.ts checks the rest on the thread): a container gets a ticket {epoch, ino} only
 * once its namespace `ino` is marked, and a mark is made before the request whose read it covers is posted. The
 * thread records a container's "nothing" with the ticket's epoch; it reuses it only under a ticket of the same
 * epoch and inode, i.e. when no drain since that read found an event in any marked namespace. A change made after
 * this collection's drain is seen by the next one, as a read made at the drain would have missed it too.
 *
 * Marks do not pin a namespace (the kernel drops them when the namespace dies), unlike an open mountinfo would; the
 * group is one fd and one of the user's fanotify groups (fs.fanotify.max_user_groups, 128 by default: one per
 * agent, not one per container). Where the kernel, the seccomp profile or the capabilities refuse it, `open` says why
 * and every mount table is read every time, as before.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { deleteUnless } from '../delete-unless.js';
import { errorMessage } from '../errors.js';
import { Errno, errnoName, libcLibrary } from '../netns/netlink/libc.js';
import type { RootJob } from './root-facts.js';

/** What the thread needs to trust its record of a container (mount-quiet.ts). */
export interface MountTicket {
  /** Moves on whenever a drain found an event. */
  epoch: number;
  /** Inode of the mount namespace marked for the container's PID. */
  ino: number;
}

const FAN_CLOEXEC = 0x1;
const FAN_NONBLOCK = 0x2;
const FAN_REPORT_MNT = 0x4000;
const FAN_MARK_ADD = 0x1;
const FAN_MARK_MNTNS = 0x110;
const FAN_MNT_ATTACH = 0x0100_0000;
const FAN_MNT_DETACH = 0x0200_0000;
/** Reads per drain: 64 x 64 KiB holds the default queue (16,384 events of 40 bytes) four times over. */
const MAX_READS = 64;

/** The four libc calls, as the tests can replace them. */
export interface FanotifyCalls {
  init(flags: number, eventFlags: number): number;
  mark(fd: number, flags: number, mask: number, dirfd: number): number;
  read(fd: number, buf: Buffer, len: number): number;
  close(fd: number): number;
  errno(): number;
}

function fanotifyCalls(): FanotifyCalls {
  const { koffi, lib } = libcLibrary();
  const init = lib.func('int fanotify_init(unsigned int flags, unsigned int event_f_flags)');
  const mark = lib.func('int fanotify_mark(int fd, unsigned int flags, uint64_t mask, int dirfd, const char *path)');
  const read = lib.func('long read(int fd, _Out_ void *buf, unsigned long len)');
  const close = lib.func('int close(int fd)');
  return {
    init: (flags, eventFlags) => init(flags, eventFlags),
    mark: (fd, flags, mask, dirfd) => mark(fd, flags, mask, dirfd, null),
    read: (fd, buf, len) => Number(read(fd, buf, len)),
    close: (fd) => close(fd),
    errno: () => koffi.errno(),
  };
}

export class MountEvents {
  private epoch = 1;
  /**
   * `procRoot\0pid\0container id` -> inode of the mount namespace marked for it. With the container ID, a PID reused
   * by another container is marked afresh; a container whose process moved to another namespace keeps a ticket for
   * the old one, which its thread never trusts (it reads that container every time, as without events).
   */
  private readonly marked = new Map<string, number>();
  private readonly buf = Buffer.alloc(64 * 1024);
  /** Why the group stopped working (then no ticket is given). */
  broken: string | null = null;

  private constructor(private fd: number, private readonly sys: FanotifyCalls) {}

  /** The group, or why it cannot be had here (old kernel, seccomp, no CAP_SYS_ADMIN, koffi missing). */
  static open(sys?: FanotifyCalls): MountEvents | { unavailable: string } {
    let calls: FanotifyCalls;
    try {
      calls = sys ?? fanotifyCalls();
    } catch (err) {
      return { unavailable: `libc through koffi: ${errorMessage(err)}` };
    }
    const fd = calls.init(FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_MNT, constants.O_RDONLY);
    if (fd < 0) return { unavailable: `fanotify_init(FAN_REPORT_MNT): ${errnoName(calls.errno())} (Linux 6.15+ with CAP_SYS_ADMIN)` };
    return new MountEvents(fd, calls);
  }

  /**
   * Per job, its ticket, or null (not marked: the thread reads its mount table as always). Drains the events first,
   * and forgets the marks of PIDs no job names (the kernel keeps the mark while the namespace lives: a PID seen
   * again is marked again, which changes nothing).
   */
  tickets(jobs: readonly RootJob[]): (MountTicket | null)[] {
    if (this.fd >= 0 && this.drain()) this.epoch++;
    if (this.fd < 0) return jobs.map(() => null); // closed, or the drain found the group broken
    const out: (MountTicket | null)[] = [];
    const seen = new Set<string>();
    for (const job of jobs) {
      const key = `${job.procRoot}\u0000${job.pid}\u0000${job.container.id}`;
      seen.add(key);
      const ino = this.marked.get(key) ?? this.mark(key, job);
      out.push(ino === null ? null : { epoch: this.epoch, ino });
    }
    deleteUnless(this.marked, seen);
    return out;
  }

  close(): void {
    if (this.fd >= 0) this.sys.close(this.fd);
    this.fd = -1;
  }

  /** Marks the mount namespace of `job`'s PID: its inode, or null when it cannot be marked (gone, not a namespace). */
  private mark(key: string, job: RootJob): number | null {
    let ns: number;
    try {
      // O_NONBLOCK: a FIFO planted under a --proc-root cannot hold the event loop.
      ns = openSync(`${job.procRoot}/${job.pid}/ns/mnt`, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      void err; // the process is gone or not ours to read: its mount table read says why, as before
      return null;
    }
    try {
      const ino = fstatSync(ns).ino;
      // The kernel refuses (EINVAL) an fd that is not a mount namespace's.
      if (this.sys.mark(this.fd, FAN_MARK_ADD | FAN_MARK_MNTNS, FAN_MNT_ATTACH | FAN_MNT_DETACH, ns) !== 0) return null;
      this.marked.set(key, ino);
      return ino;
    } finally {
      closeSync(ns);
    }
  }

  /** True when anything was queued since the last drain (or the group failed: then it is closed for good). */
  private drain(): boolean {
    let got = false;
    for (let i = 0; i < MAX_READS; i++) {
      const n = this.sys.read(this.fd, this.buf, this.buf.length);
      if (n > 0) {
        got = true;
        continue;
      }
      const errno = n < 0 ? this.sys.errno() : -1;
      if (errno === Errno.EAGAIN) return got;
      if (errno === Errno.EINTR) continue;
      this.broken = n === 0 ? 'fanotify read returned 0' : `fanotify read: ${errnoName(errno)}`;
      this.close();
      return true;
    }
    return true; // more than MAX_READS buffers: changed, and the rest is drained next time
  }
}
