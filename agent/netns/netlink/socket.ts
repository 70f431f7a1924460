/**
 * Netlink sockets of one network namespace, used synchronously from a worker thread (the raw socket of the legacy
 * xtables interface: raw-socket.ts; what both share: owned-socket.ts).
 *
 * A socket keeps the network namespace it was created in, so enter.ts creates them inside the namespace and
 * leaves at once; every request after that runs from here, with no fork and no exec. Every request is bounded:
 * a receive timeout on the socket (SO_RCVTIMEO, so a recv can never block past the deadline), a deadline checked
 * between datagrams, and a byte cap per request, stopped where it is read: past the cap the request ends at once
 * and the result says `truncated`. The rest of that answer is left unread (draining it would let a pod with 150k
 * rules spend the read's whole time budget on bytes that are thrown away), so the socket is then unusable for
 * further requests: each source of a namespace read has its own socket (read-namespace.ts), or shares the fd of
 * another source and takes a fresh one when that one was cut short (NetlinkSocket.shared).
 *
 * Cheap per request (a namespace read makes ~15): every socket of a thread receives into the thread's receive
 * batch (receive-batch.ts: one recvmmsg takes the datagrams already queued, so a dump's NLMSG_DONE usually comes
 * with its data; the calls are synchronous, so no two sockets use it at once), each datagram is copied out of it
 * once (its messages are views of that copy) or, in a replay, compared where it lies, and SO_RCVTIMEO is set only
 * when a receive has to wait and the time left is shorter than the timeout the socket already has. A get (request())
 * asks for no ACK: its answer is its reply or an NLMSG_ERROR either way (answerEnds).
 *
 * No SO_RCVBUF: the reader never has more than one datagram queued on a socket, and the kernel always admits a
 * datagram into an empty receive queue whatever sk_rcvbuf is (netlink_dump: `sk_rmem_alloc >= sk_rcvbuf` before
 * 6.17, sock_rcvbuf_has_space's "always allow at least one packet" since; netlink_attachskb likewise). One datagram
 * at a time: a dump's next datagram is produced only once the previous one was taken (netlink_recvmsg) and only
 * while `sk_rmem_alloc <= sk_rcvbuf / 2`, i.e. with an empty queue; a get's reply is one datagram, and without
 * NLM_F_ACK there is no ACK behind it; a request is sent only once the answer before it was read to its end.
 */
import { NetlinkError } from '../../errors.js';
import { Errno, errnoName, type Libc } from './libc.js';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  align4,
  encodeMessage,
  messageErrno,
  checkMessages,
  splitMessages,
  type NlMessage,
} from './nlmsg.js';
import { AnswerComparer, AnswerRecorder, tapeEnd, tapeMessage, type AnswerSink, type NetlinkRole, type NetlinkStep, type Tape } from './tape.js';
import { OwnedSocket, fail } from './owned-socket.js';
import { SLOT, receiveBatch, type ReceiveBatch } from './receive-batch.js';

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

/**
 * Where the answer to a request ends, by what the request asked (its NLM_F_DUMP and NLM_F_ACK flags), given an
 * answer message of type `type` and flags `mflags` with its errno (NLMSG_ERROR only): 'end' (this message ends it),
 * 'datagram' (the answer ends with this message's datagram: a get's reply, one message without NLM_F_MULTI), or
 * 'more'. The one definition: a recorded read (exchange) and a replay (compareExchange) both end answers here.
 * - A dump ends at NLMSG_DONE, or at an NLMSG_ERROR carrying an error (one carrying 0 is an ACK: read on).
 * - An acknowledged request ends at its NLMSG_ERROR (the ACK, or the error), or NLMSG_DONE.
 * - A get without NLM_F_ACK (request()) ends with its reply or at an NLMSG_ERROR: netlink_rcv_skb sends an
 *   NLMSG_ERROR when the handler fails whether or not NLM_F_ACK was asked, and only then; nf_tables_getgen and
 *   ip_set_protocol reply with one message (nfnetlink_unicast) or fail. A multipart reply (NLM_F_MULTI) is read to
 *   its NLMSG_DONE.
 */
export function answerEnds(dump: boolean, requestFlags: number, type: number, mflags: number, errno: number): 'end' | 'datagram' | 'more' {
  if (type === NLMSG_DONE) return 'end';
  if (type === NLMSG_ERROR) return dump && errno === 0 ? 'more' : 'end';
  if (dump || requestFlags & NLM_F_ACK || mflags & NLM_F_MULTI) return 'more';
  return 'datagram';
}

/**
 * The fd under one or more NetlinkSockets of a read (NetlinkSocket.shared): its sequence numbers, its receive
 * timeout, and whether a request stopped in the middle of its answer (the rest is queued on it: it takes no further
 * request).
 */
export class NetlinkFd extends OwnedSocket {
  seq = Math.floor(Math.random() * 0x7fffffff);
  poisoned = false;

  bound(ms: number): void {
    this.boundReceive(ms);
  }
}

export class NetlinkSocket {
  private link: NetlinkFd;
  private closed = false;
  /** A request of this socket stopped in the middle of its answer: it takes no further request. */
  private poisoned = false;
  /** A fresh socket of the same namespace, for a socket sharing an fd that another one left unusable (shared()). */
  private reopen: (() => NetlinkSocket) | null = null;
  /** Set by a read that records its requests (tape.ts): each request and its answer go on it. */
  tape: Tape | null = null;
  /** Which socket of the read this is, named on its tape steps. */
  role: NetlinkRole = 'route';

  constructor(
    private readonly libc: Libc,
    fd: number | NetlinkFd,
    readonly protocol: number,
  ) {
    this.link = typeof fd === 'number' ? new NetlinkFd(libc, fd) : fd;
  }

  get fd(): number {
    return this.link.fd;
  }

  /**
   * Another socket of the read on this one's fd, for another source (`role`): one fd per protocol instead of one
   * per source (each costs socket, two setsockopt and close per namespace read). Their requests take turns on the
   * fd (sequence numbers tell the answers apart, and each answer is read to its end). When a request of the other
   * one is stopped in the middle of its answer (cut at its byte cap, timed out), the rest of that answer stays queued
   * on the fd: this one then takes a fresh fd from `reopen` (the same namespace, entered again) before its next
   * request, so a source cut short still costs no other source.
   */
  shared(role: NetlinkRole, reopen: () => NetlinkSocket): NetlinkSocket {
    const s = new NetlinkSocket(this.libc, this.link, this.protocol);
    s.role = role;
    s.reopen = reopen;
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.close();
  }

  /** True once a request of this socket was stopped in the middle of its answer. */
  get unusable(): boolean {
    return this.poisoned || this.closed;
  }

  /** A later read may use it again (sessions.ts): open, and no request on its fd was cut short. */
  get reusable(): boolean {
    return !this.unusable && !this.link.poisoned && this.link.isOpen;
  }

  /** Kept for a new read (sessions.ts): its fd's receive timeout follows that read's budget (OwnedSocket.renewReceive). */
  renewReceive(): void {
    this.link.renewReceive();
  }

  private poison(): void {
    this.poisoned = true;
    this.link.poisoned = true;
  }

  /**
   * A dump request (NLM_F_REQUEST | NLM_F_DUMP | extraFlags): every answer message until NLMSG_DONE. An
   * NLMSG_ERROR answer throws a NetlinkError with the kernel's errno. NLM_F_DUMP_INTR: retried twice, then
   * returned with `interrupted`.
   */
  dump(op: string, type: number, payload: Buffer, limits: RequestLimits, extraFlags = 0): DumpResult {
    const flags = NLM_F_REQUEST | NLM_F_DUMP | extraFlags;
    let last: Answer | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      last = this.taped(op, type, flags, payload, limits, true);
      if (last.errno !== 0 || !last.interrupted || last.truncated) break;
    }
    return this.settle(op, type, flags, payload, true, last!);
  }

  /**
   * A get (NLM_F_REQUEST | extraFlags, no NLM_F_ACK): its reply messages. An NLMSG_ERROR answer throws a NetlinkError
   * with the kernel's errno, as with an ACK asked (answerEnds). Only for requests whose handler replies or fails.
   */
  request(op: string, type: number, payload: Buffer, limits: RequestLimits, extraFlags = 0): DumpResult {
    const flags = NLM_F_REQUEST | extraFlags;
    return this.settle(op, type, flags, payload, false, this.taped(op, type, flags, payload, limits, false));
  }

  /**
   * Send a recorded step again and compare its answer with the taped one as it arrives, keeping nothing (tape.ts).
   * True only when the whole answer is the same; false too when it cannot be compared (cut, interrupted, timed out,
   * the socket failed: the socket may then be unusable). A different answer is still read to its end.
   */
  replay(step: NetlinkStep, limits: RequestLimits): boolean {
    try {
      return this.compareExchange(step, limits);
    } catch (err) {
      if (err instanceof NetlinkError) return false;
      throw err;
    }
  }

  /**
   * exchange() for a replay, message by message as exchange reads them (the same ends, the same poisoning), but each
   * answer message compared where it was received, by offsets: no datagram copy, no message objects, no views.
   */
  private compareExchange(step: NetlinkStep, limits: RequestLimits): boolean {
    const op = 'replay';
    const seq = this.send(op, step.type, step.flags, step.payload);
    const cmp = new AnswerComparer(step.answer);
    const batch = receiveBatch(this.libc);
    batch.reset();
    let bytes = 0;
    let kept = 0;
    let interrupted = false;
    for (;;) {
      const slot = this.receive(op, batch, limits, bytes);
      const rx = batch.slots[slot]!;
      const n = batch.lengths[slot]!;
      bytes += n;
      checkMessages(rx, n);
      let complete = false;
      for (let at = 0; at + NLMSG_HDRLEN <= n; ) {
        const len = rx.readUInt32LE(at);
        const type = rx.readUInt16LE(at + 4);
        const mflags = rx.readUInt16LE(at + 6);
        const start = at + NLMSG_HDRLEN;
        const end = at + len;
        const here = at;
        at += align4(len);
        if (rx.readUInt32LE(here + 8) !== seq) continue; // a late answer to an earlier request
        if (type === NLMSG_NOOP) continue;
        if (mflags & NLM_F_DUMP_INTR) interrupted = true;
        if (type === NLMSG_OVERRUN) {
          this.poison();
          throw new NetlinkError(op, 'spawn', 'the kernel reported an overrun');
        }
        if (type === NLMSG_DONE || type === NLMSG_ERROR) {
          tapeEnd(cmp, rx, here, start, end);
          const errno = type === NLMSG_ERROR ? messageErrno(rx.subarray(start, end)) : 0;
          if (answerEnds(step.dump, step.flags, type, mflags, errno) === 'more') continue;
          return !interrupted && cmp.same();
        }
        tapeMessage(cmp, this.protocol, type, rx, here, start, end);
        if (kept + (end - start) > limits.maxBytes) {
          // Cut where it is read, as a read would: the rest of the answer stays queued; the socket is done.
          this.poison();
          return false;
        }
        kept += end - start;
        if (answerEnds(step.dump, step.flags, type, mflags, 0) === 'datagram') complete = true;
      }
      if (complete) return !interrupted && cmp.same();
    }
  }

  /** One exchange, its answer kept when a tape records; a failure that is not a kernel answer makes the tape invalid. */
  private taped(op: string, type: number, flags: number, payload: Buffer, limits: RequestLimits, dump: boolean): Answer {
    try {
      return this.exchange(op, type, flags, payload, limits, dump, this.tape === null ? null : new AnswerRecorder());
    } catch (err) {
      this.tape?.invalidate(`${op}: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  /** Record the exchange on the tape, then return its result or throw the kernel's errno. */
  private settle(op: string, type: number, flags: number, payload: Buffer, dump: boolean, a: Answer): DumpResult {
    if (this.tape !== null) {
      if (a.truncated || a.interrupted || !(a.sink instanceof AnswerRecorder)) this.tape.invalidate(`${op}: ${a.truncated ? 'cut at its byte cap' : 'interrupted'}`);
      else this.tape.record({ kind: 'netlink', role: this.role, dump, type, flags, payload, answer: a.sink.answer() });
    }
    if (a.errno !== 0) {
      const reason = a.errno === Errno.ENOENT || a.errno === Errno.ESRCH ? 'vanished' : 'spawn';
      throw new NetlinkError(op, reason, `the kernel answered ${errnoName(a.errno)}`, { errno: a.errno });
    }
    return { messages: a.messages, truncated: a.truncated, interrupted: a.interrupted, bytes: a.bytes };
  }

  /** Send one request (a fresh sequence number, returned). */
  private send(op: string, type: number, flags: number, payload: Buffer): number {
    if (this.closed) throw new NetlinkError(op, 'spawn', 'socket is closed');
    if (this.poisoned || (this.link.poisoned && this.reopen === null)) throw new NetlinkError(op, 'spawn', 'an earlier request on this socket was cut short');
    if (this.link.poisoned) this.link = this.reopen!().link; // the old fd is its other socket's to close
    const link = this.link;
    const seq = (link.seq = (link.seq + 1) >>> 0);
    const msg = encodeMessage(type, flags, seq, payload);
    if (this.libc.send(link.fd, msg, msg.length, 0) < 0) fail(this.libc, op, 'send');
    return seq;
  }

  /**
   * The next datagram of the answer, within the deadline: its slot in `batch` (the thread's receive batch, reset by
   * the caller: receive-batch.ts; its length in `lengths`), handed out from the last fill or received now. `bytes`
   * (received so far) is for the messages. The deadline is checked before every datagram handed out, as it was
   * before every recv. A failure leaves the rest of the answer queued: the socket is then poisoned.
   */
  private receive(op: string, batch: ReceiveBatch, limits: RequestLimits, bytes: number): number {
    for (;;) {
      const left = limits.deadline - performance.now();
      if (left <= 0) {
        this.poison();
        throw new NetlinkError(op, 'timeout', `no complete answer within the time budget (${bytes} bytes received)`);
      }
      if (batch.next >= batch.count && batch.fill(this.link, left) < 0) {
        const errno = this.libc.errno();
        if (errno === Errno.EINTR) continue;
        this.poison();
        if (errno === Errno.EAGAIN) throw new NetlinkError(op, 'timeout', `the kernel did not answer in time (${bytes} bytes received)`, { errno });
        throw new NetlinkError(op, 'spawn', `recv: ${errnoName(errno)}`, { errno });
      }
      const slot = batch.next++;
      const n = batch.lengths[slot]!;
      if (n > SLOT) {
        this.poison();
        throw new NetlinkError(op, 'output_limit', `a ${n}-byte datagram does not fit the ${SLOT}-byte buffer`);
      }
      return slot;
    }
  }

  /**
   * Send one request and read its answer. `sink`: given each answer message of this request as taped (tape.ts: its
   * length, type and flags, then its payload; of an NLMSG_ERROR / DONE the errno only: an ACK echoes our request
   * header). A replay does not come here: compareExchange compares in place.
   */
  private exchange(op: string, type: number, flags: number, payload: Buffer, limits: RequestLimits, dump: boolean, sink: AnswerSink | null): Answer {
    const seq = this.send(op, type, flags, payload);
    const batch = receiveBatch(this.libc);
    batch.reset();

    const messages: NlMessage[] = [];
    let bytes = 0;
    let kept = 0;
    let truncated = false;
    let interrupted = false;
    const done = (errno: number): Answer => ({ messages, truncated, interrupted, bytes, errno, sink });
    for (;;) {
      const slot = this.receive(op, batch, limits, bytes);
      const n = batch.lengths[slot]!;
      bytes += n;
      // One copy per datagram, out of the receive batch the next fill overwrites; messages are views of it.
      const datagram = Buffer.from(batch.slots[slot]!.subarray(0, n));
      let off = 0;
      let complete = false;
      for (const m of splitMessages(datagram)) {
        const at = off;
        off += align4(NLMSG_HDRLEN + m.payload.length);
        if (m.seq !== seq) continue; // a late answer to an earlier request
        if (m.type === NLMSG_NOOP) continue;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type === NLMSG_OVERRUN) {
          this.poison();
          throw new NetlinkError(op, 'spawn', 'the kernel reported an overrun');
        }
        // Taped: length, type and flags (the header's first 8 bytes), then the payload; of an ERROR/DONE its errno only.
        const payloadStart = at + NLMSG_HDRLEN;
        const payloadEnd = payloadStart + m.payload.length;
        if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) {
          if (sink !== null) tapeEnd(sink, datagram, at, payloadStart, payloadEnd);
          const errno = m.type === NLMSG_ERROR ? messageErrno(m.payload) : 0;
          if (answerEnds(dump, flags, m.type, m.flags, errno) === 'more') continue;
          return done(errno);
        }
        if (sink !== null) tapeMessage(sink, this.protocol, m.type, datagram, at, payloadStart, payloadEnd);
        if (kept + m.payload.length > limits.maxBytes) {
          truncated = true;
          break;
        }
        kept += m.payload.length;
        messages.push(m);
        if (answerEnds(dump, flags, m.type, m.flags, 0) === 'datagram') complete = true;
      }
      if (truncated) {
        // Cut where it is read: the rest of the answer stays queued (freed when the socket is closed).
        this.poison();
        return done(0);
      }
      if (complete) return done(0);
    }
  }
}

/** One exchange's outcome: the answer, or the errno the kernel answered with (0: none). */
interface Answer extends DumpResult {
  errno: number;
  sink: AnswerSink | null;
}
