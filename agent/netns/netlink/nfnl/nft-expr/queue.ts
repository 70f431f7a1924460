/** The `queue` expression: hand the packet to an nfqueue (nft_queue.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_QUEUE_NUM = 1;
const NFTA_QUEUE_TOTAL = 2;
const NFTA_QUEUE_FLAGS = 3;
const NFTA_QUEUE_SREG_QNUM = 4;

export function decodeQueue(data: Buffer): Extract<NftExpr, { kind: 'queue' }> {
  const a = new Attrs('nft queue', data);
  return {
    kind: 'queue',
    num: a.u16(NFTA_QUEUE_NUM),
    total: a.u16(NFTA_QUEUE_TOTAL),
    flags: a.u16(NFTA_QUEUE_FLAGS),
    sregQnum: a.u32(NFTA_QUEUE_SREG_QNUM),
  };
}
