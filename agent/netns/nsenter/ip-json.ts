/**
 * MINIMAL parsers for `ip -j -d addr show` (links and their addresses in one command) and
 * `ip -j route show table all` (both families), written for HTTPChaos recognition while the full `ip -j` parsers
 * (agent/netns/nsenter/ip.ts, the nl-rtnl engineer's) are not there yet: replace this file with those when they
 * land. Pure, total: malformed input gives an error string and whatever objects could be read.
 * iproute2 6.1 JSON (ipaddress.c print_linkinfo / print_addrinfo, iproute.c print_route): `ifindex`, `ifname`,
 * `flags`, `mtu`, `operstate`, `address`, `master` (a NAME), `link` (peer NAME, same namespace) or `link_index` +
 * `link_netnsid` (peer in another namespace), `linkinfo.info_kind`, `addr_info[]` {family inet|inet6, local,
 * prefixlen, scope}; routes {type?, dst, gateway?, dev?, table? (name or number; absent = main), protocol, scope?,
 * prefsrc?, metric?}.
 */
import type { Address, Link, Route } from '../state.js';

type Obj = Record<string, unknown>;

function parseArray(text: string): { items: Obj[]; error: string | null } {
  const t = text.trim();
  if (t === '') return { items: [], error: null };
  try {
    const v: unknown = JSON.parse(t);
    if (!Array.isArray(v)) return { items: [], error: 'not a JSON array' };
    return { items: v.filter((x): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)), error: null };
  } catch (err) {
    return { items: [], error: `invalid JSON: ${(err as Error).message}` };
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

const TABLES: Record<string, number> = { main: 254, local: 255, default: 253 };

export function parseIpAddrJson(text: string): { links: Link[]; addresses: Address[]; error: string | null } {
  const { items, error } = parseArray(text);
  const links: Link[] = [];
  const addresses: Address[] = [];
  const indexByName = new Map<string, number>();
  for (const o of items) {
    const index = int(o.ifindex);
    const name = str(o.ifname);
    if (index !== null && name !== null) indexByName.set(name, index);
  }
  for (const o of items) {
    const index = int(o.ifindex);
    const name = str(o.ifname);
    if (index === null || name === null) continue;
    const info = typeof o.linkinfo === 'object' && o.linkinfo !== null ? (o.linkinfo as Obj) : null;
    const master = str(o.master);
    const peerName = str(o.link);
    links.push({
      index,
      name,
      kind: info === null ? null : str(info.info_kind),
      master: master === null ? null : (indexByName.get(master) ?? null),
      mtu: int(o.mtu) ?? 0,
      flags: Array.isArray(o.flags) ? o.flags.filter((f): f is string => typeof f === 'string') : [],
      operState: str(o.operstate) ?? 'UNKNOWN',
      address: str(o.address),
      link: int(o.link_index) ?? (peerName === null ? null : (indexByName.get(peerName) ?? null)),
      linkNetnsId: int(o.link_netnsid),
    });
    const infos = Array.isArray(o.addr_info) ? o.addr_info : [];
    for (const a of infos) {
      if (typeof a !== 'object' || a === null) continue;
      const ai = a as Obj;
      const family = str(ai.family);
      const local = str(ai.local);
      const prefix = int(ai.prefixlen);
      if ((family !== 'inet' && family !== 'inet6') || local === null || prefix === null) continue;
      addresses.push({
        index,
        interface: name,
        family: family === 'inet' ? 'ipv4' : 'ipv6',
        address: local,
        prefixLength: prefix,
        scope: str(ai.scope) ?? String(ai.scope ?? ''),
      });
    }
  }
  return { links, addresses, error };
}

export function parseIpRouteJson(text: string): { routes: Route[]; error: string | null } {
  const { items, error } = parseArray(text);
  const routes: Route[] = [];
  for (const o of items) {
    const dst = str(o.dst);
    if (dst === null) continue;
    const tableRaw = o.table;
    const table = tableRaw === undefined ? 254 : (int(tableRaw) ?? TABLES[String(tableRaw)] ?? (Number(tableRaw) || 0));
    const gateway = str(o.gateway);
    routes.push({
      family: dst.includes(':') || (gateway ?? '').includes(':') ? 'ipv6' : 'ipv4',
      table,
      destination: dst,
      gateway,
      interface: str(o.dev),
      type: str(o.type) ?? 'unicast',
      protocol: str(o.protocol) ?? String(o.protocol ?? 'boot'),
      scope: str(o.scope) ?? 'global',
      source: str(o.prefsrc),
      metric: int(o.metric),
    });
  }
  return { routes, error };
}
