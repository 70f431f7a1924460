/**
 * The legacy iptables source of the netlink reader (registered in ../sources.ts): both families over getsockopt,
 * for the tables the namespace lists, with ipset names resolved as iptables-save resolves them. A family with no
 * listed table is complete and adds no dump (as the tools reader does); a listed family without its raw socket
 * (no NET_RAW) is failed, so `auto` reads it through the tools.
 */
import type { IpFamily, SourceName, SourceStatus } from '../../state.js';
import type { SourceReader } from '../read-namespace.js';
import { readLegacy } from './read.js';

const FAMILIES: [IpFamily, SourceName][] = [['ipv4', 'iptables-legacy-ipv4'], ['ipv6', 'iptables-legacy-ipv6']];

export const legacyIptablesSource: SourceReader = {
  sources: FAMILIES.map(([, s]) => s),
  read(h, limits, state) {
    const statuses: SourceStatus[] = [];
    // ipset names are asked on the IPv4 raw socket (SOL_IP / SO_IP_SET), for IPv6 rules too (handles.setName).
    const ctx = { setName: h.setName };
    for (const [family, source] of FAMILIES) {
      const names = h.legacyTables[family];
      if (names.length === 0) {
        statuses.push({ source, status: 'complete' });
        continue;
      }
      const raw = family === 'ipv4' ? h.raw4 : h.raw6;
      if (raw === null) {
        statuses.push({ source, status: 'failed', reason: 'spawn', message: `no ${family} raw socket to read the legacy tables ${names.join(', ')}` });
        continue;
      }
      const r = readLegacy(raw, family, names, ctx, limits);
      if (r.dump !== null && r.dump.tables.length > 0) state.iptables.push(r.dump);
      state.notes ??= [];
      state.notes.push(...r.notes);
      statuses.push(r.source);
    }
    return statuses;
  },
};
