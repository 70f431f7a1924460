/**
 * Protocol numbers as iptables-save names them (iptables/xshared.c proto_to_name): libxtables' own table first
 * (xtables_chain_protos), then getprotobynumber(3), i.e. /etc/protocols. The second part is Debian's netbase 6.4
 * /etc/protocols (bookworm; the agent image installs it with iptables): the first name of each number.
 */

/** xtables_chain_protos, first match wins. */
const XTABLES_PROTOS: [number, string][] = [
  [6, 'tcp'],
  [132, 'sctp'],
  [17, 'udp'],
  [136, 'udplite'],
  [1, 'icmp'],
  [58, 'ipv6-icmp'],
  [50, 'esp'],
  [51, 'ah'],
  [135, 'mobility-header'],
  [0, 'all'],
];

const NETBASE =
  '0 ip;1 icmp;2 igmp;3 ggp;4 ipencap;5 st;6 tcp;8 egp;9 igp;12 pup;17 udp;20 hmp;22 xns-idp;27 rdp;29 iso-tp4;33 dccp;' +
  '36 xtp;37 ddp;38 idpr-cmtp;41 ipv6;43 ipv6-route;44 ipv6-frag;45 idrp;46 rsvp;47 gre;50 esp;51 ah;57 skip;58 ipv6-icmp;' +
  '59 ipv6-nonxt;60 ipv6-opts;73 rspf;81 vmtp;88 eigrp;89 ospf;93 ax.25;94 ipip;97 etherip;98 encap;103 pim;108 ipcomp;' +
  '112 vrrp;115 l2tp;124 isis;132 sctp;133 fc;135 mobility-header;136 udplite;137 mpls-in-ip;138 manet;139 hip;140 shim6;' +
  '141 wesp;142 rohc;143 ethernet;262 mptcp';

const NETBASE_NAMES = new Map<number, string>();
for (const pair of NETBASE.split(';')) {
  const [n, name] = pair.split(' ') as [string, string];
  if (!NETBASE_NAMES.has(Number(n))) NETBASE_NAMES.set(Number(n), name);
}
const NAMES = new Map<number, string>();
for (const [n, name] of XTABLES_PROTOS) if (!NAMES.has(n)) NAMES.set(n, name);
for (const [n, name] of NETBASE_NAMES) if (!NAMES.has(n)) NAMES.set(n, name);

/** getprotobynumber(3)'s name (netbase only, what ipset save prints), or null. */
export function netbaseProtocolName(proto: number): string | null {
  return NETBASE_NAMES.get(proto) ?? null;
}

/** What iptables-save prints after `-p` for this protocol number. */
export function protocolName(proto: number): string {
  return NAMES.get(proto) ?? String(proto);
}
