/** The `ct` expression: load (or set) a conntrack key (nft_ct.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';
import { CT_KEYS, keyName } from './data.js';

const NFTA_CT_DREG = 1;
const NFTA_CT_KEY = 2;
const NFTA_CT_DIRECTION = 3;
const NFTA_CT_SREG = 4;

export function decodeCt(data: Buffer): Extract<NftExpr, { kind: 'ct' }> {
  const a = new Attrs('nft ct', data);
  return {
    kind: 'ct',
    key: keyName(CT_KEYS, a.need(a.u32(NFTA_CT_KEY), NFTA_CT_KEY)),
    dreg: a.u32(NFTA_CT_DREG),
    sreg: a.u32(NFTA_CT_SREG),
    direction: a.u8(NFTA_CT_DIRECTION),
  };
}
