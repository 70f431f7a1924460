/**
 * The tape of one namespace read: every request it sent (netlink requests and dumps, legacy xtables and SO_IP_SET
 * getsockopt calls), in order, each with the kernel's whole answer. The next read of that namespace first replays
 * the tape (read-namespace.ts): the same requests, each answer compared byte for byte as it is received, nothing
 * decoded. When every answer is the same, the namespace is unchanged and the previous NetnsState is reused as it was.
 *
 * Why that is sufficient, whatever happened between the two reads (PID or inode reuse, setns, a rule added and
 * removed, counters moving with traffic): a read is a deterministic function of its job parameters (byte cap), of
 * what openHandles saw inside the namespace (legacy table names, the sockets it could open: the tape's `key`) and of
 * the kernel's answers, each request being chosen from the answers before it. By induction, identical answers to the
 * same requests give the identical request sequence and the identical state. The answers are compared whole,
 * counters, generation ids and errno included; only what differs per socket or per request is left out (netlink
 * sequence numbers and port ids, the request header an ACK echoes). A read that timed out, was cut at its byte cap,
 * saw an interrupted dump or hit any failure other than a kernel errno answer leaves no tape (`invalid`): its state
 * depends on more than the answers. The comparison is exact (no digest), so there is no collision to argue about.
 *
 * An answer as taped: per answer message of the request up to where the answer ends (socket.ts answerEnds: a
 * dump's NLMSG_DONE, a get's reply or NLMSG_ERROR), its nlmsghdr length, type and flags (8 bytes) then its
 * payload, or of an NLMSG_ERROR / NLMSG_DONE the 4-byte error only; of a getsockopt: i32 errno, u32 bytes written,
 * then (errno 0) the whole buffer after the call. Left out of the payload (header kept, value not): the attributes
 * the kernel changes by itself or per requester and that no decoder reads (UNREAD_ATTRS: a link's traffic counters
 * and per-family blocks, address and route cache info, the asking thread's pid in the nf_tables generation). The state is a function of the rest, so they cannot make it
 * stale; test/netns/netlink/tape.test.ts proves on real messages that changing them changes no decoded value.
 *
 * Encoded as one byte array (cheap to post between threads): u32 key length, key (UTF-8), then steps:
 * - netlink: u8 0, u8 role, u8 dump, u8 0, u16 type, u16 flags, u32 payload length, payload, u32 answer length, answer;
 * - getsockopt: u8 1, u8 role, u16 0, u32 level, u32 name, u32 buffer length, u32 prefix length, prefix (the input
 *   buffer up to its last non-zero byte; the rest is zeros), u32 answer length, answer.
 */
import { DecodeError } from '../../errors.js';

/** Which socket of the read a step went to (NamespaceHandles). */
export type NetlinkRole = 'route' | 'tcRoute' | 'netfilter' | 'ipsetNetfilter';
export type RawRole = 'raw4' | 'raw6';

const NETLINK_ROLES: readonly NetlinkRole[] = ['route', 'tcRoute', 'netfilter', 'ipsetNetfilter'];
const RAW_ROLES: readonly RawRole[] = ['raw4', 'raw6'];

export interface NetlinkStep {
  kind: 'netlink';
  role: NetlinkRole;
  dump: boolean;
  type: number;
  /**
   * The nlmsghdr flags sent (NLM_F_REQUEST | NLM_F_DUMP, or NLM_F_REQUEST | extra for a get): with `dump`, they say
   * where the answer ends (socket.ts answerEnds), for the replay as for the read.
   */
  flags: number;
  payload: Buffer;
  answer: Buffer;
}

export interface SockoptStep {
  kind: 'sockopt';
  role: RawRole;
  level: number;
  name: number;
  /** The buffer passed in (input and output): its first bytes, the rest up to `size` being zeros. */
  input: Buffer;
  /** The buffer's length. */
  size: number;
  answer: Buffer;
}

export type Step = NetlinkStep | SockoptStep;

export interface Script {
  /** What the read saw before its first request (tape `key`): a replay under another key is not attempted. */
  key: string;
  steps: Step[];
}

const NETLINK_ROUTE = 0;
const NETLINK_NETFILTER = 12;
const RTM_NEWLINK = 16;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
/** NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN. */
const NFT_NEWGEN = (10 << 8) | 15;

/** An answer message kind whose listed attributes a tape leaves out: the fixed header before the attributes. */
export interface UnreadSpec {
  protocol: number;
  type: number;
  header: number;
  attrs: ReadonlySet<number>;
}

/**
 * Attributes left out of a taped answer: values the kernel changes by itself or per requester, that no decoder reads.
 * RTM_NEWLINK: IFLA_STATS, IFLA_STATS64 (traffic counters; RTEXT_FILTER_SKIP_STATS does not drop them),
 * IFLA_AF_SPEC (per-family blocks: inet6 reachable time is re-randomised every few minutes); RTM_NEWADDR:
 * IFA_CACHEINFO (lifetimes counting down); RTM_NEWROUTE: RTA_CACHEINFO (last use, expiry); NFT_MSG_NEWGEN:
 * NFTA_GEN_PROC_PID and NFTA_GEN_PROC_NAME (the thread asking: each reader thread has its own). Only attributes the
 * decoders (rtnl/link.ts, addr.ts, route.ts, nfnl/nft-gen.ts) never read may be listed here.
 */
export const UNREAD_ATTRS: readonly UnreadSpec[] = [
  { protocol: NETLINK_ROUTE, type: RTM_NEWLINK, header: 16, attrs: new Set([7, 23, 26]) },
  { protocol: NETLINK_ROUTE, type: RTM_NEWADDR, header: 8, attrs: new Set([6]) },
  { protocol: NETLINK_ROUTE, type: RTM_NEWROUTE, header: 12, attrs: new Set([12]) },
  { protocol: NETLINK_NETFILTER, type: NFT_NEWGEN, header: 4, attrs: new Set([2, 3]) },
];

/** The byte ranges of `payload` (a message of `type` on a `protocol` socket) a tape leaves out: UNREAD_ATTRS values. Pure. */
export function unreadRanges(protocol: number, type: number, payload: Buffer): [number, number][] {
  return unreadRangesIn(protocol, type, payload, 0, payload.length);
}

/** unreadRanges of the payload at buf[start, end), as offsets in buf. Pure. */
function unreadRangesIn(protocol: number, type: number, buf: Buffer, start: number, end: number): [number, number][] {
  const spec = UNREAD_ATTRS.find((u) => u.type === type && u.protocol === protocol);
  if (spec === undefined) return [];
  const out: [number, number][] = [];
  let off = start + spec.header;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) return out; // malformed: the rest is taped whole
    if (spec.attrs.has(buf.readUInt16LE(off + 2) & 0x3fff) && len > 4) out.push([off + 4, off + len]);
    off += (len + 3) & ~3;
  }
  return out;
}

/**
 * Give `sink` the taped parts of the message at buf[at..] (its payload buf[payloadStart, payloadEnd)): its header's
 * length, type and flags, and its payload but the unread values. The one definition of a taped message: a recorded
 * read and a replay's comparison both go through it.
 */
export function tapeMessage(sink: AnswerSink, protocol: number, type: number, buf: Buffer, at: number, payloadStart: number, payloadEnd: number): void {
  sink.addRange(buf, at, at + 8);
  let from = payloadStart;
  for (const [start, end] of unreadRangesIn(protocol, type, buf, payloadStart, payloadEnd)) {
    sink.addRange(buf, from, start);
    from = end;
  }
  sink.addRange(buf, from, payloadEnd);
}

/** An NLMSG_DONE / NLMSG_ERROR at buf[at..] as taped: length, type and flags, then its errno only (an ACK echoes our request header). */
export function tapeEnd(sink: AnswerSink, buf: Buffer, at: number, payloadStart: number, payloadEnd: number): void {
  sink.addRange(buf, at, at + 8);
  sink.addRange(buf, payloadStart, Math.min(payloadStart + 4, payloadEnd));
}

/** Where an exchange puts the parts of its answer as it receives them (socket.ts): buf[start, end) is the next one. */
export interface AnswerSink {
  addRange(buf: Buffer, start: number, end: number): void;
}

/** Keeps the answer (a recorded read); the parts must stay valid until answer() (views of a kept datagram). */
export class AnswerRecorder implements AnswerSink {
  private readonly parts: Buffer[] = [];
  addRange(buf: Buffer, start: number, end: number): void {
    this.parts.push(buf.subarray(start, end));
  }
  answer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Parts up to this many bytes are compared in JavaScript (a native compare call costs more than the loop). */
const SMALL_COMPARE = 24;

/**
 * Compares an answer with a taped one as it arrives (a replay), by ranges of the buffer it is received in: nothing is
 * copied nor viewed (a replay makes ~17 requests per namespace; views and parts were most of its JavaScript CPU).
 * It is given the parts tapeMessage / tapeEnd give a recorder, so `same()` holds exactly when the answer as taped
 * would be byte for byte the taped one.
 */
export class AnswerComparer implements AnswerSink {
  private at = 0;
  differs = false;
  constructor(private readonly expected: Buffer) {}

  /** buf[start, end) is the next part of the answer. */
  addRange(buf: Buffer, start: number, end: number): void {
    if (this.differs) return;
    const n = end - start;
    const to = this.at + n;
    const exp = this.expected;
    if (to > exp.length) {
      this.differs = true;
      return;
    }
    if (n <= SMALL_COMPARE) {
      for (let i = 0; i < n; i++) {
        if (buf[start + i] !== exp[this.at + i]) {
          this.differs = true;
          return;
        }
      }
    } else if (buf.compare(exp, this.at, to, start, end) !== 0) {
      this.differs = true;
      return;
    }
    this.at = to;
  }

  /** True when the whole taped answer was received and nothing else. */
  same(): boolean {
    return !this.differs && this.at === this.expected.length;
  }
}

/** A getsockopt answer as taped: errno, bytes written, and (errno 0) the whole buffer after the call. */
export function sockoptAnswer(written: number, buf: Buffer, errno: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32LE(errno, 0);
  head.writeUInt32LE(written >>> 0, 4);
  return errno === 0 ? Buffer.concat([head, buf]) : head;
}

/** Records the steps of one read; `invalid` once anything made the read depend on more than the answers. */
export class Tape {
  readonly steps: Step[] = [];
  invalid: string | null = null;

  invalidate(why: string): void {
    this.invalid ??= why;
  }

  record(step: Step): void {
    if (this.invalid === null) this.steps.push(step);
  }

  /** The script, or null when the read cannot be replayed. */
  script(key: string): Script | null {
    return this.invalid === null ? { key, steps: this.steps } : null;
  }
}

function lastNonZero(buf: Buffer): number {
  for (let i = buf.length - 1; i >= 0; i--) if (buf[i] !== 0) return i + 1;
  return 0;
}

function lengthOf(b: Buffer): Buffer {
  const l = Buffer.alloc(4);
  l.writeUInt32LE(b.length, 0);
  return l;
}

export function encodeScript(s: Script): Uint8Array {
  const key = Buffer.from(s.key, 'utf8');
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeUInt32LE(key.length, 0);
  parts.push(head, key);
  for (const st of s.steps) {
    if (st.kind === 'netlink') {
      const h = Buffer.alloc(12);
      h.writeUInt8(0, 0);
      h.writeUInt8(NETLINK_ROLES.indexOf(st.role), 1);
      h.writeUInt8(st.dump ? 1 : 0, 2);
      h.writeUInt16LE(st.type, 4);
      h.writeUInt16LE(st.flags, 6);
      h.writeUInt32LE(st.payload.length, 8);
      parts.push(h, st.payload, lengthOf(st.answer), st.answer);
    } else {
      const prefix = st.input.subarray(0, Math.min(st.size, lastNonZero(st.input)));
      const h = Buffer.alloc(20);
      h.writeUInt8(1, 0);
      h.writeUInt8(RAW_ROLES.indexOf(st.role), 1);
      h.writeUInt32LE(st.level, 4);
      h.writeUInt32LE(st.name, 8);
      h.writeUInt32LE(st.size, 12);
      h.writeUInt32LE(prefix.length, 16);
      parts.push(h, prefix, lengthOf(st.answer), st.answer);
    }
  }
  return Buffer.concat(parts);
}

/** `n` bytes at `off` of `b`, or a DecodeError naming what was expected there. */
function need(b: Buffer, off: number, n: number, what: string): void {
  if (off + n > b.length) throw new DecodeError(`tape ${what}`, off, `${n} bytes needed, ${b.length - off} left`);
}

/**
 * Decode an encoded script (it crossed a thread boundary as a Uint8Array). Throws DecodeError. Every replay decodes
 * its tape: steps are views of `bytes` (nothing copied; a getsockopt's input is its taped non-zero prefix).
 */
export function decodeScript(bytes: Uint8Array): Script {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  need(b, 0, 4, 'key length');
  const keyLen = b.readUInt32LE(0);
  need(b, 4, keyLen, 'key');
  const key = b.toString('utf8', 4, 4 + keyLen);
  const steps: Step[] = [];
  let off = 4 + keyLen;
  while (off < b.length) {
    const kind = b[off];
    if (kind === 0) {
      need(b, off, 12, 'netlink step');
      const role = NETLINK_ROLES[b[off + 1]!];
      if (role === undefined) throw new DecodeError('tape netlink step', off + 1, `unknown role ${b[off + 1]}`);
      const len = b.readUInt32LE(off + 8);
      const at = off + 12 + len;
      need(b, off + 12, len + 4, 'netlink step payload and answer length');
      const n = b.readUInt32LE(at);
      need(b, at + 4, n, 'netlink step answer');
      steps.push({ kind: 'netlink', role, dump: b[off + 2] === 1, type: b.readUInt16LE(off + 4), flags: b.readUInt16LE(off + 6), payload: b.subarray(off + 12, at), answer: b.subarray(at + 4, at + 4 + n) });
      off = at + 4 + n;
    } else if (kind === 1) {
      need(b, off, 20, 'getsockopt step');
      const role = RAW_ROLES[b[off + 1]!];
      if (role === undefined) throw new DecodeError('tape getsockopt step', off + 1, `unknown role ${b[off + 1]}`);
      const size = b.readUInt32LE(off + 12);
      const plen = b.readUInt32LE(off + 16);
      if (plen > size) throw new DecodeError('tape getsockopt step', off + 16, `prefix ${plen} > buffer ${size}`);
      const at = off + 20 + plen;
      need(b, off + 20, plen + 4, 'getsockopt step prefix and answer length');
      const n = b.readUInt32LE(at);
      need(b, at + 4, n, 'getsockopt step answer');
      steps.push({ kind: 'sockopt', role, level: b.readUInt32LE(off + 4), name: b.readUInt32LE(off + 8), input: b.subarray(off + 20, at), size, answer: b.subarray(at + 4, at + 4 + n) });
      off = at + 4 + n;
    } else {
      throw new DecodeError('tape step', off, `unknown kind ${kind}`);
    }
  }
  return { key, steps };
}
