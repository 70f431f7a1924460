/**
 * The xt match/target decoders both netlink paths share: the legacy xtables reader (entries from getsockopt) and the
 * nftables reader (iptables-nft's compat `match` / `target` expressions carry the same blobs). One call renders one
 * extension exactly as iptables-save prints it, or says why it cannot.
 *
 * The text returned starts with the space iptables prints: ` -m NAME <save output>` for a match, ` -j NAME <save
 * output>` for a target. A rule's text is the concatenation of its parts in order, trimmed at both ends (what the
 * tools reader keeps after `-A CHAIN `): keep inner spaces as they are, some save functions print trailing ones.
 */
import { DecodeError } from '../../../errors.js';
import type { IpFamily } from '../../model/iptables.js';
import { addrtypeMatch } from './addrtype.js';
import { classifyTarget } from './classify.js';
import { commentMatch } from './comment.js';
import { connmarkMatch, connmarkTarget } from './connmark.js';
import { ctTarget } from './ct.js';
import { conntrackMatch, stateMatch } from './conntrack.js';
import { icmp6Match, icmpMatch } from './icmp.js';
import { iprangeMatch } from './iprange.js';
import { limitMatch } from './limit.js';
import { logTarget } from './log.js';
import { macMatch } from './mac.js';
import { markMatch, markTarget } from './mark.js';
import { multiportMatch } from './multiport.js';
import { dnatTarget, masqueradeTarget, redirectTarget, snatTarget } from './nat.js';
import { nflogTarget, nfqueueTarget, traceTarget } from './nflog-nfqueue.js';
import { ownerMatch } from './owner.js';
import { physdevMatch } from './physdev.js';
import { pkttypeMatch } from './pkttype.js';
import { rejectTarget } from './reject.js';
import { setMatch } from './set.js';
import { socketMatch } from './socket.js';
import { statisticMatch } from './statistic.js';
import { tcpMatch, udpMatch } from './tcp-udp.js';
import { tproxyTarget } from './tproxy.js';
import type { XtContext, XtDecoder, XtResult } from './types.js';

export type { XtContext, XtResult } from './types.js';

/** Decoders of one extension by revision; several for a revision registered per family with different structs. */
type Revisions = Record<number, XtDecoder | XtDecoder[]>;

const MATCHES = new Map<string, Revisions>([
  ['addrtype', addrtypeMatch],
  ['comment', commentMatch],
  ['connmark', connmarkMatch],
  ['conntrack', conntrackMatch],
  ['icmp', icmpMatch],
  ['icmp6', icmp6Match],
  ['iprange', iprangeMatch],
  ['limit', limitMatch],
  ['mac', macMatch],
  ['mark', markMatch],
  ['multiport', multiportMatch],
  ['owner', ownerMatch],
  ['physdev', physdevMatch],
  ['pkttype', pkttypeMatch],
  ['set', setMatch],
  ['socket', socketMatch],
  ['state', stateMatch],
  ['statistic', statisticMatch],
  ['tcp', tcpMatch],
  ['udp', udpMatch],
]);

const TARGETS = new Map<string, Revisions>([
  ['CLASSIFY', classifyTarget],
  ['CONNMARK', connmarkTarget],
  ['CT', ctTarget],
  ['DNAT', dnatTarget],
  ['LOG', logTarget],
  ['MARK', markTarget],
  ['MASQUERADE', masqueradeTarget],
  ['NFLOG', nflogTarget],
  ['NFQUEUE', nfqueueTarget],
  ['REDIRECT', redirectTarget],
  ['REJECT', rejectTarget],
  ['SNAT', snatTarget],
  ['TPROXY', tproxyTarget],
  ['TRACE', traceTarget],
]);

function pick(revisions: Revisions, revision: number, family: IpFamily): XtDecoder | null {
  const entry = Object.hasOwn(revisions, revision) ? revisions[revision] : undefined;
  if (entry === undefined) return null;
  for (const d of Array.isArray(entry) ? entry : [entry]) if (d.family === undefined || d.family === family) return d;
  return null;
}

function render(kind: 'match' | 'target', name: string, revision: number, family: IpFamily, info: Buffer, ctx: XtContext): XtResult {
  const revisions = (kind === 'match' ? MATCHES : TARGETS).get(name);
  if (revisions === undefined) return { opaque: `${kind} ${name}: no decoder` };
  const d = pick(revisions, revision, family);
  if (d === null) return { opaque: `${kind} ${name} revision ${revision}: no decoder for ${family}` };
  if (info.length < d.size) return { opaque: `${kind} ${name} revision ${revision}: ${info.length} bytes, the struct needs ${d.size}` };
  const input = { info, family, ctx };
  try {
    const shown = d.alias ? d.alias(input) : name;
    return { text: `${kind === 'match' ? ' -m' : ' -j'} ${shown}${d.save(input)}` };
  } catch (err) {
    if (err instanceof DecodeError) return { opaque: `${kind} ${name} revision ${revision}: ${err.message}` };
    throw err;
  }
}

/**
 * ` -m NAME ...` exactly as iptables-save prints the match `name` (kernel extension name) at `revision` with info
 * blob `info` (the struct after struct xt_entry_match, or NFTA_MATCH_INFO), or why not. Never throws for any bytes.
 */
export function decodeXtMatch(name: string, revision: number, family: IpFamily, info: Buffer, ctx: XtContext): XtResult {
  return render('match', name, revision, family, info, ctx);
}

/** ` -j NAME ...` for the target `name` at `revision` (the struct after struct xt_entry_target, or NFTA_TARGET_INFO). */
export function decodeXtTarget(name: string, revision: number, family: IpFamily, info: Buffer, ctx: XtContext): XtResult {
  return render('target', name, revision, family, info, ctx);
}

/** Names with at least one decoder (for notes and tests). */
export function knownExtensions(): { matches: string[]; targets: string[] } {
  return { matches: [...MATCHES.keys()], targets: [...TARGETS.keys()] };
}
