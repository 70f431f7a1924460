/**
 * rtnetlink message numbers and the fixed headers that start each message's payload (uapi linux/rtnetlink.h,
 * if_link.h, if_addr.h, fib_rules.h), decoded from Buffers and encoded for dump requests. Pure.
 */
import { DecodeError } from '../../../errors.js';
import { encodeAttr, struct } from '../nlmsg.js';

export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_GETRULE = 34;
export const RTM_NEWQDISC = 36;
export const RTM_GETQDISC = 38;
export const RTM_NEWTCLASS = 40;
export const RTM_GETTCLASS = 42;
export const RTM_NEWTFILTER = 44;
export const RTM_GETTFILTER = 46;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFINFOMSG_LEN = 16;
export const IFADDRMSG_LEN = 8;
export const RTMSG_LEN = 12;
export const FIB_RULE_HDR_LEN = 12;
export const TCMSG_LEN = 20;

/** struct ifinfomsg. */
export interface IfInfoMsg {
  family: number;
  /** ARPHRD_* device type. */
  type: number;
  index: number;
  flags: number;
}

export function decodeIfInfoMsg(payload: Buffer): IfInfoMsg {
  const b = struct(payload, IFINFOMSG_LEN, 'ifinfomsg');
  return { family: b.readUInt8(0), type: b.readUInt16LE(2), index: b.readInt32LE(4), flags: b.readUInt32LE(8) };
}

/** struct ifaddrmsg. */
export interface IfAddrMsg {
  family: number;
  prefixLength: number;
  flags: number;
  scope: number;
  index: number;
}

export function decodeIfAddrMsg(payload: Buffer): IfAddrMsg {
  const b = struct(payload, IFADDRMSG_LEN, 'ifaddrmsg');
  return { family: b.readUInt8(0), prefixLength: b.readUInt8(1), flags: b.readUInt8(2), scope: b.readUInt8(3), index: b.readUInt32LE(4) };
}

/** struct rtmsg. */
export interface RtMsg {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

export function decodeRtMsg(payload: Buffer): RtMsg {
  const b = struct(payload, RTMSG_LEN, 'rtmsg');
  return {
    family: b.readUInt8(0),
    dstLength: b.readUInt8(1),
    srcLength: b.readUInt8(2),
    tos: b.readUInt8(3),
    table: b.readUInt8(4),
    protocol: b.readUInt8(5),
    scope: b.readUInt8(6),
    type: b.readUInt8(7),
    flags: b.readUInt32LE(8),
  };
}

/** struct fib_rule_hdr. */
export interface FibRuleHdr {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  action: number;
  flags: number;
}

export function decodeFibRuleHdr(payload: Buffer): FibRuleHdr {
  const b = struct(payload, FIB_RULE_HDR_LEN, 'fib_rule_hdr');
  return {
    family: b.readUInt8(0),
    dstLength: b.readUInt8(1),
    srcLength: b.readUInt8(2),
    tos: b.readUInt8(3),
    table: b.readUInt8(4),
    action: b.readUInt8(7),
    flags: b.readUInt32LE(8),
  };
}

/** struct tcmsg. */
export interface TcMsg {
  family: number;
  ifindex: number;
  handle: number;
  parent: number;
  /** Qdiscs: refcount; classes: the leaf qdisc handle; filters: pref << 16 | protocol (network order). */
  info: number;
}

export function decodeTcMsg(payload: Buffer): TcMsg {
  const b = struct(payload, TCMSG_LEN, 'tcmsg');
  return { family: b.readUInt8(0), ifindex: b.readInt32LE(4), handle: b.readUInt32LE(8), parent: b.readUInt32LE(12), info: b.readUInt32LE(16) };
}

/** Payload of a dump request whose header is `len` bytes with only the family set (ifinfomsg, rtmsg, ...). */
export function familyRequest(len: number, family: number): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt8(family, 0);
  return b;
}

const IFLA_EXT_MASK = 29;
const RTEXT_FILTER_SKIP_STATS = 1 << 3;

/**
 * Payload of the RTM_GETLINK dump: an ifinfomsg (AF_UNSPEC) and IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS. The link model
 * holds no traffic counters, so the kernel is asked not to build them (IFLA_STATS, IFLA_STATS64, the inet6 ones: about
 * half of each link message); the answer then stays the same while only traffic moves (the tape's replay, tape.ts).
 * A kernel older than the flag (5.1) ignores it and sends the counters, which the decoder skips.
 */
export function linkDumpRequest(): Buffer {
  const mask = Buffer.alloc(4);
  mask.writeUInt32LE(RTEXT_FILTER_SKIP_STATS, 0);
  return Buffer.concat([Buffer.alloc(IFINFOMSG_LEN), encodeAttr(IFLA_EXT_MASK, mask)]);
}

/** Payload of a tc dump request: a tcmsg naming the interface (0: all) and the parent (0: none). */
export function tcRequest(ifindex: number, parent = 0): Buffer {
  const b = Buffer.alloc(TCMSG_LEN);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt32LE(parent >>> 0, 12);
  return b;
}

/** A family byte that is neither AF_INET nor AF_INET6 where one of them is required. */
export function familyName(family: number, what: string): 'ipv4' | 'ipv6' {
  if (family === AF_INET) return 'ipv4';
  if (family === AF_INET6) return 'ipv6';
  throw new DecodeError(what, 0, `family ${family} is neither AF_INET nor AF_INET6`);
}
