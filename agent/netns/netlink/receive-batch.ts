/**
 * The thread's receive area for netlink answers (socket.ts): BATCH slots of SLOT bytes and the struct mmsghdr array
 * of recvmmsg(2) pointing at them, built once per thread. One recvmmsg takes every datagram of an answer already
 * queued, up to BATCH, where a recv took one.
 *
 * Why more than one is usually queued: the kernel produces a dump one datagram at a time, and netlink_recvmsg runs
 * the next netlink_dump step synchronously right after a datagram is taken (net/netlink/af_netlink.c), so when
 * recvmmsg's loop asks for the next datagram it is already there: a dump of one datagram of messages and its
 * NLMSG_DONE (most rtnetlink dumps send NLMSG_DONE alone: RTNL_FLAG_DUMP_SPLIT_NLM_DONE) costs one call, not two.
 * What is taken past the end of the answer cannot be anything: the reader sends a request only once the answer to
 * the one before is read to its end, so nothing else is queued on the socket (and a socket whose answer was left
 * unread takes no further request: socket.ts). What is taken past an answer's byte cap or deadline is received and
 * dropped unread, at most BATCH - 1 datagrams (the kernel produces one more dump step for each).
 *
 * The wait is bounded as recv's was: each fill first asks with MSG_DONTWAIT (the kernel queues the first datagram of
 * an answer before sendmsg returns: rtnetlink and nfnetlink handle a request in the sender's context, so this is the
 * common case and needs no SO_RCVTIMEO at all); only when nothing is queued yet is the socket's receive timeout
 * bounded to the time left (`bound`) and the call made again, blocking for the first datagram only (MSG_WAITFORONE).
 *
 * Slots are SLOT bytes each, the size of the one receive buffer before: a datagram that does not fit one is reported
 * (length past SLOT, MSG_TRUNC) as it was. Where recvmmsg is refused (ENOSYS, EPERM: a seccomp filter), the thread
 * falls back to one recv per datagram, into slot 0.
 */
import { Errno, MSG_DONTWAIT, MSG_TRUNC, MSG_WAITFORONE, type Libc } from './libc.js';

/** Bytes per slot: the largest datagram received whole (the kernel's dump datagrams are at most ~32 KiB). */
export const SLOT = 256 * 1024;
/** Datagrams taken per call at most. */
export const BATCH = 4;

/** struct mmsghdr on LP64 (x86_64, arm64): struct msghdr (56 bytes) then unsigned int msg_len, padded to 64. */
const MMSGHDR = 64;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_LEN = 56;
/** struct iovec: void *iov_base, size_t iov_len. */
const IOVEC = 16;

/** The socket a fill receives on, and how it bounds a receive that must wait to `ms` (socket.ts NetlinkFd). */
export interface ReceiveLink {
  readonly fd: number;
  bound(ms: number): void;
}

export class ReceiveBatch {
  /** BATCH views of SLOT bytes of one allocation (never zero-filled: the kernel writes what is read). */
  readonly slots: Buffer[] = [];
  /** Bytes of each datagram of the last fill (past SLOT: it did not fit, MSG_TRUNC). */
  readonly lengths = new Int32Array(BATCH);
  /** Datagrams of the last fill, and the next one to hand out. */
  count = 0;
  next = 0;
  /** False once recvmmsg was refused on this thread: one recv per datagram. */
  private batched = true;
  private readonly area: Buffer;
  private readonly iov: Buffer;
  private readonly vec: Buffer;

  constructor(private readonly lib: Libc) {
    // The Buffers are kept by this object for the thread's life: the addresses written below stay valid.
    this.area = Buffer.allocUnsafe(SLOT * BATCH);
    this.iov = Buffer.alloc(IOVEC * BATCH);
    this.vec = Buffer.alloc(MMSGHDR * BATCH);
    const base = lib.address(this.area);
    const iovBase = lib.address(this.iov);
    for (let i = 0; i < BATCH; i++) {
      this.slots.push(this.area.subarray(i * SLOT, (i + 1) * SLOT));
      this.iov.writeBigUInt64LE(base + BigInt(i * SLOT), i * IOVEC);
      this.iov.writeBigUInt64LE(BigInt(SLOT), i * IOVEC + 8);
      // msg_name, msg_control: NULL (zeros); the kernel writes msg_flags and msg_len, and reads the rest.
      this.vec.writeBigUInt64LE(iovBase + BigInt(i * IOVEC), i * MMSGHDR + MSG_IOV);
      this.vec.writeBigUInt64LE(1n, i * MMSGHDR + MSG_IOVLEN);
    }
  }

  /** Forget what the last fill received and did not hand out (each exchange starts with an empty batch). */
  reset(): void {
    this.count = 0;
    this.next = 0;
  }

  /**
   * Receive the datagrams queued on `link.fd` (waiting for one, under the receive timeout `link.bound(leftMs)` sets,
   * when none is): their number, or -1 with errno set by the failed call. The socket and the time left, not a
   * callback: a closure made per receive would be one per datagram (README "V8 and per-call closures").
   */
  fill(link: ReceiveLink, leftMs: number): number {
    this.reset();
    const fd = link.fd;
    let n = this.call(fd, MSG_DONTWAIT);
    if (n < 0 && this.lib.errno() === Errno.EAGAIN) {
      link.bound(leftMs);
      n = this.call(fd, MSG_WAITFORONE);
    }
    if (n > 0) this.count = n;
    return n;
  }

  private call(fd: number, flags: number): number {
    if (this.batched) {
      const n = this.lib.recvmmsg(fd, this.vec, BATCH, flags | MSG_TRUNC);
      if (n >= 0) {
        for (let i = 0; i < n; i++) this.lengths[i] = this.vec.readUInt32LE(i * MMSGHDR + MSG_LEN);
        return n;
      }
      const errno = this.lib.errno();
      if (errno !== Errno.ENOSYS && errno !== Errno.EPERM) return n;
      this.batched = false;
    }
    const n = this.lib.recv(fd, this.slots[0]!, SLOT, (flags & MSG_DONTWAIT) | MSG_TRUNC);
    if (n < 0) return n;
    this.lengths[0] = n;
    return 1;
  }
}

let threadBatch: ReceiveBatch | null = null;

/** This thread's receive batch, shared by its sockets (their calls are synchronous: no two use it at once). */
export function receiveBatch(lib: Libc): ReceiveBatch {
  threadBatch ??= new ReceiveBatch(lib);
  return threadBatch;
}
