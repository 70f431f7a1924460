/**
 * One consistent nf_tables ruleset: generation, then table, chain and rule dumps of every family, then the
 * generation again; when it moved in between (a transaction committed during the read) everything is read again,
 * up to three times. The byte cap is shared by the three dumps: past it the read stops and says so. A message that
 * does not decode is skipped and counted (the rest is kept). Synchronous, worker-thread safe.
 */
import { DecodeError } from '../../../errors.js';
import type { NetlinkSocket, RequestLimits } from '../socket.js';
import { NFNL_SUBSYS_NFTABLES, NFPROTO_UNSPEC, encodeNfGen, nfnlType } from './nfgen.js';
import { decodeChain, type NftChainMsg } from './nft-chain.js';
import { NFT_MSG_GETCHAIN, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, readGeneration } from './nft-gen.js';
import { decodeRule, type NftRuleMsg } from './nft-rule.js';
import { decodeTable, type NftTableMsg } from './nft-table.js';

export interface NftRuleset {
  generation: number;
  tables: NftTableMsg[];
  chains: NftChainMsg[];
  rules: NftRuleMsg[];
  /** The byte cap cut the read: what is here is the start of the ruleset. */
  truncated: boolean;
  /** The generation still moved on the last attempt (or the kernel flagged a dump as interrupted). */
  inconsistent: boolean;
  /** Messages that did not decode (skipped), with why. */
  decodeErrors: string[];
  bytes: number;
}

const ATTEMPTS = 3;
const MAX_DECODE_ERRORS = 20;

export function dumpRuleset(sock: NetlinkSocket, limits: RequestLimits): NftRuleset {
  let last: NftRuleset | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const before = readGeneration(sock, limits);
    const r = dumpOnce(sock, limits, before);
    if (r.truncated) return r;
    const after = readGeneration(sock, limits);
    if (after === before && !r.inconsistent) return r;
    last = { ...r, inconsistent: true };
  }
  return last!;
}

function dumpOnce(sock: NetlinkSocket, limits: RequestLimits, generation: number): NftRuleset {
  const out: NftRuleset = { generation, tables: [], chains: [], rules: [], truncated: false, inconsistent: false, decodeErrors: [], bytes: 0 };
  let kept = 0;
  const step = <T>(what: string, get: number, answer: number, decode: (p: Buffer) => T | null, into: T[]): boolean => {
    const r = sock.dump(`${what} dump`, nfnlType(NFNL_SUBSYS_NFTABLES, get), encodeNfGen(NFPROTO_UNSPEC), { maxBytes: limits.maxBytes - kept, deadline: limits.deadline });
    out.bytes += r.bytes;
    if (r.interrupted) out.inconsistent = true;
    const type = nfnlType(NFNL_SUBSYS_NFTABLES, answer);
    for (const m of r.messages) {
      kept += m.payload.length;
      if (m.type !== type) continue;
      try {
        const v = decode(m.payload);
        if (v !== null) into.push(v);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        if (out.decodeErrors.length < MAX_DECODE_ERRORS) out.decodeErrors.push(`${what}: ${err.message}`);
      }
    }
    if (r.truncated) out.truncated = true;
    return !r.truncated;
  };
  if (step('NFT_MSG_GETTABLE', NFT_MSG_GETTABLE, NFT_MSG_NEWTABLE, decodeTable, out.tables) &&
    step('NFT_MSG_GETCHAIN', NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN, decodeChain, out.chains)) {
    step('NFT_MSG_GETRULE', NFT_MSG_GETRULE, NFT_MSG_NEWRULE, decodeRule, out.rules);
  }
  return out;
}
