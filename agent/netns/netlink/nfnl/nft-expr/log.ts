/** The `log` expression: syslog (level) or nflog (group) with prefix, snaplen, queue threshold (nft_log.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_LOG_GROUP = 1;
const NFTA_LOG_PREFIX = 2;
const NFTA_LOG_SNAPLEN = 3;
const NFTA_LOG_QTHRESHOLD = 4;
const NFTA_LOG_LEVEL = 5;
const NFTA_LOG_FLAGS = 6;

export function decodeLog(data: Buffer): Extract<NftExpr, { kind: 'log' }> {
  const a = new Attrs('nft log', data);
  return {
    kind: 'log',
    group: a.u16(NFTA_LOG_GROUP),
    prefix: a.str(NFTA_LOG_PREFIX),
    snaplen: a.u32(NFTA_LOG_SNAPLEN),
    qthreshold: a.u16(NFTA_LOG_QTHRESHOLD),
    level: a.u32(NFTA_LOG_LEVEL),
    flags: a.u32(NFTA_LOG_FLAGS),
  };
}
