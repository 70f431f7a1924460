/** The `range` expression: from <= register <= to, or its negation (nft_range.c). */
import { DecodeError } from '../../../../errors.js';
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';
import { decodeValue } from './data.js';

const NFTA_RANGE_SREG = 1;
const NFTA_RANGE_OP = 2;
const NFTA_RANGE_FROM_DATA = 3;
const NFTA_RANGE_TO_DATA = 4;

export function decodeRange(data: Buffer): Extract<NftExpr, { kind: 'range' }> {
  const a = new Attrs('nft range', data);
  const op = a.need(a.u32(NFTA_RANGE_OP), NFTA_RANGE_OP);
  if (op > 1) throw new DecodeError('nft range', 0, `unknown range operator ${op}`);
  return {
    kind: 'range',
    sreg: a.need(a.u32(NFTA_RANGE_SREG), NFTA_RANGE_SREG),
    op: op === 0 ? 'eq' : 'neq',
    from: decodeValue(a.need(a.raw(NFTA_RANGE_FROM_DATA), NFTA_RANGE_FROM_DATA), 'nft range from'),
    to: decodeValue(a.need(a.raw(NFTA_RANGE_TO_DATA), NFTA_RANGE_TO_DATA), 'nft range to'),
  };
}
