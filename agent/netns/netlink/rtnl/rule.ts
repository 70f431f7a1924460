/**
 * RTM_NEWRULE messages (struct fib_rule_hdr + FRA_* attributes, uapi linux/fib_rules.h) decoded to the rule fields
 * `ip rule show` prints (iproute2 6.1 iprule.c print_rule), from which model/rule-text.ts builds the model's rule.
 * Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { IpRule } from '../../model/links.js';
import { ipProtocolName, protocolName } from '../../model/rt-names.js';
import { ipRuleOf, ruleActionName, type RuleFields } from '../../model/rule-text.js';
import { optStr, optU32 } from '../attrs.js';
import { attrMap, formatAddress, read } from '../nlmsg.js';
import { AF_INET, AF_INET6, FIB_RULE_HDR_LEN, decodeFibRuleHdr } from './messages.js';

const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_GOTO = 4;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_FLOW = 11;
const FRA_TUN_ID = 12;
const FRA_SUPPRESS_IFGROUP = 13;
const FRA_SUPPRESS_PREFIXLEN = 14;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_L3MDEV = 19;
const FRA_UID_RANGE = 20;
const FRA_PROTOCOL = 21;
const FRA_IP_PROTO = 22;
const FRA_SPORT_RANGE = 23;
const FRA_DPORT_RANGE = 24;
/** A nat rule's map-to gateway: print_rule reads attribute 5 as RTA_GATEWAY (FRA_UNUSED2 in today's numbering). */
const RTA_GATEWAY = 5;

const FIB_RULE_INVERT = 0x2;
const FIB_RULE_UNRESOLVED = 0x4;
const FIB_RULE_IIF_DETACHED = 0x8;
const FIB_RULE_OIF_DETACHED = 0x10;
const RTPROT_KERNEL = 2;

/** rt_dsfield names (Debian's /etc/iproute2/rt_dsfield); others as 0x%02x. */
const DSFIELD: Record<number, string> = {
  0x00: 'default', 0x28: 'AF11', 0x30: 'AF12', 0x38: 'AF13', 0x48: 'AF21', 0x50: 'AF22', 0x58: 'AF23', 0x68: 'AF31', 0x70: 'AF32',
  0x78: 'AF33', 0x88: 'AF41', 0x90: 'AF42', 0x98: 'AF43', 0x20: 'CS1', 0x40: 'CS2', 0x60: 'CS3', 0x80: 'CS4', 0xa0: 'CS5',
  0xc0: 'CS6', 0xe0: 'CS7', 0xb8: 'EF',
};

export function dsfieldName(tos: number): string {
  return DSFIELD[tos] ?? `0x${tos.toString(16).padStart(2, '0')}`;
}

/** rt_realms: 0 is `cosmos`, others as numbers. */
function realmName(r: number): string {
  return r === 0 ? 'cosmos' : String(r);
}

/** printf `%#llx`: `0x1f`, but `0` for zero. */
function hex0x(n: number): string {
  return n === 0 ? '0' : `0x${n.toString(16)}`;
}

function portRange(b: Buffer, what: string): string {
  if (b.length < 4) throw new DecodeError(what, 0, `${b.length} bytes, need 4`);
  const start = b.readUInt16LE(0);
  const end = b.readUInt16LE(2);
  return start === end ? String(start) : `${start}-${end}`;
}

/** One RTM_NEWRULE as the fields `ip rule show` prints, or null for families other than IPv4/IPv6. */
export function decodeRuleMessage(payload: Buffer): RuleFields | null {
  const h = decodeFibRuleHdr(payload);
  if (h.family !== AF_INET && h.family !== AF_INET6) return null;
  const a = attrMap(payload, FIB_RULE_HDR_LEN);
  const hostLength = h.family === AF_INET ? 32 : 128;
  const prefix = (t: number, len: number): string | null => {
    const v = a.get(t);
    if (v !== undefined) return len === hostLength ? formatAddress(v) : `${formatAddress(v)}/${len}`;
    return len !== 0 ? `0/${len}` : null;
  };
  const u32 = (t: number, what: string): number | null => optU32(a, t, what) ?? null;
  const str = (t: number): string | null => optStr(a, t) ?? null;

  let fwmark: string | null = null;
  const mark = u32(FRA_FWMARK, 'FRA_FWMARK');
  const mask = u32(FRA_FWMASK, 'FRA_FWMASK');
  if (mark !== null || mask !== null) {
    const m = hex0x(mark ?? 0);
    fwmark = mask !== null && mask !== 0xffffffff ? `${m}/${hex0x(mask)}` : m;
  }
  const uid = a.get(FRA_UID_RANGE);
  if (uid !== undefined && uid.length < 8) throw new DecodeError('FRA_UID_RANGE', 0, `${uid.length} bytes, need 8`);
  const sport = a.get(FRA_SPORT_RANGE);
  const dport = a.get(FRA_DPORT_RANGE);
  const tun = a.get(FRA_TUN_ID);
  const ipproto = a.get(FRA_IP_PROTO);
  const l3mdev = a.get(FRA_L3MDEV);
  const proto = a.get(FRA_PROTOCOL);
  const flow = u32(FRA_FLOW, 'FRA_FLOW');
  const supPrefix = a.get(FRA_SUPPRESS_PREFIXLEN);
  const supGroup = a.get(FRA_SUPPRESS_IFGROUP);
  const gotoTarget = u32(FRA_GOTO, 'FRA_GOTO');
  const gateway = a.get(RTA_GATEWAY);
  const protocol = proto === undefined ? null : read.u8(proto, 'FRA_PROTOCOL');
  const action = ruleActionName(h.action);
  const prefixLen = supPrefix === undefined ? -1 : read.s32(supPrefix, 'FRA_SUPPRESS_PREFIXLEN');
  const ifgroup = supGroup === undefined ? -1 : read.s32(supGroup, 'FRA_SUPPRESS_IFGROUP');

  return {
    family: h.family === AF_INET ? 'ipv4' : 'ipv6',
    priority: u32(FRA_PRIORITY, 'FRA_PRIORITY') ?? 0,
    not: (h.flags & FIB_RULE_INVERT) !== 0,
    from: prefix(FRA_SRC, h.srcLength) ?? 'all',
    to: prefix(FRA_DST, h.dstLength),
    tos: h.tos !== 0 ? dsfieldName(h.tos) : null,
    fwmark,
    iif: str(FRA_IIFNAME),
    iifDetached: (h.flags & FIB_RULE_IIF_DETACHED) !== 0 && a.has(FRA_IIFNAME),
    oif: str(FRA_OIFNAME),
    oifDetached: (h.flags & FIB_RULE_OIF_DETACHED) !== 0 && a.has(FRA_OIFNAME),
    l3mdev: l3mdev !== undefined && read.u8(l3mdev, 'FRA_L3MDEV') !== 0,
    uidRange: uid === undefined ? null : { start: uid.readUInt32LE(0), end: uid.readUInt32LE(4) },
    ipproto: ipproto === undefined ? null : ipProtocolName(read.u8(ipproto, 'FRA_IP_PROTO')),
    sport: sport === undefined ? null : portRange(sport, 'FRA_SPORT_RANGE'),
    dport: dport === undefined ? null : portRange(dport, 'FRA_DPORT_RANGE'),
    tunId: tun === undefined ? null : read.be64(tun, 'FRA_TUN_ID'),
    table: u32(FRA_TABLE, 'FRA_TABLE') ?? h.table,
    suppressPrefixLength: prefixLen !== -1 ? prefixLen : null,
    suppressIfgroup: ifgroup !== -1 ? (ifgroup === 0 ? 'default' : String(ifgroup)) : null,
    realms: flow === null ? null : flow >>> 16 ? `${realmName(flow >>> 16)}/${realmName(flow & 0xffff)}` : realmName(flow & 0xffff),
    action,
    gotoTarget: action === 'goto' ? (gotoTarget === null ? 'none' : String(gotoTarget)) : null,
    unresolved: action === 'goto' && (h.flags & FIB_RULE_UNRESOLVED) !== 0,
    natGateway: action === 'nat' && gateway !== undefined ? formatAddress(gateway) : null,
    protocol: protocol !== null && protocol !== 0 && protocol !== RTPROT_KERNEL ? protocolName(protocol) : null,
  };
}

/** The model's rule (null for other families). */
export function ruleOf(payload: Buffer): IpRule | null {
  const f = decodeRuleMessage(payload);
  return f === null ? null : ipRuleOf(f);
}
