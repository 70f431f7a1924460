/** Builds extension info blobs field by field, as the uapi structs lay them out (little-endian host). */
export class Blob {
  readonly b: Buffer;
  constructor(size: number) {
    this.b = Buffer.alloc(size);
  }
  u8(off: number, v: number): this {
    this.b.writeUInt8(v, off);
    return this;
  }
  u16(off: number, v: number): this {
    this.b.writeUInt16LE(v, off);
    return this;
  }
  be16(off: number, v: number): this {
    this.b.writeUInt16BE(v, off);
    return this;
  }
  u32(off: number, v: number): this {
    this.b.writeUInt32LE(v >>> 0, off);
    return this;
  }
  s32(off: number, v: number): this {
    this.b.writeInt32LE(v, off);
    return this;
  }
  u64(off: number, v: bigint): this {
    this.b.writeBigUInt64LE(v, off);
    return this;
  }
  /** Network-order address bytes (dotted quad or IPv6 hex groups). */
  ip(off: number, text: string): this {
    if (text.includes('.')) {
      text.split('.').forEach((p, i) => this.b.writeUInt8(Number(p), off + i));
    } else {
      const [head, tail] = text.split('::') as [string, string | undefined];
      const h = head ? head.split(':') : [];
      const t = tail ? tail.split(':') : [];
      const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
      groups.forEach((g, i) => this.b.writeUInt16BE(parseInt(g, 16), off + i * 2));
    }
    return this;
  }
  str(off: number, s: string): this {
    this.b.write(s, off, 'utf8');
    return this;
  }
  bytes(off: number, bytes: number[]): this {
    Buffer.from(bytes).copy(this.b, off);
    return this;
  }
}
