/**
 * One consistent nf_tables ruleset: generation, then table, chain and rule dumps of every family, then the
 * generation again; when it moved in between (a transaction committed during the read) everything is read again,
 * up to three times. The byte cap is shared by the three dumps: past it the read stops and says so. A message that
 * does not decode is skipped and counted (the rest is kept). Synchronous, worker-thread safe.
 *
 * An empty table dump ends the read there: every chain and rule belongs to a table, so the chain and rule dumps
 * would be empty too, and that one dump (not flagged interrupted) is the whole ruleset at one moment, so there is
 * nothing to check the generation after it for (the generation is not part of the state). A pod without nf_tables
 * tables, most of them, costs two requests (generation, table dump) instead of five (no chain dump, no rule dump, no
 * second generation), and so does its replay.
 */
import { DecodeError } from '../../../errors.js';
import type { NlMessage } from '../nlmsg.js';
import type { NetlinkSocket, RequestLimits } from '../socket.js';
import { NFNL_SUBSYS_NFTABLES, NFPROTO_UNSPEC, encodeNfGen, nfnlType } from './nfgen.js';
import { decodeChain, type NftChainMsg } from './nft-chain.js';
import { NFT_MSG_GETCHAIN, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, readGeneration } from './nft-gen.js';
import { decodeRule, type NftRuleMsg } from './nft-rule.js';
import { decodeTable, type NftTableMsg } from './nft-table.js';

export interface DecodedRuleset {
  tables: NftTableMsg[];
  chains: NftChainMsg[];
  rules: NftRuleMsg[];
  /** Messages that did not decode (skipped), with why; at most 20 listed. */
  decodeErrors: string[];
}

export interface NftRuleset extends DecodedRuleset {
  generation: number;
  /** The byte cap cut the read: what is here is the start of the ruleset. */
  truncated: boolean;
  /** The generation still moved on the last attempt (or the kernel flagged a dump as interrupted). */
  inconsistent: boolean;
  bytes: number;
}

const ATTEMPTS = 3;
const MAX_DECODE_ERRORS = 20;
const DUMPS = [
  ['tables', NFT_MSG_GETTABLE, NFT_MSG_NEWTABLE, 'NFT_MSG_GETTABLE'],
  ['chains', NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN, 'NFT_MSG_GETCHAIN'],
  ['rules', NFT_MSG_GETRULE, NFT_MSG_NEWRULE, 'NFT_MSG_GETRULE'],
] as const;

/** The answers of the three dumps, decoded (pure: the fixtures tests feed it captured messages). */
export function decodeRuleset(answers: { tables: readonly NlMessage[]; chains: readonly NlMessage[]; rules: readonly NlMessage[] }): DecodedRuleset {
  const out: DecodedRuleset = { tables: [], chains: [], rules: [], decodeErrors: [] };
  const one = <T>(what: string, answer: number, msgs: readonly NlMessage[], decode: (p: Buffer) => T | null, into: T[]): void => {
    const type = nfnlType(NFNL_SUBSYS_NFTABLES, answer);
    for (const m of msgs) {
      if (m.type !== type) continue;
      try {
        const v = decode(m.payload);
        if (v !== null) into.push(v);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        if (out.decodeErrors.length < MAX_DECODE_ERRORS) out.decodeErrors.push(`${what}: ${err.message}`);
      }
    }
  };
  one('table', NFT_MSG_NEWTABLE, answers.tables, decodeTable, out.tables);
  one('chain', NFT_MSG_NEWCHAIN, answers.chains, decodeChain, out.chains);
  one('rule', NFT_MSG_NEWRULE, answers.rules, decodeRule, out.rules);
  return out;
}

export function dumpRuleset(sock: NetlinkSocket, limits: RequestLimits): NftRuleset {
  let last: NftRuleset | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const before = readGeneration(sock, limits);
    const { noTables, ...r } = dumpOnce(sock, limits, before);
    if (r.truncated || (noTables && !r.inconsistent)) return r;
    const after = readGeneration(sock, limits);
    if (after === before && !r.inconsistent) return r;
    last = { ...r, inconsistent: true };
  }
  return last!;
}

/** One pass of the dumps; `noTables`: the table dump was empty (no other dump was asked). */
function dumpOnce(sock: NetlinkSocket, limits: RequestLimits, generation: number): NftRuleset & { noTables: boolean } {
  const answers = { tables: [] as NlMessage[], chains: [] as NlMessage[], rules: [] as NlMessage[] };
  let kept = 0;
  let bytes = 0;
  let truncated = false;
  let inconsistent = false;
  let noTables = false;
  for (const [key, get, , op] of DUMPS) {
    const r = sock.dump(`${op} dump`, nfnlType(NFNL_SUBSYS_NFTABLES, get), encodeNfGen(NFPROTO_UNSPEC), { maxBytes: limits.maxBytes - kept, deadline: limits.deadline });
    bytes += r.bytes;
    inconsistent ||= r.interrupted;
    answers[key] = r.messages;
    for (const m of r.messages) kept += m.payload.length;
    if (r.truncated) {
      truncated = true;
      break;
    }
    if (key === 'tables' && r.messages.length === 0) {
      noTables = true; // no table: no chain, no rule (see the header)
      break;
    }
  }
  return { ...decodeRuleset(answers), generation, truncated, inconsistent, bytes, noTables };
}
