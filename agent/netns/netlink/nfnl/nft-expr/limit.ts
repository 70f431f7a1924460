/** The `limit` expression: token bucket of `rate` per `unit` seconds, burst (nft_limit.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_LIMIT_RATE = 1;
const NFTA_LIMIT_UNIT = 2;
const NFTA_LIMIT_BURST = 3;
const NFTA_LIMIT_TYPE = 4;
const NFTA_LIMIT_FLAGS = 5;
const NFT_LIMIT_F_INV = 1;

export function decodeLimit(data: Buffer): Extract<NftExpr, { kind: 'limit' }> {
  const a = new Attrs('nft limit', data);
  return {
    kind: 'limit',
    rate: a.need(a.u64(NFTA_LIMIT_RATE), NFTA_LIMIT_RATE),
    unit: a.need(a.u64(NFTA_LIMIT_UNIT), NFTA_LIMIT_UNIT),
    burst: a.u32(NFTA_LIMIT_BURST) ?? 0,
    type: (a.u32(NFTA_LIMIT_TYPE) ?? 0) === 0 ? 'pkts' : 'bytes',
    invert: ((a.u32(NFTA_LIMIT_FLAGS) ?? 0) & NFT_LIMIT_F_INV) !== 0,
  };
}
