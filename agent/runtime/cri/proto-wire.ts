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

/** A 64-bit varint as its low and high 32 bits (both unsigned). */
export interface Varint64 {
  lo: number;
  hi: number;
}

export class ProtoReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    readonly what: string,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string, at = this.pos): never {
    throw new DecodeError(this.what, at, message);
  }

  /** A varint of up to 10 bytes (bits beyond 64 are dropped, as protobuf does). */
  varint64(): Varint64 {
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
      if ((b & 0x80) === 0) return { lo: lo >>> 0, hi: hi >>> 0 };
    }
    return this.fail('varint longer than 10 bytes', at);
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths). */
  uint32(): number {
    return this.varint64().lo;
  }

  /** A length-delimited field's extent [start, end), checked against the bytes left. */
  lengthDelimited(): { start: number; end: number } {
    const at = this.pos;
    const { lo, hi } = this.varint64();
    if (hi !== 0 || lo > this.end - this.pos) this.fail(`length ${hi !== 0 ? '>= 2^32' : lo} exceeds the ${this.end - this.pos} bytes left`, at);
    const start = this.pos;
    this.pos += lo;
    return { start, end: this.pos };
  }

  /** The next tag: field number and wire type (field 0 and wire types 6, 7 do not exist). */
  tag(): { field: number; wire: number } {
    const at = this.pos;
    const { lo, hi } = this.varint64();
    const field = lo >>> 3;
    const wire = lo & 7;
    if (hi !== 0 || field === 0) this.fail(`invalid field number ${hi !== 0 ? '>= 2^29' : field}`, at);
    if (wire > 5) this.fail(`invalid wire type ${wire} (field ${field})`, at);
    return { field, wire };
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
          const t = this.tag();
          if (t.wire === WIRE_EGROUP) {
            if (t.field !== field) this.fail(`group ${field} closed as ${t.field}`);
            return;
          }
          this.skip(t.wire, t.field, depth + 1);
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

/** Decimal text of a varint read as int64 (two's complement) or uint64. */
export function varintToDecimal(v: Varint64, signed: boolean): string {
  if (signed && v.hi >= 0x8000_0000) return BigInt.asIntN(64, (BigInt(v.hi) << 32n) | BigInt(v.lo)).toString();
  if (v.hi < 0x20_0000) return String(v.hi * TWO_32 + v.lo);
  return ((BigInt(v.hi) << 32n) | BigInt(v.lo)).toString();
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
