/** The `counter` expression: packets and bytes (nft_counter.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_COUNTER_BYTES = 1;
const NFTA_COUNTER_PACKETS = 2;

export function decodeCounter(data: Buffer): Extract<NftExpr, { kind: 'counter' }> {
  const a = new Attrs('nft counter', data);
  return {
    kind: 'counter',
    packets: a.need(a.u64(NFTA_COUNTER_PACKETS), NFTA_COUNTER_PACKETS),
    bytes: a.need(a.u64(NFTA_COUNTER_BYTES), NFTA_COUNTER_BYTES),
  };
}
