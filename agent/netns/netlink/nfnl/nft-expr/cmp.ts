/** The `cmp` expression: compare a register with constant data (nft_cmp.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';
import { cmpOp, decodeValue } from './data.js';

const NFTA_CMP_SREG = 1;
const NFTA_CMP_OP = 2;
const NFTA_CMP_DATA = 3;

export function decodeCmp(data: Buffer): Extract<NftExpr, { kind: 'cmp' }> {
  const a = new Attrs('nft cmp', data);
  return {
    kind: 'cmp',
    sreg: a.need(a.u32(NFTA_CMP_SREG), NFTA_CMP_SREG),
    op: cmpOp(a.need(a.u32(NFTA_CMP_OP), NFTA_CMP_OP), 'nft cmp'),
    data: decodeValue(a.need(a.raw(NFTA_CMP_DATA), NFTA_CMP_DATA), 'nft cmp data'),
  };
}
