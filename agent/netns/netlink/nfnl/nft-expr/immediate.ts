/** The `immediate` expression: load constant data or a verdict into a register (nft_immediate.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';
import { decodeData } from './data.js';

const NFTA_IMMEDIATE_DREG = 1;
const NFTA_IMMEDIATE_DATA = 2;

export function decodeImmediate(data: Buffer): Extract<NftExpr, { kind: 'immediate' }> {
  const a = new Attrs('nft immediate', data);
  return {
    kind: 'immediate',
    dreg: a.need(a.u32(NFTA_IMMEDIATE_DREG), NFTA_IMMEDIATE_DREG),
    data: decodeData(a.need(a.raw(NFTA_IMMEDIATE_DATA), NFTA_IMMEDIATE_DATA), 'nft immediate data'),
  };
}
