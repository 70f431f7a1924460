/** The `bitwise` expression: dreg = (sreg & mask) ^ xor, or a shift (nft_bitwise.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';
import { decodeValue } from './data.js';

const NFTA_BITWISE_SREG = 1;
const NFTA_BITWISE_DREG = 2;
const NFTA_BITWISE_LEN = 3;
const NFTA_BITWISE_MASK = 4;
const NFTA_BITWISE_XOR = 5;
const NFTA_BITWISE_OP = 6;
const NFTA_BITWISE_DATA = 7;

type Bitwise = Extract<NftExpr, { kind: 'bitwise' }>;
const OPS: Bitwise['op'][] = ['mask-xor', 'lshift', 'rshift'];

export function decodeBitwise(data: Buffer): Bitwise {
  const a = new Attrs('nft bitwise', data);
  const op = a.u32(NFTA_BITWISE_OP) ?? 0;
  const mask = a.raw(NFTA_BITWISE_MASK);
  const xor = a.raw(NFTA_BITWISE_XOR);
  const shift = a.raw(NFTA_BITWISE_DATA);
  let shiftBy: number | null = null;
  if (shift !== null) {
    const v = Buffer.from(decodeValue(shift, 'nft bitwise data'), 'hex');
    shiftBy = v.length >= 4 ? v.readUInt32LE(0) : null;
  }
  return {
    kind: 'bitwise',
    sreg: a.need(a.u32(NFTA_BITWISE_SREG), NFTA_BITWISE_SREG),
    dreg: a.need(a.u32(NFTA_BITWISE_DREG), NFTA_BITWISE_DREG),
    len: a.need(a.u32(NFTA_BITWISE_LEN), NFTA_BITWISE_LEN),
    op: OPS[op] ?? `op ${op}`,
    mask: mask === null ? null : decodeValue(mask, 'nft bitwise mask'),
    xor: xor === null ? null : decodeValue(xor, 'nft bitwise xor'),
    shift: shiftBy,
  };
}
