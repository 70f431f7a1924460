/**
 * One nf_tables expression (NFTA_LIST_ELEM: NFTA_EXPR_NAME + NFTA_EXPR_DATA) decoded by the decoder of its kind.
 * A kind without a decoder here is kept as `{ kind: 'unknown', name, raw }` with its attribute bytes.
 */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs, hex } from '../attrs.js';
import { decodeBitwise } from './bitwise.js';
import { decodeCmp } from './cmp.js';
import { decodeCompat } from './compat.js';
import { decodeCounter } from './counter.js';
import { decodeCt } from './ct.js';
import { decodeImmediate } from './immediate.js';
import { decodeLimit } from './limit.js';
import { decodeLog } from './log.js';
import { decodeLookup } from './lookup.js';
import { decodeMasq } from './masq.js';
import { decodeMeta } from './meta.js';
import { decodeNat } from './nat.js';
import { decodePayload } from './payload.js';
import { decodeQueue } from './queue.js';
import { decodeRange } from './range.js';
import { decodeRedir } from './redir.js';
import { decodeReject } from './reject.js';
import { decodeSocket } from './socket.js';
import { decodeTproxy } from './tproxy.js';

const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;

const DECODERS: Record<string, (data: Buffer) => NftExpr> = {
  meta: decodeMeta,
  cmp: decodeCmp,
  payload: decodePayload,
  bitwise: decodeBitwise,
  immediate: decodeImmediate,
  counter: decodeCounter,
  range: decodeRange,
  lookup: decodeLookup,
  match: (d) => decodeCompat('match', d),
  target: (d) => decodeCompat('target', d),
  ct: decodeCt,
  limit: decodeLimit,
  log: decodeLog,
  reject: decodeReject,
  nat: decodeNat,
  masq: decodeMasq,
  redir: decodeRedir,
  tproxy: decodeTproxy,
  socket: decodeSocket,
  queue: decodeQueue,
  notrack: () => ({ kind: 'notrack' }),
};

/** The expression in one NFTA_LIST_ELEM payload. */
export function decodeExpr(elem: Buffer): NftExpr {
  const a = new Attrs('nft expr', elem);
  const name = a.need(a.str(NFTA_EXPR_NAME), NFTA_EXPR_NAME);
  const data = a.raw(NFTA_EXPR_DATA) ?? Buffer.alloc(0);
  const decode = Object.hasOwn(DECODERS, name) ? DECODERS[name] : undefined;
  return decode === undefined ? { kind: 'unknown', name, raw: hex(data) } : decode(data);
}
