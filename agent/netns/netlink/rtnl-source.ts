/**
 * The rtnetlink part of the netlink reader as a SourceReader (read-namespace.ts): links, addresses, routes and rules
 * (source `links`; the fwmark rules also as `ipRules` lines, as `ip rule show` prints them) and the whole tc tree
 * (source `tc`), read over the namespace's NETLINK_ROUTE sockets (one per source, sharing an fd: read-namespace.ts) by readRtnl. What the decoders could not render
 * exactly as the tools would (an ematch without a printer here, a set index without a name, options that did not
 * decode) is listed in `tc.opaque`: `--reader auto` then reads the namespace through the tools.
 */
import { ipRuleLine } from '../model/rule-text.js';
import type { SourceReader } from './read-namespace.js';
import { readRtnl } from './read-rtnl.js';

/**
 * The source. ipsets named by a basic filter's ipset ematch are resolved by index through the read's shared
 * resolver (`h.setName`, SO_IP_SET as iptables-save does); an index it cannot name renders as `#N`, opaque.
 */
export const rtnlSource: SourceReader = {
  sources: ['links', 'tc'],
  read(h, limits, state) {
    const r = readRtnl(h.route, limits, { setName: (i) => h.setName(i) }, h.tcRoute);
    state.links = r.links;
    state.addresses = r.addresses;
    state.routes = r.routes;
    state.rules = r.rules;
    for (const rule of r.rules) if (rule.fwmark !== null) state.ipRules.push(ipRuleLine(rule));
    state.tc = r.tc;
    if (r.inexact.length > 0) state.tc.opaque = r.inexact;
    for (const e of r.linkErrors) state.notes!.push(`links: ${e.message}`);
    return r.sources;
  },
};
