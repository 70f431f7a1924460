/**
 * Netlink and raw sockets of one network namespace, used synchronously from a worker thread.
 *
 * A socket keeps the network namespace it was created in, so enter.ts creates them inside the namespace and
 * leaves at once; every request after that runs from here, with no fork and no exec. Every request is bounded:
 * a receive timeout on the socket (SO_RCVTIMEO, so a recv can never block past the deadline), a deadline checked
 * between datagrams, and a byte cap per request, stopped where it is read: past the cap the request ends at once
 * and the result says `truncated`. The rest of that answer is left unread (draining it would let a pod with 150k
 * rules spend the read's whole time budget on bytes that are thrown away), so the socket is then unusable for
 * further requests: each source of a namespace read has its own socket (read-namespace.ts).
 *
 * Cheap per request (a namespace read makes ~15): every socket of a thread receives into the thread's one receive
 * buffer (the calls are synchronous, so no two use it at once), each datagram is copied out of it once (its
 * messages are views of that copy), and SO_RCVTIMEO is set only when the time left is shorter than the timeout the
 * socket already has.
 */
import { NetlinkError } from '../../errors.js';
import {
  Errno,
  MSG_TRUNC,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVTIMEO,
  errnoName,
  type Libc,
} from './libc.js';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  encodeMessage,
  messageErrno,
  splitMessages,
  type NlMessage,
} from './nlmsg.js';

/** Bounds of one request. */
export interface RequestLimits {
  /** Bytes of answer kept at most; past it the request ends (truncated) and the socket takes no further request. */
  maxBytes: number;
  /** performance.now() time by which the request must be over. */
  deadline: number;
}

export interface DumpResult {
  messages: NlMessage[];
  /** The answer went past maxBytes: `messages` holds only the start of it. */
  truncated: boolean;
  /** The kernel flagged the dump as interrupted by a concurrent change (NLM_F_DUMP_INTR) on every attempt. */
  interrupted: boolean;
  /** Bytes received, kept or not. */
  bytes: number;
}

const RECV_BUFFER = 256 * 1024;
const MAX_RECV_TIMEOUT_MS = 1000;

function fail(libc: Libc, op: string, what: string): never {
  const errno = libc.errno();
  const reason = errno === Errno.EAGAIN ? 'timeout' : 'spawn';
  throw new NetlinkError(op, reason, `${what}: ${errnoName(errno)}`, { errno });
}

/** This thread's receive buffer, shared by its sockets (allocated on first use, never zero-filled: recv writes it). */
let receiveBuffer: Buffer | null = null;

function threadReceiveBuffer(): Buffer {
  receiveBuffer ??= Buffer.allocUnsafe(RECV_BUFFER);
  return receiveBuffer;
}

/** A socket fd owned by this object; close() is idempotent. */
abstract class OwnedSocket {
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

export class NetlinkSocket extends OwnedSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  /** A request stopped in the middle of an answer (cut at its cap, timed out): the socket takes no further request. */
  private poisoned = false;

  constructor(libc: Libc, fd: number, readonly protocol: number) {
    super(libc, fd);
    const size = Buffer.alloc(4);
    size.writeInt32LE(1 << 20, 0);
    libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
  }

  /**
   * A dump request (NLM_F_REQUEST | NLM_F_DUMP | extraFlags): every answer message until NLMSG_DONE. An
   * NLMSG_ERROR answer throws a NetlinkError with the kernel's errno. NLM_F_DUMP_INTR: retried twice, then
   * returned with `interrupted`.
   */
  dump(op: string, type: number, payload: Buffer, limits: RequestLimits, extraFlags = 0): DumpResult {
    let last: DumpResult | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      last = this.exchange(op, type, NLM_F_REQUEST | NLM_F_DUMP | extraFlags, payload, limits, true);
      if (!last.interrupted || last.truncated) return last;
    }
    return last!;
  }

  /** A request answered by messages and/or an ACK (NLM_F_ACK is added): the answer messages before the ACK. */
  request(op: string, type: number, payload: Buffer, limits: RequestLimits, extraFlags = 0): DumpResult {
    return this.exchange(op, type, NLM_F_REQUEST | NLM_F_ACK | extraFlags, payload, limits, false);
  }

  private exchange(op: string, type: number, flags: number, payload: Buffer, limits: RequestLimits, dump: boolean): DumpResult {
    this.checkOpen(op);
    if (this.poisoned) throw new NetlinkError(op, 'spawn', 'an earlier request on this socket was cut short');
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const msg = encodeMessage(type, flags, seq, payload);
    if (this.libc.send(this.fd, msg, msg.length, 0) < 0) fail(this.libc, op, 'send');

    const messages: NlMessage[] = [];
    let bytes = 0;
    let kept = 0;
    let truncated = false;
    let interrupted = false;
    for (;;) {
      const left = limits.deadline - performance.now();
      if (left <= 0) {
        this.poisoned = true;
        throw new NetlinkError(op, 'timeout', `no complete answer within the time budget (${bytes} bytes received)`);
      }
      this.boundReceive(left);
      const rx = threadReceiveBuffer();
      const n = this.libc.recv(this.fd, rx, rx.length, MSG_TRUNC);
      if (n < 0) {
        const errno = this.libc.errno();
        if (errno === Errno.EINTR) continue;
        this.poisoned = true;
        if (errno === Errno.EAGAIN) throw new NetlinkError(op, 'timeout', `the kernel did not answer in time (${bytes} bytes received)`, { errno });
        throw new NetlinkError(op, 'spawn', `recv: ${errnoName(errno)}`, { errno });
      }
      if (n > rx.length) {
        this.poisoned = true;
        throw new NetlinkError(op, 'output_limit', `a ${n}-byte datagram does not fit the ${rx.length}-byte buffer`);
      }
      bytes += n;
      // One copy per datagram, out of the receive buffer the next recv overwrites; messages are views of it.
      const datagram = splitMessages(Buffer.from(rx.subarray(0, n)));
      for (const m of datagram) {
        if (m.seq !== seq) continue; // a late answer to an earlier request
        if (m.type === NLMSG_NOOP) continue;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type === NLMSG_DONE) return { messages, truncated, interrupted, bytes };
        if (m.type === NLMSG_OVERRUN) {
          this.poisoned = true;
          throw new NetlinkError(op, 'spawn', 'the kernel reported an overrun');
        }
        if (m.type === NLMSG_ERROR) {
          const errno = messageErrno(m.payload);
          if (errno === 0 && !dump) return { messages, truncated, interrupted, bytes };
          if (errno !== 0) {
            const reason = errno === Errno.ENOENT || errno === Errno.ESRCH ? 'vanished' : 'spawn';
            throw new NetlinkError(op, reason, `the kernel answered ${errnoName(errno)}`, { errno });
          }
          continue;
        }
        if (kept + m.payload.length > limits.maxBytes) {
          truncated = true;
          break;
        }
        kept += m.payload.length;
        messages.push(m);
      }
      if (truncated) {
        // Cut where it is read: the rest of the answer stays queued (freed when the socket is closed).
        this.poisoned = true;
        return { messages, truncated, interrupted, bytes };
      }
    }
  }
}

/** A raw IPv4/IPv6 socket for the legacy xtables getsockopt interface (IPT_SO_GET_INFO / GET_ENTRIES, ebtables). */
export class RawSocket extends OwnedSocket {
  constructor(libc: Libc, fd: number, readonly family: number) {
    super(libc, fd);
  }

  /**
   * getsockopt with `buf` both as input (the kernel reads the table name from it) and output; returns the bytes
   * written. Fails with a NetlinkError carrying errno (ENOENT: no such table).
   */
  getsockopt(op: string, level: number, name: number, buf: Buffer): number {
    this.checkOpen(op);
    const len = [buf.length];
    if (this.libc.getsockopt(this.fd, level, name, buf, len) !== 0) {
      const errno = this.libc.errno();
      const reason = errno === Errno.ENOENT ? 'vanished' : 'spawn';
      throw new NetlinkError(op, reason, `getsockopt: ${errnoName(errno)}`, { errno });
    }
    return len[0]!;
  }
}
