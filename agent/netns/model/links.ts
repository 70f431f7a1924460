/**
 * Links, addresses, routes and policy-routing rules of a namespace, as both readers produce them (`ip -j -d link /
 * addr / route / rule`, or RTM_GETLINK / GETADDR / GETROUTE / GETRULE dumps). HTTPChaos (chaos-tproxy >= 0.4)
 * shows here: a bridge with eth0 as a port, veths, the pod address moved, the default route changed.
 */

export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: veth, bridge, dummy, ipip...; null for a plain device (lo, a physical NIC). */
  kind: string | null;
  /** Index of the master (bridge) device, null when none. */
  master: number | null;
  mtu: number;
  /** IFF_* flag names as `ip` prints them: UP, LOWER_UP, BROADCAST, MULTICAST, LOOPBACK, NOARP... */
  flags: string[];
  /** IF_OPER_* name: UP, DOWN, UNKNOWN, LOWERLAYERDOWN... */
  operState: string;
  /** Link-layer address (lower-case hex with colons), null when none. */
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
  address: string;
  prefixLength: number;
  /** global, link, host, site, or a number as text. */
  scope: string;
}

export interface Route {
  family: 'ipv4' | 'ipv6';
  /** Routing table id (254 main, 255 local, 100 for HTTPChaos's old layout...). */
  table: number;
  /** `default` or `addr/len`. */
  destination: string;
  gateway: string | null;
  /** Output interface name, null when none (blackhole, unreachable). */
  interface: string | null;
  /** unicast, local, broadcast, blackhole, unreachable, prohibit... */
  type: string;
  /** kernel, boot, static, dhcp, or a number as text. */
  protocol: string;
  scope: string;
  /** Preferred source address, null when none. */
  source: string | null;
  metric: number | null;
}

export interface IpRule {
  family: 'ipv4' | 'ipv6';
  priority: number;
  /** `0x1/0x1` style (mask omitted when all ones, as `ip rule` prints), null when the rule has no fwmark. */
  fwmark: string | null;
  /** Table looked up (`lookup N`), null for other actions. */
  table: number | null;
  /** to_tbl, blackhole, unreachable, prohibit, goto, nop. */
  action: string;
  /** The rule as `ip rule show` prints it after `N:\t`, e.g. `from all fwmark 0x1 lookup 100`. */
  text: string;
}
