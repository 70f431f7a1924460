/** The `masq` expression: masquerade with optional port registers and flags (nft_masq.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_MASQ_FLAGS = 1;
const NFTA_MASQ_REG_PROTO_MIN = 2;
const NFTA_MASQ_REG_PROTO_MAX = 3;

export function decodeMasq(data: Buffer): Extract<NftExpr, { kind: 'masq' | 'redir' }> {
  const a = new Attrs('nft masq', data);
  return { kind: 'masq', protoMin: a.u32(NFTA_MASQ_REG_PROTO_MIN), protoMax: a.u32(NFTA_MASQ_REG_PROTO_MAX), flags: a.u32(NFTA_MASQ_FLAGS) };
}
