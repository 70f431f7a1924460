/** The `socket` expression: a key of the packet's socket (transparent, mark, wildcard, cgroupv2) (nft_socket.c). */
import type { NftExpr } from '../../../model/nftables.js';
import { Attrs } from '../attrs.js';
import { SOCKET_KEYS, keyName } from './data.js';

const NFTA_SOCKET_KEY = 1;
const NFTA_SOCKET_DREG = 2;
const NFTA_SOCKET_LEVEL = 3;

export function decodeSocket(data: Buffer): Extract<NftExpr, { kind: 'socket' }> {
  const a = new Attrs('nft socket', data);
  return {
    kind: 'socket',
    key: keyName(SOCKET_KEYS, a.need(a.u32(NFTA_SOCKET_KEY), NFTA_SOCKET_KEY)),
    dreg: a.u32(NFTA_SOCKET_DREG),
    level: a.u32(NFTA_SOCKET_LEVEL),
  };
}
