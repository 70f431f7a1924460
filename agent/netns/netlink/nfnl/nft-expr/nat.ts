/** The `nat` expression: snat / dnat from address and port registers (nft_nat.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_NAT_TYPE = 1;
const NFTA_NAT_FAMILY = 2;
const NFTA_NAT_REG_ADDR_MIN = 3;
const NFTA_NAT_REG_ADDR_MAX = 4;
const NFTA_NAT_REG_PROTO_MIN = 5;
const NFTA_NAT_REG_PROTO_MAX = 6;
const NFTA_NAT_FLAGS = 7;

export function decodeNat(data: Buffer): Extract<NftExpr, { kind: 'nat' }> {
  const a = new Attrs('nft nat', data);
  return {
    kind: 'nat',
    type: a.need(a.u32(NFTA_NAT_TYPE), NFTA_NAT_TYPE) === 0 ? 'snat' : 'dnat',
    family: a.u32(NFTA_NAT_FAMILY),
    addrMin: a.u32(NFTA_NAT_REG_ADDR_MIN),
    addrMax: a.u32(NFTA_NAT_REG_ADDR_MAX),
    protoMin: a.u32(NFTA_NAT_REG_PROTO_MIN),
    protoMax: a.u32(NFTA_NAT_REG_PROTO_MAX),
    flags: a.u32(NFTA_NAT_FLAGS),
  };
}
