/**
 * The netlink wire format, pure: message headers (struct nlmsghdr), attributes (struct nlattr, TLV aligned to 4
 * bytes) and the typed reads decoders need. Everything here works on Buffers and either returns or throws a
 * DecodeError: no I/O, no other exception, no loop that does not consume bytes.
 *
 * uapi: linux/netlink.h (nlmsghdr, nlmsgerr, NLM_F_*, NLA_F_*), linux/netfilter/nfnetlink.h (nfgenmsg).
 */
import { DecodeError } from '../../errors.js';

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
/** The dump was interrupted by a change of the object set: its content may be inconsistent. */
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export const align4 = (n: number): number => (n + 3) & ~3;

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the 16-byte header (a view into the received buffer: copy what must outlive it). */
  payload: Buffer;
}

/** One request message: header + payload (the payload is padded to 4 bytes). */
export function encodeMessage(type: number, flags: number, seq: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = NLMSG_HDRLEN + payload.length;
  const buf = Buffer.alloc(align4(len));
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt32LE(0, 12);
  payload.copy(buf, NLMSG_HDRLEN);
  return buf;
}

/** One encoded attribute (header, payload, padding to 4 bytes); `nested` sets NLA_F_NESTED. */
export function encodeAttr(type: number, data: Buffer, nested = false): Buffer {
  const len = NLA_HDRLEN + data.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type | (nested ? NLA_F_NESTED : 0), 2);
  data.copy(b, NLA_HDRLEN);
  return b;
}

/** Every message in one datagram, in order. A length that runs past the buffer is a DecodeError. */
export function splitMessages(buf: Buffer): NlMessage[] {
  checkMessages(buf, buf.length);
  const out: NlMessage[] = [];
  for (let off = 0; off + NLMSG_HDRLEN <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/**
 * Throws the DecodeError splitMessages would for the datagram buf[0, n): a message length that does not fit, or
 * bytes too short for a header and no message. When it returns, every header in it fits (readers walk them in place).
 */
export function checkMessages(buf: Buffer, n: number): void {
  let off = 0;
  let messages = 0;
  while (off + NLMSG_HDRLEN <= n) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > n) {
      throw new DecodeError('nlmsghdr', off, `length ${len} does not fit the ${n - off} bytes left`);
    }
    messages++;
    off += align4(len);
  }
  if (off < n && messages === 0) {
    throw new DecodeError('nlmsghdr', off, `${n - off} bytes are too short for a header`);
  }
}

/** The errno of an NLMSG_ERROR payload (struct nlmsgerr: int error, then the request's header): positive, 0 = ACK. */
export function messageErrno(payload: Buffer): number {
  if (payload.length < 4) throw new DecodeError('nlmsgerr', 0, `${payload.length} bytes, need 4`);
  return -payload.readInt32LE(0);
}

export interface NlAttr {
  /** The attribute type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER flags. */
  type: number;
  nested: boolean;
  data: Buffer;
}

/**
 * The attributes in buf[offset..end) in order (repeated types kept: some families repeat them, e.g. list
 * elements). A length shorter than the header or past the end is a DecodeError; trailing padding is ignored.
 */
export function parseAttrs(buf: Buffer, offset = 0, end = buf.length): NlAttr[] {
  const out: NlAttr[] = [];
  let off = offset;
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > end) {
      throw new DecodeError('nlattr', off, `length ${len} does not fit the ${end - off} bytes left`);
    }
    out.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, data: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type; with repeated types, the last one wins (use parseAttrs to keep them all). */
export function attrMap(buf: Buffer, offset = 0, end = buf.length): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of parseAttrs(buf, offset, end)) m.set(a.type, a.data);
  return m;
}

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) throw new DecodeError(what, 0, `${b.length} bytes, need ${n}`);
}

/** Typed reads of attribute payloads (host byte order is little-endian on every platform the agent runs on). */
export const read = {
  u8(b: Buffer, what = 'u8'): number {
    need(b, 1, what);
    return b.readUInt8(0);
  },
  u16(b: Buffer, what = 'u16'): number {
    need(b, 2, what);
    return b.readUInt16LE(0);
  },
  u32(b: Buffer, what = 'u32'): number {
    need(b, 4, what);
    return b.readUInt32LE(0);
  },
  s32(b: Buffer, what = 's32'): number {
    need(b, 4, what);
    return b.readInt32LE(0);
  },
  /** 64-bit counters as numbers (exact below 2^53, i.e. 8 PiB). */
  u64(b: Buffer, what = 'u64'): number {
    need(b, 8, what);
    return Number(b.readBigUInt64LE(0));
  },
  be16(b: Buffer, what = 'be16'): number {
    need(b, 2, what);
    return b.readUInt16BE(0);
  },
  be32(b: Buffer, what = 'be32'): number {
    need(b, 4, what);
    return b.readUInt32BE(0);
  },
  be64(b: Buffer, what = 'be64'): number {
    need(b, 8, what);
    return Number(b.readBigUInt64BE(0));
  },
  /** A NUL-terminated string (the NUL and anything after it dropped; no NUL: the whole payload). */
  str(b: Buffer): string {
    const nul = b.indexOf(0);
    return b.toString('utf8', 0, nul < 0 ? b.length : nul);
  },
};

/** A fixed-size C struct at the start of a payload: throws a DecodeError when the payload is shorter. */
export function struct(b: Buffer, size: number, what: string): Buffer {
  need(b, size, what);
  return b.subarray(0, size);
}

/** IPv4 / IPv6 address bytes as text (IPv6 in the compressed form `ip` and iptables print). */
export function formatAddress(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) return formatIpv6(b);
  throw new DecodeError('address', 0, `${b.length} bytes is neither IPv4 nor IPv6`);
}

/** RFC 5952 text of 16 bytes (longest run of >= 2 zero groups as `::`, IPv4-mapped as `::ffff:a.b.c.d`). */
export function formatIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(i * 2));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Prefix length of a netmask, or null when the mask is not contiguous. */
export function maskPrefixLength(mask: Buffer): number | null {
  let bits = 0;
  let ended = false;
  for (const byte of mask) {
    for (let i = 7; i >= 0; i--) {
      const set = (byte >> i) & 1;
      if (set && ended) return null;
      if (set) bits++;
      else ended = true;
    }
  }
  return bits;
}
