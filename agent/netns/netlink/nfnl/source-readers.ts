/**
 * The nftables and ipset sources of the netlink namespace read (read-namespace.ts SourceReader): each uses its own
 * NETLINK_NETFILTER socket of the namespace; they resolve `-m set` indexes through SO_IP_SET on its IPv4 raw socket as
 * iptables-save does, fill NetnsState.iptables (the nft backend's dumps), .nftables (native tables) and .ipsets,
 * and report each source's completeness. Opaque rules are counted in a note (auto reads that namespace again
 * through the tools).
 */
import type { SourceName, SourceStatus } from '../../state.js';
import type { SourceReader } from '../read-namespace.js';
import { readIpset } from './ipset.js';
import { readNftables } from './read-nftables.js';

function failed(sources: SourceName[], message: string): SourceStatus[] {
  return sources.map((source) => ({ source, status: 'failed', reason: 'spawn', message }));
}

export const nftablesSource: SourceReader = {
  sources: ['iptables-nft-ipv4', 'iptables-nft-ipv6', 'nftables'],
  read(h, limits, state) {
    if (h.netfilter === null) return failed(this.sources, 'no NETLINK_NETFILTER socket in the namespace');
    const r = readNftables(h.netfilter, limits, { setName: h.setName });
    state.iptables.push(...r.iptables);
    state.nftables = r.native;
    state.notes!.push(...r.notes);
    if (r.opaqueRules > 0) state.notes!.push(`${r.opaqueRules} iptables-nft rules could not be rendered exactly (opaque)`);
    return r.sources;
  },
};

export const ipsetSource: SourceReader = {
  sources: ['ipset'],
  read(h, limits, state) {
    if (h.ipsetNetfilter === null) return failed(this.sources, 'no NETLINK_NETFILTER socket in the namespace');
    const r = readIpset(h.ipsetNetfilter, limits);
    state.ipsets = r.ipsets;
    return [r.source];
  },
};
