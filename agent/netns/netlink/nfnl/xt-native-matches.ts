/**
 * The xt structs iptables-nft 1.8.9 builds when it reads a natively translated match back (nft-shared.c
 * nft_create_match + the parse_* helpers): struct xt_tcp / xt_udp for ports and flags, ipt_icmp / ip6t_icmp,
 * xt_mark_mtinfo1, xt_pkttype_info, xt_rateinfo for `limit`, xt_comment_info for the userdata comment, and the
 * interface name / mask arrays of struct ipt_ip. Host byte order, zero padding, as the C code lays them out.
 * Their save output then comes from the same xt decoders the compat blobs use. Pure.
 */
import type { NftCmpOp } from '../../model/nftables.js';

export const IFNAMSIZ = 16;
const XT_LIMIT_SCALE = 10000n;

/** struct xt_tcp { u16 spts[2], dpts[2]; u8 option, flg_mask, flg_cmp, invflags } after tcp_init (ports 0:65535). */
export function newTcpInfo(): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(0xffff, 2);
  b.writeUInt16LE(0xffff, 6);
  return b;
}

/** struct xt_udp { u16 spts[2], dpts[2]; u8 invflags } (10 bytes with padding) after udp_init. */
export function newUdpInfo(): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt16LE(0xffff, 2);
  b.writeUInt16LE(0xffff, 6);
  return b;
}

/** Where the invflags byte sits: 11 in xt_tcp, 8 in xt_udp. */
export function portsInvOffset(info: Buffer): number {
  return info.length === 12 ? 11 : 8;
}

/** port_match_single_to_range on the source (`at` 0, inv bit 1) or destination (`at` 4, inv bit 2) ports. */
export function setPort(info: Buffer, at: 0 | 4, port: number, op: NftCmpOp): void {
  const inv = portsInvOffset(info);
  switch (op) {
    case 'neq':
    case 'eq':
      if (op === 'neq') info[inv] = info[inv]! | (at === 0 ? 0x01 : 0x02);
      info.writeUInt16LE(port, at);
      info.writeUInt16LE(port, at + 2);
      return;
    case 'lt':
      info.writeUInt16LE(Math.max(port - 1, 1), at + 2);
      return;
    case 'lte':
      info.writeUInt16LE(port, at + 2);
      return;
    case 'gt':
      info.writeUInt16LE(Math.min(port + 1, 0xffff), at);
      return;
    case 'gte':
      info.writeUInt16LE(port, at);
  }
}

/** nft_parse_*_range: from..to on source or destination ports, inverted for NFT_RANGE_NEQ. */
export function setPortRange(info: Buffer, at: 0 | 4, from: number, to: number, invert: boolean): void {
  const inv = portsInvOffset(info);
  if (invert) info[inv] = info[inv]! | (at === 0 ? 0x01 : 0x02);
  info.writeUInt16LE(from, at);
  info.writeUInt16LE(to, at + 2);
}

/** nft_parse_tcp_flags: flg_mask, flg_cmp, XT_TCP_INV_FLAGS. */
export function setTcpFlags(info: Buffer, mask: number, cmp: number, invert: boolean): void {
  if (invert) info[11] = info[11]! | 0x04;
  info[9] = mask;
  info[10] = cmp;
}

/**
 * nft_parse_icmp: struct ipt_icmp / ip6t_icmp { u8 type, code[2], invflags } from a comparison at icmp header
 * offset 0 (type, optionally the code after it) or 1 (code); null for a shape iptables rejects.
 */
export function icmpInfo(offset: number, data: Buffer): Buffer | null {
  const info = Buffer.from([0xff, 0, 0xff, 0]);
  if (offset === 0 && data.length === 1) info[0] = data[0]!;
  else if (offset === 0 && data.length === 2) {
    info[0] = data[0]!;
    info[1] = info[2] = data[1]!;
  } else if (offset === 1 && data.length === 1) info[1] = info[2] = data[0]!;
  else return null;
  return info;
}

/** struct xt_mark_mtinfo1 { u32 mark, mask; u8 invert } (12 bytes). */
export function markInfo(mark: Buffer, mask: Buffer | null, invert: boolean): Buffer {
  const info = Buffer.alloc(12);
  mark.copy(info, 0, 0, 4);
  if (mask !== null) mask.copy(info, 4, 0, 4);
  else info.writeUInt32LE(0xffffffff, 4);
  info[8] = invert ? 1 : 0;
  return info;
}

/** struct xt_pkttype_info { int pkttype, invert }. */
export function pkttypeInfo(pkttype: number, invert: boolean): Buffer {
  const info = Buffer.alloc(8);
  info.writeInt32LE(pkttype, 0);
  info.writeInt32LE(invert ? 1 : 0, 4);
  return info;
}

/** struct xt_rateinfo (40 bytes on 64-bit): avg = XT_LIMIT_SCALE * unit / rate in 32 bits, burst. */
export function limitInfo(rate: number, unit: number, burst: number): Buffer {
  const info = Buffer.alloc(40);
  info.writeUInt32LE(Number(((XT_LIMIT_SCALE * BigInt(unit)) / BigInt(rate)) & 0xffffffffn), 0);
  info.writeUInt32LE(burst >>> 0, 4);
  return info;
}

/**
 * nft_parse_log: the `log` expression (with a group) read back as `-j NFLOG`, struct xt_nflog_info { u32 len; u16
 * group, threshold, flags, pad; char prefix[64] } (iptables uses a 128-byte prefix here; a longer prefix than 63
 * bytes is cut by the struct the decoder reads, so the caller marks it opaque).
 */
export function nflogInfo(group: number, threshold: number, snaplen: number | null, prefix: string): Buffer {
  const info = Buffer.alloc(76);
  if (snaplen !== null) {
    info.writeUInt32LE(snaplen >>> 0, 0);
    info.writeUInt16LE(1, 8); // XT_NFLOG_F_COPY_LEN
  }
  info.writeUInt16LE(group, 4);
  info.writeUInt16LE(threshold, 6);
  Buffer.from(prefix, 'utf8').copy(info, 12, 0, 63);
  return info;
}

/** struct xt_comment_info (char comment[256]) filled by strncpy(.., 255): the last byte stays NUL. */
export function commentInfo(comment: string): Buffer {
  const info = Buffer.alloc(256);
  Buffer.from(comment, 'utf8').copy(info, 0, 0, 255);
  return info;
}

/**
 * parse_ifname into struct ipt_ip's iniface[16] / iniface_mask[16]: data ending in NUL is an exact name (mask
 * covers strlen + 1), other data a prefix (iptables appends `+`, the mask covers the prefix). Null for data iptables
 * cannot print back: empty, longer than IFNAMSIZ, a prefix of 15 bytes or more, NUL bytes inside a prefix.
 */
export function ifaceArrays(data: Buffer): { name: Buffer; mask: Buffer } | null {
  if (data.length === 0 || data.length > IFNAMSIZ) return null;
  const name = Buffer.alloc(IFNAMSIZ);
  const mask = Buffer.alloc(IFNAMSIZ);
  data.copy(name);
  if (data[data.length - 1] === 0) {
    mask.fill(0xff, 0, data.indexOf(0) + 1);
    return { name, mask };
  }
  if (data.length >= IFNAMSIZ - 1 || data.includes(0)) return null;
  name[data.length] = 0x2b; // '+'
  mask.fill(0xff, 0, data.length);
  return { name, mask };
}

/** The arrays of `! -i +` (iptables' reading of the impossible name "INVAL/D"). */
export function anyIfaceArrays(): { name: Buffer; mask: Buffer } {
  const name = Buffer.alloc(IFNAMSIZ);
  const mask = Buffer.alloc(IFNAMSIZ);
  name[0] = 0x2b;
  mask[0] = mask[1] = 0xff;
  return { name, mask };
}
