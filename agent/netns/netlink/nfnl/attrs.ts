/**
 * Typed access to one attribute block of an nf_tables or ipset message. nf_tables and ipset put every number in
 * network byte order (NLA_U32 / NLA_U64 written with htonl / cpu_to_be64): `u32`/`u64` read big-endian.
 * Missing optional attributes read as null; a present attribute of the wrong size is a DecodeError.
 */
import { DecodeError } from '../../../errors.js';
import { parseAttrs, read, type NlAttr } from '../nlmsg.js';

export class Attrs {
  private readonly byType = new Map<number, NlAttr>();

  /** Attributes of buf[offset..end); with repeated types the last one wins (`all` keeps every one). */
  constructor(
    readonly what: string,
    buf: Buffer,
    offset = 0,
    end = buf.length,
  ) {
    for (const a of parseAttrs(buf, offset, end)) this.byType.set(a.type, a);
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  raw(type: number): Buffer | null {
    return this.byType.get(type)?.data ?? null;
  }

  u8(type: number): number | null {
    const b = this.raw(type);
    return b === null ? null : read.u8(b, `${this.what} attr ${type}`);
  }

  /** A be16 attribute (ports in ipset). */
  u16(type: number): number | null {
    const b = this.raw(type);
    return b === null ? null : read.be16(b, `${this.what} attr ${type}`);
  }

  u32(type: number): number | null {
    const b = this.raw(type);
    return b === null ? null : read.be32(b, `${this.what} attr ${type}`);
  }

  /** A be32 attribute holding a signed value (hook priorities, verdict codes). */
  s32(type: number): number | null {
    const b = this.raw(type);
    if (b === null) return null;
    if (b.length < 4) throw new DecodeError(`${this.what} attr ${type}`, 0, `${b.length} bytes, need 4`);
    return b.readInt32BE(0);
  }

  u64(type: number): number | null {
    const b = this.raw(type);
    return b === null ? null : read.be64(b, `${this.what} attr ${type}`);
  }

  str(type: number): string | null {
    const b = this.raw(type);
    return b === null ? null : read.str(b);
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
