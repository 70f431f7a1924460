/**
 * ebtables on the netlink path. The netlink reader does not decode ebtables rules itself: legacy ebtables has no cheap
 * list of its tables (listing one instantiates it) and nft bridge tables would need ebtables-nft's own translation.
 * It decides, from what it already read, whether the namespace can hold any:
 * - ebtables-legacy: only chaos-tproxy's bridge layout puts rules there (chaos-daemon's image runs ebtables-legacy);
 *   without chaos-tproxy's interfaces the source is complete and empty, as in the tools reader;
 * - ebtables-nft: complete and empty when no nft `bridge` table exists.
 * Otherwise the source is `unsupported`, so `--reader auto` reads that (rare) namespace through the tools.
 * Runs after the rtnetlink and nftables sources (it looks at state.links and state.nftables).
 */
import { hasTproxyLinks } from '../model/links.js';
import type { SourceStatus } from '../state.js';
import type { SourceReader } from './read-namespace.js';

export const ebtablesSource: SourceReader = {
  sources: ['ebtables-legacy', 'ebtables-nft'],
  read(_h, _limits, state) {
    const out: SourceStatus[] = [];
    const links = state.sources?.find((s) => s.source === 'links');
    if (links?.status !== 'complete') {
      out.push({ source: 'ebtables-legacy', status: 'failed', reason: links?.reason ?? 'spawn', message: 'links unknown: cannot tell whether chaos-tproxy put ebtables rules here' });
    } else if (hasTproxyLinks((state.links ?? []).map((l) => l.name))) {
      out.push({ source: 'ebtables-legacy', status: 'failed', reason: 'unsupported', message: 'chaos-tproxy interfaces present: legacy ebtables are read through the tools' });
    } else {
      out.push({ source: 'ebtables-legacy', status: 'complete' });
    }
    const nft = state.sources?.find((s) => s.source === 'nftables');
    if (nft?.status !== 'complete') {
      out.push({ source: 'ebtables-nft', status: 'failed', reason: nft?.reason ?? 'spawn', message: 'nftables not read: bridge tables unknown' });
    } else if ((state.nftables ?? []).some((t) => t.family === 'bridge')) {
      out.push({ source: 'ebtables-nft', status: 'failed', reason: 'unsupported', message: 'nft bridge tables present: ebtables rules are read through the tools' });
    } else {
      out.push({ source: 'ebtables-nft', status: 'complete' });
    }
    return out;
  },
};
