/**
 * iproute2's names for numbers (lib/rt_names.c, ll_proto.c and Debian 12's /etc/iproute2 files, iproute2 6.1), so
 * that the netlink reader names things exactly as `ip` and `tc` print them and the tools reader can turn printed
 * names back into numbers. Pure tables; no file is read at run time (the agent's image ships the same files).
 */

const ROUTE_TYPES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];

/** RTN_* as `ip route` prints it (rtnl_rtntype_n2a): unicast, local, ...; a number as text beyond the table. */
export function routeTypeName(type: number): string {
  return ROUTE_TYPES[type] ?? String(type);
}

/** Route protocols: rt_names.c's table merged with Debian's /etc/iproute2/rt_protos (openr, babel 42). */
const PROTOCOLS: Record<number, string> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra', 12: 'bird',
  13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 18: 'keepalived', 42: 'babel', 99: 'openr', 186: 'bgp', 187: 'isis',
  188: 'ospf', 189: 'rip', 192: 'eigrp',
};

export function protocolName(proto: number): string {
  return PROTOCOLS[proto] ?? String(proto);
}

const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

/** RT_SCOPE_* as `ip` prints it (rtnl_rtscope_n2a + rt_scopes). */
export function scopeName(scope: number): string {
  return SCOPES[scope] ?? String(scope);
}

const TABLES: Record<number, string> = { 0: 'unspec', 253: 'default', 254: 'main', 255: 'local' };
const TABLE_IDS: Record<string, number> = Object.fromEntries(Object.entries(TABLES).map(([id, name]) => [name, Number(id)]));

/** Routing table names (rt_tables): local, main, default, unspec; other ids as numbers. */
export function tableName(id: number): string {
  return TABLES[id] ?? String(id);
}

/** A printed table name or number back to its id; null when it is neither (a name from a custom rt_tables). */
export function tableId(name: string): number | null {
  const known = TABLE_IDS[name];
  if (known !== undefined) return known;
  return /^\d+$/.test(name) ? Number(name) : null;
}

/** Ethernet protocol names (ll_proto.c); ids are host-order ETH_P_* values. */
const LL_PROTOCOLS: [number, string][] = [
  [0x0060, 'loop'], [0x0200, 'pup'], [0x0201, 'pupat'], [0x0800, 'ip'], [0x0805, 'x25'], [0x0806, 'arp'], [0x08ff, 'bpq'],
  [0x0a00, 'ieeepup'], [0x0a01, 'ieeepupat'], [0x6000, 'dec'], [0x6001, 'dna_dl'], [0x6002, 'dna_rc'], [0x6003, 'dna_rt'],
  [0x6004, 'lat'], [0x6005, 'diag'], [0x6006, 'cust'], [0x6007, 'sca'], [0x8035, 'rarp'], [0x809b, 'atalk'], [0x80f3, 'aarp'],
  [0x8137, 'ipx'], [0x86dd, 'ipv6'], [0x8863, 'ppp_disc'], [0x8864, 'ppp_ses'], [0x884c, 'atmmpoa'], [0x8884, 'atmfate'],
  [0x0001, '802_3'], [0x0002, 'ax25'], [0x0003, 'all'], [0x0004, '802_2'], [0x0005, 'snap'], [0x0006, 'ddcmp'],
  [0x0007, 'wan_ppp'], [0x0008, 'ppp_mp'], [0x0009, 'localtalk'], [0x000c, 'can'], [0x0010, 'ppptalk'], [0x0011, 'tr_802_2'],
  [0x0015, 'mobitex'], [0x0016, 'control'], [0x0017, 'irda'], [0x0018, 'econet'], [0x88ca, 'tipc'], [0x8892, 'profinet'],
  [0x88a2, 'aoe'], [0x88a4, 'ethercat'], [0x8100, '802.1Q'], [0x88a8, '802.1ad'], [0x8847, 'mpls_uc'], [0x8848, 'mpls_mc'],
  [0x6558, 'teb'], [0x88cc, 'LLDP'],
];
const LL_PROTOCOL_NAMES = new Map<number, string>();
for (const [id, name] of LL_PROTOCOLS) if (!LL_PROTOCOL_NAMES.has(id)) LL_PROTOCOL_NAMES.set(id, name);

/** A filter's protocol as tc prints it (ll_proto_n2a): `ip`, `ipv6`, `all`, ..., `[N]` for unknown ones. */
export function llProtocolName(ethType: number): string {
  return LL_PROTOCOL_NAMES.get(ethType) ?? `[${ethType}]`;
}

const IP_PROTOCOLS: Record<number, string> = { 1: 'icmp', 2: 'igmp', 4: 'ipencap', 6: 'tcp', 17: 'udp', 41: 'ipv6', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };

/** An IP protocol number as `ip rule` prints it (inet_proto_n2a: /etc/protocols names). */
export function ipProtocolName(proto: number): string {
  return IP_PROTOCOLS[proto] ?? String(proto);
}
