/**
 * Shared pieces of the expression decoders: nft_data (NFTA_DATA_VALUE bytes or an NFTA_DATA_VERDICT), verdict
 * codes, comparison operators and key names (uapi linux/netfilter/nf_tables.h, linux/netfilter.h).
 */
import { DecodeError } from '../../../../errors.js';
import type { NftCmpOp, NftData, NftVerdict } from '../../../model/nftables.js';
import { Attrs, hex } from '../attrs.js';

const NFTA_DATA_VALUE = 1;
const NFTA_DATA_VERDICT = 2;
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;

export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NFT_JUMP = -3;
export const NFT_GOTO = -4;
export const NFT_RETURN = -5;

const VERDICT_NAMES: Record<number, string> = {
  0: 'drop',
  1: 'accept',
  2: 'stolen',
  3: 'queue',
  4: 'repeat',
  5: 'stop',
  [-1]: 'continue',
  [-2]: 'break',
  [-3]: 'jump',
  [-4]: 'goto',
  [-5]: 'return',
};

export function verdictName(code: number): string {
  return VERDICT_NAMES[code] ?? `verdict ${code}`;
}

/** A nested NFTA_VERDICT_* block. */
export function decodeVerdict(buf: Buffer): NftVerdict {
  const a = new Attrs('nft verdict', buf);
  const code = a.need(a.s32(NFTA_VERDICT_CODE), NFTA_VERDICT_CODE);
  const chain = a.str(NFTA_VERDICT_CHAIN);
  return chain === null ? { code: verdictName(code) } : { code: verdictName(code), chain };
}

/** A nested nft_data block: value bytes (hex) or a verdict. */
export function decodeData(buf: Buffer, what: string): NftData {
  const a = new Attrs(what, buf);
  const value = a.raw(NFTA_DATA_VALUE);
  if (value !== null) return { value: hex(value) };
  const verdict = a.raw(NFTA_DATA_VERDICT);
  if (verdict !== null) return { verdict: decodeVerdict(verdict) };
  throw new DecodeError(what, 0, 'nft_data holds neither a value nor a verdict');
}

/** The value bytes of a nested nft_data block (hex); a verdict there is a DecodeError. */
export function decodeValue(buf: Buffer, what: string): string {
  const d = decodeData(buf, what);
  if ('value' in d) return d.value;
  throw new DecodeError(what, 0, 'expected a value, got a verdict');
}

const CMP_OPS: NftCmpOp[] = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'];

export function cmpOp(n: number, what: string): NftCmpOp {
  const op = CMP_OPS[n];
  if (op === undefined) throw new DecodeError(what, 0, `unknown comparison operator ${n}`);
  return op;
}

/** A name from a table indexed by number, or `unknown-<n>`. */
export function keyName(names: readonly string[], n: number): string {
  return names[n] ?? `unknown-${n}`;
}

/** enum nft_meta_keys, as nft names them. */
export const META_KEYS = [
  'len', 'protocol', 'priority', 'mark', 'iif', 'oif', 'iifname', 'oifname', 'iiftype', 'oiftype', 'skuid', 'skgid',
  'nftrace', 'rtclassid', 'secmark', 'nfproto', 'l4proto', 'ibrname', 'obrname', 'pkttype', 'cpu', 'iifgroup',
  'oifgroup', 'cgroup', 'random', 'secpath', 'iifkind', 'oifkind', 'ibrpvid', 'ibrvproto', 'time', 'day', 'hour',
  'sdif', 'sdifname', 'broute',
] as const;

/** enum nft_ct_keys, as nft names them. */
export const CT_KEYS = [
  'state', 'direction', 'status', 'mark', 'secmark', 'expiration', 'helper', 'l3proto', 'saddr', 'daddr', 'protocol',
  'proto-src', 'proto-dst', 'label', 'packets', 'bytes', 'avgpkt', 'zone', 'event', 'ip saddr', 'ip daddr',
  'ip6 saddr', 'ip6 daddr', 'id',
] as const;

/** enum nft_socket_keys. */
export const SOCKET_KEYS = ['transparent', 'mark', 'wildcard', 'cgroupv2'] as const;
