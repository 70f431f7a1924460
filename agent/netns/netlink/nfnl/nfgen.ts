/**
 * nfnetlink framing, pure: message types are (subsystem << 8) | message, every payload starts with struct nfgenmsg
 * (u8 nfgen_family, u8 version, be16 res_id) followed by attributes.
 *
 * uapi: linux/netfilter/nfnetlink.h (nfgenmsg, NFNL_SUBSYS_*, NFNETLINK_V0), linux/netfilter.h (NFPROTO_*).
 */
import { DecodeError } from '../../../errors.js';
import type { NftFamily } from '../../model/nftables.js';
import { encodeAttr } from '../nlmsg.js';

export const NFNL_SUBSYS_IPSET = 6;
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNETLINK_V0 = 0;
export const NFGENMSG_LEN = 4;

export const NFPROTO_UNSPEC = 0;
export const NFPROTO_INET = 1;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_ARP = 3;
export const NFPROTO_NETDEV = 5;
export const NFPROTO_BRIDGE = 7;
export const NFPROTO_IPV6 = 10;

/** nft's name of each family (nft list ruleset / nft -j print these). */
const FAMILY_NAMES: Record<number, NftFamily> = {
  [NFPROTO_INET]: 'inet',
  [NFPROTO_IPV4]: 'ip',
  [NFPROTO_ARP]: 'arp',
  [NFPROTO_NETDEV]: 'netdev',
  [NFPROTO_BRIDGE]: 'bridge',
  [NFPROTO_IPV6]: 'ip6',
};

/** The nft family name of an NFPROTO number, or null for a number nf_tables does not use. */
export function familyName(nfproto: number): NftFamily | null {
  return FAMILY_NAMES[nfproto] ?? null;
}

export function nfnlType(subsys: number, msg: number): number {
  return ((subsys & 0xff) << 8) | (msg & 0xff);
}

export interface NfGenMsg {
  family: number;
  version: number;
  /** Big-endian on the wire: the ruleset generation (nf_tables) or 0. */
  resId: number;
}

/** nfgenmsg plus optional attribute bytes (already encoded) as a request payload. */
export function encodeNfGen(family: number, attrs: Buffer = Buffer.alloc(0), resId = 0): Buffer {
  const b = Buffer.alloc(NFGENMSG_LEN + attrs.length);
  b.writeUInt8(family, 0);
  b.writeUInt8(NFNETLINK_V0, 1);
  b.writeUInt16BE(resId, 2);
  attrs.copy(b, NFGENMSG_LEN);
  return b;
}

export function decodeNfGen(payload: Buffer): NfGenMsg {
  if (payload.length < NFGENMSG_LEN) throw new DecodeError('nfgenmsg', 0, `${payload.length} bytes, need ${NFGENMSG_LEN}`);
  return { family: payload.readUInt8(0), version: payload.readUInt8(1), resId: payload.readUInt16BE(2) };
}

/** Netlink's attribute encoder (nlmsg.ts), re-exported for the nfnetlink requests built here and in ipset.ts. */
export { encodeAttr };

/** A NUL-terminated string attribute. */
export function encodeStrAttr(type: number, s: string): Buffer {
  return encodeAttr(type, Buffer.from(`${s}\0`, 'utf8'));
}
