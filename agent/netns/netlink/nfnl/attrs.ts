/**
 * Typed access to one attribute block of an nf_tables or ipset message. nf_tables and ipset put every number in
 * network byte order (NLA_U32 / NLA_U64 written with htonl / cpu_to_be64): `u16`/`u32`/`u64` read big-endian.
 * Missing optional attributes read as null; a present attribute of the wrong size is a DecodeError.
 *
 * The block is scanned once into offsets (no Buffer view or object per attribute until `raw` asks for one): a
 * 2,000-member ipset decodes one of these per member.
 */
import { DecodeError } from '../../../errors.js';
import { NLA_HDRLEN, align4, parseAttrs, type NlAttr } from '../nlmsg.js';

const TYPE_MASK = 0x3fff;

export class Attrs {
  /** Offset of each attribute's payload by type (repeated types: the last one wins), and its length. */
  private readonly at: number[] = [];
  private readonly len: number[] = [];

  /** Attributes of buf[offset..end); a length shorter than the header or past the end is a DecodeError. */
  constructor(
    readonly what: string,
    private readonly buf: Buffer,
    offset = 0,
    end = buf.length,
  ) {
    let off = offset;
    while (off + NLA_HDRLEN <= end) {
      const len = buf.readUInt16LE(off);
      if (len < NLA_HDRLEN || off + len > end) throw new DecodeError('nlattr', off, `length ${len} does not fit the ${end - off} bytes left`);
      const type = buf.readUInt16LE(off + 2) & TYPE_MASK;
      this.at[type] = off + NLA_HDRLEN;
      this.len[type] = len - NLA_HDRLEN;
      off += align4(len);
    }
  }

  has(type: number): boolean {
    return this.at[type] !== undefined;
  }

  raw(type: number): Buffer | null {
    const at = this.at[type];
    return at === undefined ? null : this.buf.subarray(at, at + this.len[type]!);
  }

  /** The payload offset of a present attribute whose length is at least `size`, or null when absent. */
  private fixed(type: number, size: number): number | null {
    const at = this.at[type];
    if (at === undefined) return null;
    if (this.len[type]! < size) throw new DecodeError(`${this.what} attr ${type}`, at, `${this.len[type]} bytes, need ${size}`);
    return at;
  }

  u8(type: number): number | null {
    const at = this.fixed(type, 1);
    return at === null ? null : this.buf[at]!;
  }

  /** A be16 attribute (ports, log groups). */
  u16(type: number): number | null {
    const at = this.fixed(type, 2);
    return at === null ? null : this.buf.readUInt16BE(at);
  }

  u32(type: number): number | null {
    const at = this.fixed(type, 4);
    return at === null ? null : this.buf.readUInt32BE(at);
  }

  /** A be32 attribute holding a signed value (hook priorities, verdict codes). */
  s32(type: number): number | null {
    const at = this.fixed(type, 4);
    return at === null ? null : this.buf.readInt32BE(at);
  }

  /** 64-bit counters as numbers (exact below 2^53). */
  u64(type: number): number | null {
    const at = this.fixed(type, 8);
    return at === null ? null : this.buf.readUInt32BE(at) * 0x1_0000_0000 + this.buf.readUInt32BE(at + 4);
  }

  /** A NUL-terminated string (the NUL and anything after it dropped; no NUL: the whole payload). */
  str(type: number): string | null {
    const at = this.at[type];
    if (at === undefined) return null;
    const end = at + this.len[type]!;
    const nul = this.buf.indexOf(0, at);
    return this.buf.toString('utf8', at, nul < 0 || nul > end ? end : nul);
  }

  /** A required attribute: DecodeError when absent. */
  need<T>(value: T | null, type: number): T {
    if (value === null) throw new DecodeError(this.what, 0, `attribute ${type} is missing`);
    return value;
  }

  /** Every attribute in the block, in order (for nested lists). */
  static list(buf: Buffer): NlAttr[] {
    return parseAttrs(buf);
  }
}

/** Hex text of bytes (how the model keeps raw data: JSON-serialisable). */
export function hex(b: Buffer): string {
  return b.toString('hex');
}
