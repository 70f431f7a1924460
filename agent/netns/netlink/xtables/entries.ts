/**
 * The legacy xtables blob, pure: struct ipt_getinfo / ip6t_getinfo, and the entry table of IPT_SO_GET_ENTRIES /
 * IP6T_SO_GET_ENTRIES (include/uapi/linux/netfilter_ipv4/ip_tables.h, netfilter_ipv6/ip6_tables.h,
 * netfilter/x_tables.h). Every length is checked against the buffer: malformed bytes give a DecodeError.
 *
 * struct ipt_entry (112 bytes): ipt_ip { src, dst, smsk, dmsk (4 each); iniface[16], outiface[16],
 *   iniface_mask[16], outiface_mask[16]; u16 proto; u8 flags, invflags } (84), u32 nfcache, u16 target_offset,
 *   u16 next_offset, u32 comefrom, xt_counters { u64 pcnt, bcnt } at 96.
 * struct ip6t_entry (168 bytes): ip6t_ip6 { src, dst, smsk, dmsk (16 each); the four interface fields; u16 proto;
 *   u8 tos, flags, invflags } (136), u32 nfcache, u16 target_offset at 140, next_offset 142, comefrom, counters at 152.
 * Then the matches (struct xt_entry_match: u16 match_size, char name[29], u8 revision, data) up to target_offset,
 * and the target (struct xt_entry_target, same header) up to next_offset.
 */
import { DecodeError } from '../../../errors.js';
import type { IpFamily } from '../../model/iptables.js';

export const XT_TABLE_MAXNAMELEN = 32;
export const NF_INET_NUMHOOKS = 5;
/** sizeof(struct ipt_getinfo) == sizeof(struct ip6t_getinfo). */
export const GETINFO_SIZE = 84;
/** offsetof(struct ipt_get_entries, entrytable) (name[32], u32 size, 8-aligned table). */
export const GET_ENTRIES_HEADER = 40;
const XT_ENTRY_HEADER = 32;
const XT_EXTENSION_MAXNAMELEN = 29;

export interface TableInfo {
  name: string;
  validHooks: number;
  hookEntry: number[];
  underflow: number[];
  numEntries: number;
  size: number;
}

/** struct ipt_getinfo / ip6t_getinfo. */
export function decodeGetInfo(b: Buffer): TableInfo {
  if (b.length < GETINFO_SIZE) throw new DecodeError('ipt_getinfo', 0, `${b.length} bytes, need ${GETINFO_SIZE}`);
  const nul = b.indexOf(0);
  const hookEntry: number[] = [];
  const underflow: number[] = [];
  for (let i = 0; i < NF_INET_NUMHOOKS; i++) {
    hookEntry.push(b.readUInt32LE(36 + i * 4));
    underflow.push(b.readUInt32LE(56 + i * 4));
  }
  return {
    name: b.toString('utf8', 0, nul < 0 || nul > XT_TABLE_MAXNAMELEN ? XT_TABLE_MAXNAMELEN : nul),
    validHooks: b.readUInt32LE(32),
    hookEntry,
    underflow,
    numEntries: b.readUInt32LE(76),
    size: b.readUInt32LE(80),
  };
}

/**
 * The IP header part of an entry: the table buffer and the entry's offset (addresses, masks and interface fields
 * are read in place by the renderer, at the offsets of IP_FIELDS), and the small fields decoded.
 */
export interface EntryIp {
  buf: Buffer;
  off: number;
  proto: number;
  flags: number;
  invflags: number;
  /** IPv6 only. */
  tos: number;
}

/** Offsets inside struct ipt_ip / ip6t_ip6 of the fields read in place. */
export const IP_FIELDS: Record<IpFamily, { src: number; dst: number; smsk: number; dmsk: number; iniface: number; outiface: number; inifaceMask: number; outifaceMask: number }> = {
  ipv4: { src: 0, dst: 4, smsk: 8, dmsk: 12, iniface: 16, outiface: 32, inifaceMask: 48, outifaceMask: 64 },
  ipv6: { src: 0, dst: 16, smsk: 32, dmsk: 48, iniface: 64, outiface: 80, inifaceMask: 96, outifaceMask: 112 },
};

export interface EntryExtension {
  name: string;
  revision: number;
  /** The bytes after the 32-byte header, up to match_size / target_size. */
  data: Buffer;
}

export interface Entry {
  /** Offset of the entry in the entry table (what hook_entry, underflow and jump verdicts refer to). */
  offset: number;
  nextOffset: number;
  ip: EntryIp;
  /** Counters as numbers (exact below 2^53, rounded to nearest beyond, as Number(u64) is). */
  packets: number;
  bytes: number;
  matches: EntryExtension[];
  target: EntryExtension;
}

interface Layout {
  addrLen: number;
  entrySize: number;
  targetOffsetAt: number;
  countersAt: number;
}

const LAYOUT: Record<IpFamily, Layout> = {
  ipv4: { addrLen: 4, entrySize: 112, targetOffsetAt: 88, countersAt: 96 },
  ipv6: { addrLen: 16, entrySize: 168, targetOffsetAt: 140, countersAt: 152 },
};

function extension(b: Buffer, off: number, end: number, what: string): { ext: EntryExtension; size: number } {
  if (off + XT_ENTRY_HEADER > end) throw new DecodeError(what, off, `header runs past ${end}`);
  const size = b.readUInt16LE(off);
  if (size < XT_ENTRY_HEADER || off + size > end) throw new DecodeError(what, off, `size ${size} does not fit ${end - off} bytes`);
  let nul = off + 2;
  const nameEnd = off + 2 + XT_EXTENSION_MAXNAMELEN;
  while (nul < nameEnd && b[nul] !== 0) nul++;
  if (nul === nameEnd) throw new DecodeError(what, off + 2, 'name has no terminating NUL');
  return {
    ext: { name: b.toString('utf8', off + 2, nul), revision: b[off + 31]!, data: b.subarray(off + XT_ENTRY_HEADER, off + size) },
    size,
  };
}

function decodeIp(b: Buffer, off: number, family: IpFamily): EntryIp {
  const tail = off + 4 * LAYOUT[family].addrLen + 64;
  const v6 = family === 'ipv6';
  return {
    buf: b,
    off,
    proto: b.readUInt16LE(tail),
    tos: v6 ? b[tail + 2]! : 0,
    flags: v6 ? b[tail + 3]! : b[tail + 2]!,
    invflags: v6 ? b[tail + 4]! : b[tail + 3]!,
  };
}

/** A little-endian u64 as a number without a BigInt: hi * 2^32 is exact, the one addition rounds like Number(). */
function u64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * 0x100000000 + b.readUInt32LE(off);
}

/** Every entry of an entry table, in order. The last one is the table's closing ERROR entry. */
export function decodeEntries(table: Buffer, family: IpFamily): Entry[] {
  const L = LAYOUT[family];
  const out: Entry[] = [];
  let off = 0;
  while (off < table.length) {
    if (off + L.entrySize > table.length) throw new DecodeError('ipt_entry', off, `${table.length - off} bytes left, an entry needs ${L.entrySize}`);
    const targetOffset = table.readUInt16LE(off + L.targetOffsetAt);
    const nextOffset = table.readUInt16LE(off + L.targetOffsetAt + 2);
    if (targetOffset < L.entrySize || targetOffset + XT_ENTRY_HEADER > nextOffset || off + nextOffset > table.length) {
      throw new DecodeError('ipt_entry', off, `target_offset ${targetOffset} / next_offset ${nextOffset} do not fit`);
    }
    const end = off + targetOffset;
    const matches: EntryExtension[] = [];
    for (let m = off + L.entrySize; m < end; ) {
      const { ext, size } = extension(table, m, end, 'xt_entry_match');
      matches.push(ext);
      m += size;
    }
    const { ext: target } = extension(table, end, off + nextOffset, 'xt_entry_target');
    out.push({
      offset: off,
      nextOffset,
      ip: decodeIp(table, off, family),
      packets: u64(table, off + L.countersAt),
      bytes: u64(table, off + L.countersAt + 8),
      matches,
      target,
    });
    off += nextOffset;
  }
  return out;
}
