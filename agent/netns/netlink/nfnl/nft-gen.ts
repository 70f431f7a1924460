/**
 * NFT_MSG_GETGEN: the ruleset generation, bumped by every committed nf_tables transaction. Reading it before and
 * after the table, chain and rule dumps tells whether they describe one ruleset (same generation) or straddle a
 * change (read again).
 */
import { NetlinkError } from '../../../errors.js';
import { Attrs } from './attrs.js';
import { NFGENMSG_LEN, NFNL_SUBSYS_NFTABLES, NFPROTO_UNSPEC, encodeNfGen, nfnlType } from './nfgen.js';
import type { NetlinkSocket, RequestLimits } from '../socket.js';

export const NFT_MSG_NEWTABLE = 0;
export const NFT_MSG_GETTABLE = 1;
export const NFT_MSG_NEWCHAIN = 3;
export const NFT_MSG_GETCHAIN = 4;
export const NFT_MSG_NEWRULE = 6;
export const NFT_MSG_GETRULE = 7;
export const NFT_MSG_NEWGEN = 15;
export const NFT_MSG_GETGEN = 16;

const NFTA_GEN_ID = 1;

/** The generation id carried by an NFT_MSG_NEWGEN payload. */
export function decodeGen(payload: Buffer): number {
  const a = new Attrs('nft gen', payload, NFGENMSG_LEN);
  return a.need(a.u32(NFTA_GEN_ID), NFTA_GEN_ID);
}

/** Asks the kernel for the current generation. */
export function readGeneration(sock: NetlinkSocket, limits: RequestLimits): number {
  const r = sock.request('NFT_MSG_GETGEN', nfnlType(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETGEN), encodeNfGen(NFPROTO_UNSPEC), limits);
  const m = r.messages.find((x) => x.type === nfnlType(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN));
  if (m === undefined) throw new NetlinkError('NFT_MSG_GETGEN', 'spawn', 'the kernel answered without a generation');
  return decodeGen(m.payload);
}
