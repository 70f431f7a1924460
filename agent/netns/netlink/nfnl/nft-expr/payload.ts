/** The `payload` expression: load header bytes into a register, or write them (nft_payload.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_PAYLOAD_DREG = 1;
const NFTA_PAYLOAD_BASE = 2;
const NFTA_PAYLOAD_OFFSET = 3;
const NFTA_PAYLOAD_LEN = 4;
const NFTA_PAYLOAD_SREG = 5;
const NFTA_PAYLOAD_CSUM_TYPE = 6;
const NFTA_PAYLOAD_CSUM_OFFSET = 7;
const NFTA_PAYLOAD_CSUM_FLAGS = 8;

type Payload = Extract<NftExpr, { kind: 'payload' }>;
const BASES: Payload['base'][] = ['ll', 'network', 'transport', 'inner'];

export function decodePayload(data: Buffer): Payload {
  const a = new Attrs('nft payload', data);
  const base = a.need(a.u32(NFTA_PAYLOAD_BASE), NFTA_PAYLOAD_BASE);
  return {
    kind: 'payload',
    base: BASES[base] ?? `base ${base}`,
    offset: a.need(a.u32(NFTA_PAYLOAD_OFFSET), NFTA_PAYLOAD_OFFSET),
    len: a.need(a.u32(NFTA_PAYLOAD_LEN), NFTA_PAYLOAD_LEN),
    dreg: a.u32(NFTA_PAYLOAD_DREG),
    sreg: a.u32(NFTA_PAYLOAD_SREG),
    csumType: a.u32(NFTA_PAYLOAD_CSUM_TYPE),
    csumOffset: a.u32(NFTA_PAYLOAD_CSUM_OFFSET),
    csumFlags: a.u32(NFTA_PAYLOAD_CSUM_FLAGS),
  };
}
