/**
 * What the netlink sockets (socket.ts) and the raw xtables socket (raw-socket.ts) of a namespace read share: an fd
 * owned by one object, closed once, and a receive timeout written only when the one in place could wait longer.
 */
import { NetlinkError } from '../../errors.js';
import { Errno, SOL_SOCKET, SO_RCVTIMEO, errnoName, type Libc } from './libc.js';

const MAX_RECV_TIMEOUT_MS = 1000;

/** Throws the NetlinkError for the call that just failed (errno: EAGAIN is a timeout). */
export function fail(libc: Libc, op: string, what: string): never {
  const errno = libc.errno();
  const reason = errno === Errno.EAGAIN ? 'timeout' : 'spawn';
  throw new NetlinkError(op, reason, `${what}: ${errnoName(errno)}`, { errno });
}

/** A socket fd owned by this object; close() is idempotent. */
export abstract class OwnedSocket {
  protected closed = false;
  /** The SO_RCVTIMEO now set on the socket, ms (Infinity: none yet, recv would block). */
  private receiveTimeoutMs = Infinity;
  private readonly timeval = Buffer.alloc(16);
  constructor(
    protected readonly libc: Libc,
    readonly fd: number,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }

  /**
   * A new read on a socket kept from an earlier one (sessions.ts): a receive timeout lowered near that read's deadline
   * is written again at the next request, from this read's own budget. Nothing is written while it is at its cap.
   */
  renewReceive(): void {
    if (this.receiveTimeoutMs < MAX_RECV_TIMEOUT_MS) this.receiveTimeoutMs = Infinity;
  }

  /** Open (a kept socket is reused only while it is). */
  get isOpen(): boolean {
    return !this.closed;
  }

  protected checkOpen(op: string): void {
    if (this.closed) throw new NetlinkError(op, 'spawn', 'socket is closed');
  }

  /**
   * SO_RCVTIMEO: a recv that waits longer fails with EAGAIN (reported as a timeout). Bounds a recv to at most `ms`
   * (and to MAX_RECV_TIMEOUT_MS): the socket option is written only when the one in place could wait longer.
   */
  protected boundReceive(ms: number): void {
    const clamped = Math.max(1, Math.min(MAX_RECV_TIMEOUT_MS, Math.ceil(ms)));
    if (this.receiveTimeoutMs <= clamped) return;
    const tv = this.timeval;
    tv.writeBigInt64LE(BigInt(Math.floor(clamped / 1000)), 0);
    tv.writeBigInt64LE(BigInt((clamped % 1000) * 1000), 8);
    if (this.libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length) !== 0) fail(this.libc, 'setsockopt', 'SO_RCVTIMEO');
    this.receiveTimeoutMs = clamped;
  }
}
