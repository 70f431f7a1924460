/** The `tproxy` expression: transparent proxy to the address / port registers (nft_tproxy.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_TPROXY_FAMILY = 1;
const NFTA_TPROXY_REG_ADDR = 2;
const NFTA_TPROXY_REG_PORT = 3;

export function decodeTproxy(data: Buffer): Extract<NftExpr, { kind: 'tproxy' }> {
  const a = new Attrs('nft tproxy', data);
  return { kind: 'tproxy', family: a.u32(NFTA_TPROXY_FAMILY), addr: a.u32(NFTA_TPROXY_REG_ADDR), port: a.u32(NFTA_TPROXY_REG_PORT) };
}
