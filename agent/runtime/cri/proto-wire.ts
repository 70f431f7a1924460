/**
 * Protocol Buffers wire format (protobuf.dev/programming-guides/encoding): the few primitives the CRI codec needs.
 * Pure and total: a reader over arbitrary bytes returns values or throws DecodeError, never anything else; it never
 * reads past `end` and never loops without consuming input.
 *
 * Varints are read as two 32-bit halves, so no BigInt is made unless a 64-bit value does not fit a double exactly.
 */
import { DecodeError } from '../../errors.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_SGROUP = 3;
export const WIRE_EGROUP = 4;
export const WIRE_I32 = 5;

/** Nesting of groups skipped in unknown fields (and of messages, by the schema decoder) before giving up. */
export const MAX_DEPTH = 64;

/**
 * Reads fields without allocating: a varint's high half, a tag's wire type and a length-delimited field's end are
 * left in fields of the reader (`hi`, `wire`, `fieldEnd`) instead of returned in an object (at 110 pods the decoder
 * read ~40,000 varints per collection, each an object before).
 */
export class ProtoReader {
  pos: number;
  /** Where reading stops: the end of the buffer, or of the sub-message being decoded (the decoder narrows it). */
  end: number;
  /** High 32 bits (unsigned) of the last varint read. */
  hi = 0;
  /** Wire type of the last tag read. */
  wire = 0;
  /** End of the last length-delimited field read (its start is the returned value). */
  fieldEnd = 0;

  constructor(
    public buf: Buffer,
    readonly what: string,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  /** Read `buf[start, end)` from now on (a reader reused across items instead of one made per item). */
  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string, at = this.pos): never {
    throw new DecodeError(this.what, at, message);
  }

  /** A varint of up to 10 bytes (bits beyond 64 are dropped, as protobuf does): its low 32 bits, the high ones in `hi`. */
  varint64(): number {
    const at = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint', at);
      const b = this.buf[this.pos++]!;
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if ((b & 0x80) === 0) {
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    return this.fail('varint longer than 10 bytes', at);
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths). */
  uint32(): number {
    return this.varint64();
  }

  /** A length-delimited field's extent, checked against the bytes left: returns its start, its end is in `fieldEnd`. */
  lengthDelimited(): number {
    const at = this.pos;
    const lo = this.varint64();
    const hi = this.hi;
    if (hi !== 0 || lo > this.end - this.pos) this.fail(`length ${hi !== 0 ? '>= 2^32' : lo} exceeds the ${this.end - this.pos} bytes left`, at);
    const start = this.pos;
    this.pos += lo;
    this.fieldEnd = this.pos;
    return start;
  }

  /** The next tag: returns the field number, the wire type is in `wire` (field 0 and wire types 6, 7 do not exist). */
  tag(): number {
    const at = this.pos;
    const lo = this.varint64();
    const field = lo >>> 3;
    const wire = lo & 7;
    if (this.hi !== 0 || field === 0) this.fail(`invalid field number ${this.hi !== 0 ? '>= 2^29' : field}`, at);
    if (wire > 5) this.fail(`invalid wire type ${wire} (field ${field})`, at);
    this.wire = wire;
    return field;
  }

  /** Skip one field's value of the given wire type (groups with everything inside, bounded by MAX_DEPTH). */
  skip(wire: number, field: number, depth = 0): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_SGROUP: {
        if (depth >= MAX_DEPTH) this.fail(`groups nested deeper than ${MAX_DEPTH}`);
        for (;;) {
          if (this.done) this.fail(`group ${field} not closed`);
          const f = this.tag();
          if (this.wire === WIRE_EGROUP) {
            if (f !== field) this.fail(`group ${field} closed as ${f}`);
            return;
          }
          this.skip(this.wire, f, depth + 1);
        }
      }
      default:
        this.fail(`unexpected end of group ${field}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) this.fail(`truncated fixed-size field (${n} bytes, ${this.end - this.pos} left)`);
    this.pos += n;
  }
}

const TWO_32 = 0x1_0000_0000;

/** Decimal text of a varint (low and high 32 bits, unsigned) read as int64 (two's complement) or uint64. */
export function varintToDecimal(lo: number, hi: number, signed: boolean): string {
  if (signed && hi >= 0x8000_0000) return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
  if (hi < 0x20_0000) return String(hi * TWO_32 + lo);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/** Growable output buffer for encoding. */
export class ProtoWriter {
  private buf = Buffer.allocUnsafe(64);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** A varint of a 64-bit value given as a BigInt (negative int64 values as their two's complement). */
  varintBig(v: bigint): void {
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    do {
      const low = Number(u & 0x7fn);
      u >>= 7n;
      this.buf[this.len++] = low | (u > 0n ? 0x80 : 0);
    } while (u > 0n);
  }

  /** A varint of a non-negative integer below 2^53. */
  varint(v: number): void {
    if (v < 0 || !Number.isSafeInteger(v)) {
      this.varintBig(BigInt(Math.trunc(v)));
      return;
    }
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, b: Buffer): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
