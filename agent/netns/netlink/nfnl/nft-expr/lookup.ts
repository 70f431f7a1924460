/** The `lookup` expression: is the register's value in a set (or map it) (nft_lookup.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_LOOKUP_SET = 1;
const NFTA_LOOKUP_SREG = 2;
const NFTA_LOOKUP_DREG = 3;
const NFTA_LOOKUP_SET_ID = 4;
const NFTA_LOOKUP_FLAGS = 5;
const NFT_LOOKUP_F_INV = 1;

export function decodeLookup(data: Buffer): Extract<NftExpr, { kind: 'lookup' }> {
  const a = new Attrs('nft lookup', data);
  return {
    kind: 'lookup',
    set: a.need(a.str(NFTA_LOOKUP_SET), NFTA_LOOKUP_SET),
    sreg: a.need(a.u32(NFTA_LOOKUP_SREG), NFTA_LOOKUP_SREG),
    dreg: a.u32(NFTA_LOOKUP_DREG),
    setId: a.u32(NFTA_LOOKUP_SET_ID),
    invert: ((a.u32(NFTA_LOOKUP_FLAGS) ?? 0) & NFT_LOOKUP_F_INV) !== 0,
  };
}
