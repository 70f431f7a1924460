/**
 * Links, addresses, routes and policy-routing rules of a namespace, as both readers produce them (`ip -j -d link /
 * addr / route / rule`, or RTM_GETLINK / GETADDR / GETROUTE / GETRULE dumps). Names and formats are iproute2's
 * (6.1), so both readers agree to the character.
 *
 * HTTPChaos (chaos-tproxy >= 0.4) shows here: a bridge `<p>b1` whose ports (`master`) are eth0 and the veth
 * `<p>v1`, veths `<p>v1` / `<p>v4` whose peers live in the proxy namespace (`linkNetnsId` set), the pod address
 * moved from eth0 to `<p>v4` and the default route via `<p>v4`. The old layout (chaos-tproxy 0.2, Chaos Mesh
 * 2.0-2.1) shows as the rule `from all fwmark 0x1 lookup 100` and a `local default dev lo` route in table 100.
 */

export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: veth, bridge, dummy, ipip...; null for a plain device (lo, a physical NIC). */
  kind: string | null;
  /** IFLA_INFO_SLAVE_KIND: `bridge` for a bridge port, null when the link is no one's port (both readers fill it). */
  slaveKind?: string | null;
  /** Index of the master (bridge) device, null when none. */
  master: number | null;
  mtu: number;
  /**
   * IFF_* flag names in `ip`'s order: NO-CARRIER (up without carrier), LOOPBACK, BROADCAST, POINTOPOINT, MULTICAST,
   * NOARP, ALLMULTI, PROMISC, MASTER, SLAVE, ..., UP, LOWER_UP, DORMANT, ECHO, then M-DOWN (the local peer is down).
   */
  flags: string[];
  /** IF_OPER_* name: UP, DOWN, UNKNOWN, LOWERLAYERDOWN...; null when the kernel sends none. */
  operState: string | null;
  /** Link-layer address (lower-case hex with colons; dotted IPv4 / IPv6 for tunnels), null when none. */
  address: string | null;
  /** veth and other paired links: the peer's ifindex (IFLA_LINK), null when none. */
  link: number | null;
  /** The peer is in another namespace (IFLA_LINK_NETNSID), its netns id in this namespace; null when local. */
  linkNetnsId: number | null;
}

export interface Address {
  index: number;
  interface: string;
  family: 'ipv4' | 'ipv6';
  /** IFA_LOCAL (IFA_ADDRESS when there is no IFA_LOCAL, as for IPv6). */
  address: string;
  prefixLength: number;
  /** global, link, host, site, nowhere, or a number as text. */
  scope: string;
}

export interface Route {
  family: 'ipv4' | 'ipv6';
  /** Routing table id (254 main, 255 local, 100 for HTTPChaos's old layout...). */
  table: number;
  /** As `ip route` prints it: `default`, `addr` for a host route, `addr/len` otherwise. */
  destination: string;
  gateway: string | null;
  /** Output interface name, null when none (blackhole, unreachable, multipath). */
  interface: string | null;
  /** unicast, local, broadcast, multicast, blackhole, unreachable, prohibit, throw... */
  type: string;
  /** kernel, boot, static, dhcp, ra..., or a number as text. */
  protocol: string;
  /** global, link, host... */
  scope: string;
  /** Preferred source address, null when none. */
  source: string | null;
  metric: number | null;
}

export interface IpRule {
  family: 'ipv4' | 'ipv6';
  priority: number;
  /** `0x1`, or `0x2/0x3` when a mask other than all-ones is set (as `ip rule` prints it); null without fwmark. */
  fwmark: string | null;
  /** Table looked up (`lookup N`), null for rules of another action. */
  table: number | null;
  /** to_tbl, goto, nop, blackhole, unreachable, prohibit, nat, or a number as text. */
  action: string;
  /** The rule as `ip rule show` prints it after `N:\t`, e.g. `from all fwmark 0x1 lookup 100`. */
  text: string;
}

/** chaos-tproxy's interface names (13 characters of a UUID, then b1 / v1 / v4): HTTPChaos's bridge layout. */
const TPROXY_LINK = /^[0-9a-f]{8}-[0-9a-f]{4}(?:b1|v1|v4)$/;

/** True when some interface has one of chaos-tproxy's names (the readers then look at ebtables, addresses, routes). */
export function hasTproxyLinks(names: readonly string[] | null): boolean {
  return names !== null && names.some((n) => TPROXY_LINK.test(n));
}
