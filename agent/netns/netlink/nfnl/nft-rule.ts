/**
 * NFT_MSG_NEWRULE (the answer to a GETRULE dump): table, chain, handle, the expression list, the compat
 * specification (iptables-nft's -p for xt matches), and the userdata TLVs (the rule comment).
 */
import type { NftExpr, NftFamily } from '../../model/nftables.js';
import { DecodeError } from '../../../errors.js';
import { Attrs } from './attrs.js';
import { NFGENMSG_LEN, decodeNfGen, familyName } from './nfgen.js';
import { decodeExpr } from './nft-expr/index.js';

const NFTA_RULE_TABLE = 1;
const NFTA_RULE_CHAIN = 2;
const NFTA_RULE_HANDLE = 3;
const NFTA_RULE_EXPRESSIONS = 4;
const NFTA_RULE_COMPAT = 5;
const NFTA_RULE_POSITION = 6;
const NFTA_RULE_USERDATA = 7;
const NFTA_LIST_ELEM = 1;
const NFTA_RULE_COMPAT_PROTO = 1;
const NFTA_RULE_COMPAT_FLAGS = 2;

/** Userdata TLV types (libnftnl udata.h: NFTNL_UDATA_RULE_COMMENT; iptables-nft uses the same type 0). */
const UDATA_RULE_COMMENT = 0;

export interface NftRuleMsg {
  family: NftFamily;
  table: string;
  chain: string;
  handle: number;
  position: number | null;
  expressions: NftExpr[];
  compat: { proto: number; flags: number } | null;
  /** The NUL-terminated comment TLV of the userdata, or null (also when the userdata is malformed). */
  comment: string | null;
  /** The userdata holds bytes that are not a well-formed TLV list. */
  badUserdata: boolean;
}

export function decodeRule(payload: Buffer): NftRuleMsg | null {
  const family = familyName(decodeNfGen(payload).family);
  const a = new Attrs('nft rule', payload, NFGENMSG_LEN);
  if (family === null) return null;
  const expressions: NftExpr[] = [];
  const list = a.raw(NFTA_RULE_EXPRESSIONS);
  if (list !== null) {
    for (const elem of Attrs.list(list)) {
      if (elem.type !== NFTA_LIST_ELEM) throw new DecodeError('nft rule expressions', 0, `list element of type ${elem.type}`);
      expressions.push(decodeExpr(elem.data));
    }
  }
  let compat: NftRuleMsg['compat'] = null;
  const c = a.raw(NFTA_RULE_COMPAT);
  if (c !== null) {
    const ca = new Attrs('nft rule compat', c);
    compat = { proto: ca.u32(NFTA_RULE_COMPAT_PROTO) ?? 0, flags: ca.u32(NFTA_RULE_COMPAT_FLAGS) ?? 0 };
  }
  const udata = a.raw(NFTA_RULE_USERDATA);
  const parsed = udata === null ? { comment: null, bad: false } : userdataComment(udata);
  return {
    family,
    table: a.need(a.str(NFTA_RULE_TABLE), NFTA_RULE_TABLE),
    chain: a.need(a.str(NFTA_RULE_CHAIN), NFTA_RULE_CHAIN),
    handle: a.u64(NFTA_RULE_HANDLE) ?? 0,
    position: a.u64(NFTA_RULE_POSITION),
    expressions,
    compat,
    comment: parsed.comment,
    badUserdata: parsed.bad,
  };
}

/**
 * libnftnl userdata: a list of { u8 type, u8 len, value[len] } with no padding. The comment is type 0 and must end in
 * NUL (iptables-nft's parse_udata_cb and nft's both reject it otherwise).
 */
export function userdataComment(b: Buffer): { comment: string | null; bad: boolean } {
  let comment: string | null = null;
  let off = 0;
  while (off < b.length) {
    if (off + 2 > b.length) return { comment: null, bad: true };
    const type = b[off]!;
    const len = b[off + 1]!;
    if (off + 2 + len > b.length) return { comment: null, bad: true };
    const value = b.subarray(off + 2, off + 2 + len);
    if (type === UDATA_RULE_COMMENT) {
      if (len === 0 || value[len - 1] !== 0) return { comment: null, bad: true };
      comment = value.toString('utf8', 0, len - 1);
    }
    off += 2 + len;
  }
  return { comment, bad: false };
}
