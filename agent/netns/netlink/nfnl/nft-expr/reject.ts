/** The `reject` expression: ICMP / ICMPv6 / ICMPx unreachable with a code, or TCP reset (nft_reject.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';

const NFTA_REJECT_TYPE = 1;
const NFTA_REJECT_ICMP_CODE = 2;

type Reject = Extract<NftExpr, { kind: 'reject' }>;
const TYPES: Reject['type'][] = ['icmp', 'tcp-rst', 'icmpx'];

export function decodeReject(data: Buffer): Reject {
  const a = new Attrs('nft reject', data);
  const type = a.need(a.u32(NFTA_REJECT_TYPE), NFTA_REJECT_TYPE);
  return { kind: 'reject', type: TYPES[type] ?? `type ${type}`, code: a.u8(NFTA_REJECT_ICMP_CODE) };
}
