/** NFT_MSG_NEWTABLE (the answer to a GETTABLE dump): one table of one family (nf_tables_api.c). */
import type { NftFamily } from '../../model/nftables.js';
import { Attrs } from './attrs.js';
import { NFGENMSG_LEN, decodeNfGen, familyName } from './nfgen.js';

const NFTA_TABLE_NAME = 1;
const NFTA_TABLE_FLAGS = 2;
const NFTA_TABLE_USE = 3;
const NFTA_TABLE_HANDLE = 4;

export interface NftTableMsg {
  family: NftFamily;
  name: string;
  handle: number;
  flags: number;
  /** Number of chains in the table. */
  use: number;
}

/** Null for a family nf_tables does not use (never sent by a kernel, kept total for fuzzed input). */
export function decodeTable(payload: Buffer): NftTableMsg | null {
  const family = familyName(decodeNfGen(payload).family);
  const a = new Attrs('nft table', payload, NFGENMSG_LEN);
  if (family === null) return null;
  return {
    family,
    name: a.need(a.str(NFTA_TABLE_NAME), NFTA_TABLE_NAME),
    handle: a.u64(NFTA_TABLE_HANDLE) ?? 0,
    flags: a.u32(NFTA_TABLE_FLAGS) ?? 0,
    use: a.u32(NFTA_TABLE_USE) ?? 0,
  };
}
