/** The `meta` expression: load a packet meta key into a register, or set one from a register (nft_meta.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';
import { META_KEYS, keyName } from './data.js';

const NFTA_META_DREG = 1;
const NFTA_META_KEY = 2;
const NFTA_META_SREG = 3;

export function decodeMeta(data: Buffer): Extract<NftExpr, { kind: 'meta' }> {
  const a = new Attrs('nft meta', data);
  return {
    kind: 'meta',
    key: keyName(META_KEYS, a.need(a.u32(NFTA_META_KEY), NFTA_META_KEY)),
    dreg: a.u32(NFTA_META_DREG),
    sreg: a.u32(NFTA_META_SREG),
  };
}
