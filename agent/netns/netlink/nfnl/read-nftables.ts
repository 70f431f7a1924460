/**
 * The nftables read of one namespace over an NETLINK_NETFILTER socket opened inside it: one consistent ruleset
 * (nft-dump.ts), split into iptables-nft's tables rendered as IptablesDumps (iptables-nft.ts) and every other table
 * as native nftables (native.ts), with a status per source. Synchronous, safe in a worker thread; throws only
 * NetlinkError (the socket failed: timeout, kernel refusal), never for the content.
 */
import { NetlinkError } from '../../../errors.js';
import type { IptablesDump } from '../../model/iptables.js';
import type { NftTable } from '../../model/nftables.js';
import type { SourceStatus } from '../../state.js';
import { Errno } from '../libc.js';
import type { NetlinkSocket, RequestLimits } from '../socket.js';
import { iptablesNftDumps } from './iptables-nft.js';
import { nativeTables } from './native.js';
import { dumpRuleset, type NftRuleset } from './nft-dump.js';
import type { XtContext } from '../xt/types.js';

export interface NftablesRead {
  /** iptables-nft's tables: IPv4 then IPv6, each only when it has a table. */
  iptables: IptablesDump[];
  native: NftTable[];
  sources: SourceStatus[];
  generation: number;
  /** Rules that could not be rendered exactly (each carries `opaque`). */
  opaqueRules: number;
  /** What iptables-nft leaves out of its tables (base chains that are not its own), as sentences. */
  notes: string[];
}

/**
 * `ctx.setName(index)` resolves `-m set` indexes as iptables-save does (xt/set-index.ts SetIndex over a raw socket
 * of the same namespace, shared with the legacy reader).
 */
export function readNftables(sock: NetlinkSocket, limits: RequestLimits, ctx: XtContext): NftablesRead {
  let rs: NftRuleset;
  try {
    rs = dumpRuleset(sock, limits);
  } catch (err) {
    // nfnetlink answers EINVAL for a subsystem the kernel does not have (no nf_tables): nothing to read.
    if (!(err instanceof NetlinkError && err.errno === Errno.EINVAL && err.op === 'NFT_MSG_GETGEN')) throw err;
    rs = { generation: 0, tables: [], chains: [], rules: [], decodeErrors: [], truncated: false, inconsistent: false, bytes: 0 };
  }
  const { dumps: iptables, notes } = iptablesNftDumps(rs, ctx);
  const native = nativeTables(rs);
  let status: SourceStatus['status'] = 'complete';
  let reason: string | undefined;
  let message: string | undefined;
  if (rs.truncated) {
    status = 'truncated';
    reason = 'output_limit';
    message = `the ruleset is larger than ${limits.maxBytes} bytes`;
  } else if (rs.decodeErrors.length > 0) {
    status = 'truncated';
    reason = 'parse';
    message = rs.decodeErrors.join('; ');
  } else if (rs.inconsistent) {
    status = 'truncated';
    reason = 'interrupted';
    message = 'the ruleset changed during every read attempt';
  }
  const one = (source: SourceStatus['source']): SourceStatus => ({
    source,
    status,
    ...(reason !== undefined ? { reason } : {}),
    ...(message !== undefined ? { message } : {}),
  });
  let opaqueRules = 0;
  for (const d of iptables) for (const t of d.tables) for (const c of t.chains) for (const r of c.rules) if (r.opaque) opaqueRules++;
  return {
    iptables,
    native,
    sources: [one('iptables-nft-ipv4'), one('iptables-nft-ipv6'), one('nftables')],
    generation: rs.generation,
    opaqueRules,
    notes,
  };
}
