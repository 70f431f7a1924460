/**
 * Pure parsers for iproute2's JSON (6.1): `ip -j -d link show`, `ip -j addr show`, `ip -4|-6 -j route show table
 * all`, `ip -4|-6 -j rule show`, to the same model the netlink reader builds (model/links.ts), name for name:
 * - links: `master` and a local peer's `link` are names, resolved to ifindexes through the same output; a peer in
 *   another namespace comes as `link_index` + `link_netnsid`; `"link": null` is IFLA_LINK 0; flags as printed
 *   (NO-CARRIER, M-DOWN included); kind / slave kind from `linkinfo` (needs -d);
 * - addresses: `addr_info` of each link, in order, IPv4 and IPv6 only;
 * - routes: keys are left out for the defaults (`type` unicast, `table` main, `protocol` boot, `scope` global);
 * - rules: the keys print_rule writes, back to the fields model/rule-text.ts renders (so the rule text is the same).
 * Never throw: an element that cannot be read becomes a ParseError at its 1-based position.
 */
import { ParseError } from '../../errors.js';
import type { Address, IpRule, Link, Route } from '../model/links.js';
import { tableId } from '../model/rt-names.js';
import { ipRuleOf, type RuleFields } from '../model/rule-text.js';
import { MAX_ERROR_TEXT } from './lines.js';
import { byLine, isObject, num, plain, readArrayElements, str, type JsonObject } from './tc-json.js';

type Family = 'ipv4' | 'ipv6';

function elements(what: string, json: string): { objects: { o: JsonObject; position: number }[]; errors: ParseError[] } {
  const { items, errors } = readArrayElements(what, json);
  const objects: { o: JsonObject; position: number }[] = [];
  for (const { value, position } of items) {
    if (isObject(value)) objects.push({ o: value, position });
    else errors.push(new ParseError(what, position, JSON.stringify(value).slice(0, MAX_ERROR_TEXT), 'element is not an object'));
  }
  return { objects, errors };
}

function bad(what: string, position: number, o: JsonObject, message: string): ParseError {
  return new ParseError(what, position, JSON.stringify(plain(o)).slice(0, MAX_ERROR_TEXT), message);
}

/** A link object's ifindex and name, or null (and an error) when one is missing. */
function linkId(what: string, position: number, o: JsonObject, errors: ParseError[]): { index: number; name: string } | null {
  const index = num(o.ifindex);
  const name = str(o.ifname);
  if (index !== undefined && name !== undefined) return { index, name };
  errors.push(bad(what, position, o, 'no ifindex or ifname'));
  return null;
}

/** `ip -j -d link show` -> links. */
export function parseIpLinks(json: string): { links: Link[]; errors: ParseError[] } {
  const what = 'ip link show';
  const { objects, errors } = elements(what, json);
  const byName = new Map<string, number>();
  for (const { o } of objects) {
    const name = str(o.ifname);
    const index = num(o.ifindex);
    if (name !== undefined && index !== undefined) byName.set(name, index);
  }
  const links: Link[] = [];
  for (const { o, position } of objects) {
    const id = linkId(what, position, o, errors);
    if (id === null) continue;
    const { index, name } = id;
    const info = isObject(o.linkinfo) ? o.linkinfo : null;
    const master = str(o.master);
    let link: number | null = null;
    if (num(o.link_index) !== undefined) link = num(o.link_index)!;
    else if (str(o.link) !== undefined) link = byName.get(str(o.link)!) ?? null;
    const op = str(o.operstate) ?? (num(o.operstate_index) !== undefined ? String(num(o.operstate_index)) : null);
    links.push({
      index,
      name,
      kind: (info && str(info.info_kind)) ?? null,
      slaveKind: (info && str(info.info_slave_kind)) ?? null,
      master: master === undefined ? null : (byName.get(master) ?? null),
      mtu: num(o.mtu) ?? 0,
      flags: Array.isArray(o.flags) ? o.flags.map((f) => String(f)) : [],
      operState: op,
      address: str(o.address) ?? null,
      link,
      linkNetnsId: num(o.link_netnsid) ?? null,
    });
  }
  return { links, errors: byLine(errors) };
}

/** `ip -j addr show` -> addresses (IPv4 and IPv6), per link in output order. */
export function parseIpAddresses(json: string): { addresses: Address[]; errors: ParseError[] } {
  const what = 'ip addr show';
  const { objects, errors } = elements(what, json);
  const addresses: Address[] = [];
  for (const { o, position } of objects) {
    const id = linkId(what, position, o, errors);
    if (id === null) continue;
    const { index, name } = id;
    for (const a of Array.isArray(o.addr_info) ? o.addr_info : []) {
      if (!isObject(a)) continue;
      const family = str(a.family);
      if (family !== 'inet' && family !== 'inet6') continue;
      const local = str(a.local);
      const prefixLength = num(a.prefixlen);
      if (local === undefined || prefixLength === undefined) {
        errors.push(bad(what, position, o, 'an address without local or prefixlen'));
        continue;
      }
      addresses.push({ index, interface: name, family: family === 'inet' ? 'ipv4' : 'ipv6', address: local, prefixLength, scope: str(a.scope) ?? 'global' });
    }
  }
  return { addresses, errors: byLine(errors) };
}

/**
 * The family of one route of `ip -j route show table all` (both families, which ip does not name): IPv6 routes
 * always carry `pref` (RTA_PREF) and their addresses have colons; IPv4 ones never do.
 */
function routeFamily(o: JsonObject): Family {
  if (o.pref !== undefined) return 'ipv6';
  const via = isObject(o.via) ? str(o.via.host) : undefined;
  return [str(o.dst), str(o.gateway), str(o.prefsrc), via].some((x) => x !== undefined && x.includes(':')) ? 'ipv6' : 'ipv4';
}

/** `ip -4|-6 -j route show table all` -> routes of `family`; `any` for `ip -j route show table all` (both). */
export function parseIpRoutes(json: string, family: Family | 'any'): { routes: Route[]; errors: ParseError[] } {
  const what = 'ip route show';
  const { objects, errors } = elements(what, json);
  const routes: Route[] = [];
  for (const { o, position } of objects) {
    const dst = str(o.dst);
    const table = str(o.table) === undefined ? 254 : tableId(str(o.table)!);
    if (dst === undefined || table === null) {
      errors.push(bad(what, position, o, dst === undefined ? 'no dst' : `unknown table ${str(o.table)}`));
      continue;
    }
    const via = isObject(o.via) ? str(o.via.host) : undefined;
    routes.push({
      family: family === 'any' ? routeFamily(o) : family,
      table,
      destination: dst,
      gateway: str(o.gateway) ?? via ?? null,
      interface: str(o.dev) ?? null,
      type: str(o.type) ?? 'unicast',
      protocol: str(o.protocol) ?? 'boot',
      scope: str(o.scope) ?? 'global',
      source: str(o.prefsrc) ?? null,
      metric: num(o.metric) ?? null,
    });
  }
  return { routes, errors: byLine(errors) };
}

function range(o: JsonObject, key: string): string | null {
  const single = num(o[key]);
  if (single !== undefined) return String(single);
  const start = num(o[`${key}_start`]);
  const end = num(o[`${key}_end`]);
  return start !== undefined && end !== undefined ? `${start}-${end}` : null;
}

function withLength(o: JsonObject, key: string, lenKey: string): string | null {
  const v = str(o[key]);
  if (v === undefined) return null;
  const len = num(o[lenKey]);
  return len === undefined ? v : `${v}/${len}`;
}

/** print_rule's JSON back to the rule fields. */
export function ruleFieldsFromJson(o: JsonObject, family: Family): RuleFields {
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
  let action = 'to_tbl';
  if (has('nat_gateway') || has('masquerade')) action = 'nat';
  else if (has('goto')) action = 'goto';
  else if (has('nop')) action = 'nop';
  else if (str(o.action) !== undefined) action = str(o.action)!;
  const mark = str(o.fwmark);
  const mask = str(o.fwmask);
  const flowTo = str(o.flow_to);
  const flowFrom = str(o.flow_from);
  const uidStart = num(o.uid_start);
  const uidEnd = num(o.uid_end);
  return {
    family,
    priority: num(o.priority) ?? 0,
    not: has('not'),
    from: withLength(o, 'src', 'srclen') ?? 'all',
    to: withLength(o, 'dst', 'dstlen'),
    tos: str(o.tos) ?? null,
    fwmark: mark === undefined ? null : mask === undefined ? mark : `${mark}/${mask}`,
    iif: str(o.iif) ?? null,
    iifDetached: has('iif_detached'),
    oif: str(o.oif) ?? null,
    oifDetached: has('oif_detached'),
    l3mdev: has('l3mdev'),
    uidRange: uidStart !== undefined && uidEnd !== undefined ? { start: uidStart, end: uidEnd } : null,
    ipproto: str(o.ipproto) ?? null,
    sport: range(o, 'sport'),
    dport: range(o, 'dport'),
    tunId: num(o.tun_id) ?? null,
    table: str(o.table) === undefined ? 0 : (tableId(str(o.table)!) ?? 0),
    suppressPrefixLength: num(o.suppress_prefixlen) ?? null,
    suppressIfgroup: str(o.suppress_ifgroup) ?? null,
    realms: flowTo === undefined ? null : flowFrom !== undefined ? `${flowFrom}/${flowTo}` : flowTo,
    action,
    gotoTarget: action === 'goto' ? (str(o.goto) ?? 'none') : null,
    unresolved: has('unresolved'),
    natGateway: str(o.nat_gateway) ?? null,
    protocol: str(o.protocol) ?? null,
  };
}

/** `ip -4|-6 -j rule show` -> rules of `family`. */
export function parseIpRules(json: string, family: Family): { rules: IpRule[]; errors: ParseError[] } {
  const { objects, errors } = elements('ip rule show', json);
  return { rules: objects.map(({ o }) => ipRuleOf(ruleFieldsFromJson(o, family))), errors: byLine(errors) };
}
