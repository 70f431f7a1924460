/**
 * The printing primitives iptables' save functions use, reproduced byte for byte (iptables 1.8.9: libxtables
 * xtables.c, iptables/xshared.c; glibc inet_ntop and printf): quoting of strings, numeric IPv4/IPv6 addresses and
 * masks, hex marks, fixed-point decimals. Pure functions; none of them throws.
 */

/** Characters xtables_save_string leaves unquoted (every other character makes it quote the whole value). */
const NO_QUOTE = /^[-_0-9a-zA-Z]+$/;

/**
 * xtables_save_string: ` value` when the value is a non-empty run of `[-_0-9a-zA-Z]`, else ` "value"` with `"`,
 * `\` and `'` escaped by a backslash. The leading space is part of what iptables prints.
 */
export function saveString(value: string): string {
  if (NO_QUOTE.test(value)) return ` ${value}`;
  return ` "${value.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}

/**
 * A C string in buf[offset, offset + size): the bytes before the first NUL, decoded as UTF-8 the way a reader of
 * the tools' output decodes them. Null when there is no NUL in the field (C code would read past it).
 */
export function cString(buf: Buffer, offset: number, size: number): string | null {
  const end = Math.min(buf.length, offset + size);
  const nul = buf.indexOf(0, offset);
  if (nul < 0 || nul >= end) return null;
  return buf.toString('utf8', offset, nul);
}

/** A string field a save function cuts itself (e.g. comment[255] = 0): the bytes before the first NUL or the cut. */
export function cStringCut(buf: Buffer, offset: number, maxLen: number): string {
  const end = Math.min(buf.length, offset + maxLen);
  const nul = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, nul < 0 || nul > end ? end : nul);
}

/** Dotted quad of 4 bytes at offset (network order), as inet_ntop / xtables_ipaddr_to_numeric print it. */
export function ipv4At(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** glibc inet_ntop(AF_INET6) of 16 bytes at offset: longest zero run (>= 2 groups, first wins) as `::`, `::a.b.c.d` forms. */
export function ipv6At(buf: Buffer, offset: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(buf.readUInt16BE(offset + i * 2));
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      out += ipv4At(buf, offset + 12);
      return out;
    }
    out += w[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** xtables_ipmask_to_cidr of a network-order IPv4 mask at offset: the prefix length, or -1 when not contiguous. */
export function ipv4MaskCidr(buf: Buffer, offset: number): number {
  const m = buf.readUInt32BE(offset);
  if (m === 0) return 0;
  const inv = ~m >>> 0;
  // Contiguous: the inverted mask is 2^k - 1.
  if ((inv & (inv + 1)) !== 0) return -1;
  return 32 - Math.log2(inv + 1);
}

/** xtables_ip6mask_to_cidr of the 16-byte mask at offset: prefix length, or -1 when not contiguous. */
export function ipv6MaskCidr(buf: Buffer, offset: number): number {
  let bits = 0;
  let ended = false;
  for (let i = 0; i < 16; i++) {
    const byte = buf[offset + i]!;
    for (let b = 7; b >= 0; b--) {
      const set = (byte >> b) & 1;
      if (set && ended) return -1;
      if (set) bits++;
      else ended = true;
    }
  }
  return bits;
}

/** xtables_ipmask_to_numeric: `` for /32, `/n` for a prefix, `/a.b.c.d` for a non-contiguous mask. */
export function ipv4MaskNumeric(buf: Buffer, offset: number): string {
  const cidr = ipv4MaskCidr(buf, offset);
  if (cidr === -1) return `/${ipv4At(buf, offset)}`;
  return cidr === 32 ? '' : `/${cidr}`;
}

/** xtables_ip6mask_to_numeric: `` for /128, `/n`, or `/<mask as an address>`. */
export function ipv6MaskNumeric(buf: Buffer, offset: number): string {
  const cidr = ipv6MaskCidr(buf, offset);
  if (cidr === -1) return `/${ipv6At(buf, offset)}`;
  return cidr === 128 ? '' : `/${cidr}`;
}

/** printf("%x") of an unsigned 32-bit value. */
export function hex(n: number): string {
  return (n >>> 0).toString(16);
}

/** printf("%.4x") of a value below 2^16. */
export function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/**
 * printf("%.<digits>f", numerator / denominator) for non-negative integers, exactly as glibc prints the double:
 * the quotient is computed exactly and an exact tie rounds to even. Valid when numerator / denominator is exactly
 * representable as a double (callers pass a 32-bit numerator over a power of two).
 */
export function fixedPoint(numerator: bigint, denominator: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const num = numerator * scale;
  let q = num / denominator;
  const r2 = (num % denominator) * 2n;
  if (r2 > denominator || (r2 === denominator && q % 2n === 1n)) q += 1n;
  const int = q / scale;
  const frac = (q % scale).toString().padStart(digits, '0');
  return digits === 0 ? int.toString() : `${int}.${frac}`;
}

/** xtables_print_mark_mask / xtables_print_val_mask without a name map: ` 0xV` or ` 0xV/0xM` (mask != ~0). */
export function markMask(mark: number, mask: number): string {
  return mask >>> 0 === 0xffffffff ? ` 0x${hex(mark)}` : ` 0x${hex(mark)}/0x${hex(mask)}`;
}
