/**
 * The `match` and `target` expressions of nft_compat: an xtables extension by name and revision with its info blob
 * (struct xt_*_info, host byte order), which the shared xt registry renders. Both carry the same three attributes
 * (NFTA_MATCH_NAME/REV/INFO = NFTA_TARGET_NAME/REV/INFO), so one decoder reads either.
 */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs, hex } from '../attrs.js';

const NAME = 1;
const REV = 2;
const INFO = 3;

export function decodeCompat(kind: 'match' | 'target', data: Buffer): Extract<NftExpr, { kind: 'match' | 'target' }> {
  const a = new Attrs(`nft ${kind}`, data);
  return {
    kind,
    name: a.need(a.str(NAME), NAME),
    revision: a.need(a.u32(REV), REV),
    info: hex(a.raw(INFO) ?? Buffer.alloc(0)),
  };
}
