/**
 * One policy-routing rule as `ip rule show` prints it (iproute2 6.1 ip/iprule.c print_rule), from fields both
 * readers fill: the netlink reader from the FRA_* attributes, the tools reader from `ip -j rule show`, whose keys
 * come in the same order as the text. Both then build the same IpRule, text included.
 */
import type { IpRule } from './links.js';
import { routeTypeName, tableName } from './rt-names.js';

export interface RuleFields {
  family: 'ipv4' | 'ipv6';
  priority: number;
  not: boolean;
  /** `all`, an address, `addr/len`, or `0/len` (a prefix length without an address). */
  from: string;
  to: string | null;
  tos: string | null;
  /** `0x1`, or `0x1/0x3` with a mask that is not all ones. */
  fwmark: string | null;
  iif: string | null;
  iifDetached: boolean;
  oif: string | null;
  oifDetached: boolean;
  l3mdev: boolean;
  uidRange: { start: number; end: number } | null;
  ipproto: string | null;
  /** `80` or `80-90`. */
  sport: string | null;
  dport: string | null;
  tunId: number | null;
  /** Table looked up; 0 when none. */
  table: number;
  suppressPrefixLength: number | null;
  suppressIfgroup: string | null;
  /** `from/to` realms, or `to` alone. */
  realms: string | null;
  /** FR_ACT_*: to_tbl, goto, nop, nat, blackhole, unreachable, prohibit, or a number as text. */
  action: string;
  /** goto target priority, `none` when the kernel sent none. */
  gotoTarget: string | null;
  unresolved: boolean;
  /** nat rules: the `map-to` gateway, null for masquerade. */
  natGateway: string | null;
  protocol: string | null;
}

/**
 * FR_ACT_* numbers to the names the model uses: to_tbl, goto, nop, and for the others the RTN_* name `ip` prints
 * for the same number (FR_ACT_BLACKHOLE 6 = blackhole, 7 unreachable, 8 prohibit, RTN_NAT 10 = nat).
 */
export function ruleActionName(action: number): string {
  if (action === 1) return 'to_tbl';
  if (action === 2) return 'goto';
  if (action === 3) return 'nop';
  return routeTypeName(action);
}

/** The text after `N:\t`. */
export function ruleText(f: RuleFields): string {
  let s = `${f.not ? 'not ' : ''}from ${f.from}`;
  if (f.to !== null) s += ` to ${f.to}`;
  if (f.tos !== null) s += ` tos ${f.tos}`;
  if (f.fwmark !== null) s += ` fwmark ${f.fwmark}`;
  if (f.iif !== null) s += ` iif ${f.iif}${f.iifDetached ? ' [detached]' : ''}`;
  if (f.oif !== null) s += ` oif ${f.oif}${f.oifDetached ? ' [detached]' : ''}`;
  if (f.l3mdev) s += ' lookup [l3mdev-table]';
  if (f.uidRange !== null) s += ` uidrange ${f.uidRange.start}-${f.uidRange.end}`;
  if (f.ipproto !== null) s += ` ipproto ${f.ipproto}`;
  if (f.sport !== null) s += ` sport ${f.sport}`;
  if (f.dport !== null) s += ` dport ${f.dport}`;
  if (f.tunId !== null) s += ` tun_id ${f.tunId}`;
  if (f.table !== 0) {
    s += ` lookup ${tableName(f.table)}`;
    if (f.suppressPrefixLength !== null) s += ` suppress_prefixlength ${f.suppressPrefixLength}`;
    if (f.suppressIfgroup !== null) s += ` suppress_ifgroup ${f.suppressIfgroup}`;
  }
  if (f.realms !== null) s += ` realms ${f.realms}`;
  if (f.action === 'nat') s += f.natGateway !== null ? ` map-to ${f.natGateway}` : ' masquerade';
  else if (f.action === 'goto') s += ` goto ${f.gotoTarget ?? 'none'}${f.unresolved ? ' [unresolved]' : ''}`;
  else if (f.action === 'nop') s += ' nop';
  else if (f.action !== 'to_tbl') s += ` ${f.action}`;
  if (f.protocol !== null) s += ` proto ${f.protocol}`;
  return s;
}

/** The model's rule from its fields. */
export function ipRuleOf(f: RuleFields): IpRule {
  return {
    family: f.family,
    priority: f.priority,
    fwmark: f.fwmark,
    table: f.action === 'to_tbl' && f.table !== 0 ? f.table : null,
    action: f.action,
    text: ruleText(f),
  };
}

/** The line `ip rule show` prints for a rule (`32765:\tfrom all fwmark 0x1 lookup 100`). */
export function ipRuleLine(r: IpRule): string {
  return `${r.priority}:\t${r.text}`;
}
