/** The `redir` expression: redirect to the local machine, port registers and flags (nft_redir.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_REDIR_REG_PROTO_MIN = 1;
const NFTA_REDIR_REG_PROTO_MAX = 2;
const NFTA_REDIR_FLAGS = 3;

export function decodeRedir(data: Buffer): Extract<NftExpr, { kind: 'masq' | 'redir' }> {
  const a = new Attrs('nft redir', data);
  return { kind: 'redir', protoMin: a.u32(NFTA_REDIR_REG_PROTO_MIN), protoMax: a.u32(NFTA_REDIR_REG_PROTO_MAX), flags: a.u32(NFTA_REDIR_FLAGS) };
}
