/**
 * ipset over nfnetlink: IPSET_CMD_PROTOCOL (the kernel's protocol version), then an IPSET_CMD_LIST dump of every
 * set with its members, turned into the IpsetDump `ipset save` gives (ipset-print.ts). A set's header comes in the
 * first message naming it (TYPENAME, REVISION, FAMILY, DATA); large sets continue over more messages carrying only
 * SETNAME and ADT (one nested DATA per element). Decoding is pure (decodeIpsetList); readIpset does the I/O,
 * synchronously, bounded by the limits.
 */
import { DecodeError, NetlinkError } from '../../../errors.js';
import type { Ipset, IpsetDump } from '../../model/ipset.js';
import type { SourceStatus } from '../../state.js';
import { Errno } from '../libc.js';
import type { NetlinkSocket, RequestLimits } from '../socket.js';
import type { NlMessage } from '../nlmsg.js';
import { Attrs } from './attrs.js';
import { decodeHeader, decodeMember } from './ipset-print.js';
import { IPSET_TYPES } from '../../model/ipset-types.js';
import { NFGENMSG_LEN, NFNL_SUBSYS_IPSET, NFPROTO_IPV4, encodeAttr, encodeNfGen, nfnlType } from './nfgen.js';

export const IPSET_CMD_PROTOCOL = 1;
export const IPSET_CMD_LIST = 7;
export const IPSET_PROTOCOL = 7;

const ATTR_PROTOCOL = 1;
const ATTR_SETNAME = 2;
const ATTR_TYPENAME = 3;
const ATTR_REVISION = 4;
const ATTR_FAMILY = 5;
const ATTR_DATA = 7;
const ATTR_ADT = 8;

const MAX_DECODE_ERRORS = 20;

export interface IpsetListResult {
  dump: IpsetDump;
  /** Elements or messages that did not decode (skipped), with why. */
  decodeErrors: string[];
  /** More members were listed than the bound kept. */
  membersCut: boolean;
}

/**
 * Members decoded per namespace at most: each is an object of ~15 fields (~300 bytes of heap against ~28 on the
 * wire), so 2 MiB of a hostile pod's hash:ip set (~75k members) would cost ~25 MB in the worker and again after the
 * copy to the main thread. Chaos Mesh's sets hold a few CIDRs; past the bound the read is `truncated`.
 */
export const MAX_IPSET_MEMBERS = 20_000;

/**
 * The sets of an IPSET_CMD_LIST answer, in kernel order (what ipset save prints, in the same order), with at most
 * `maxMembers` members over all sets (`membersCut` when more were listed; every set header is still decoded).
 */
export function decodeIpsetList(messages: readonly NlMessage[], maxMembers = Number.POSITIVE_INFINITY): IpsetListResult {
  const sets: Ipset[] = [];
  const decodeErrors: string[] = [];
  const fail = (err: unknown): void => {
    if (!(err instanceof DecodeError)) throw err;
    if (decodeErrors.length < MAX_DECODE_ERRORS) decodeErrors.push(err.message);
  };
  let current: { set: Ipset; family: number } | null = null;
  let members = 0;
  let membersCut = false;
  const listType = nfnlType(NFNL_SUBSYS_IPSET, IPSET_CMD_LIST);
  for (const m of messages) {
    if (m.type !== listType) continue;
    try {
      if (m.payload.length < NFGENMSG_LEN) throw new DecodeError('ipset list', 0, 'message shorter than nfgenmsg');
      const a = new Attrs('ipset list', m.payload, NFGENMSG_LEN);
      const name = a.need(a.str(ATTR_SETNAME), ATTR_SETNAME);
      const header = a.raw(ATTR_DATA);
      if (current === null || current.set.name !== name || header !== null) {
        const type = a.need(a.str(ATTR_TYPENAME), ATTR_TYPENAME);
        const family = a.need(a.u8(ATTR_FAMILY), ATTR_FAMILY);
        const set: Ipset = { name, type, optionsText: '', options: {}, members: [], revision: a.u8(ATTR_REVISION) ?? 0 };
        const spec = IPSET_TYPES[type];
        if (spec === undefined) set.opaque = `type ${type}: ipset save's printing of it is not known here`;
        else if (header !== null) Object.assign(set, decodeHeader(header, spec, family));
        set.options = optionsRecord(set.optionsText);
        sets.push(set);
        current = { set, family };
      }
      const adt = a.raw(ATTR_ADT);
      if (adt === null) continue;
      const spec = IPSET_TYPES[current.set.type];
      for (const e of Attrs.list(adt)) {
        if (e.type !== ATTR_DATA) continue;
        if (members >= maxMembers) {
          membersCut = true;
          break;
        }
        members++;
        if (spec === undefined) {
          current.set.members.push({ value: '', options: '' });
          continue;
        }
        try {
          current.set.members.push(decodeMember(e.data, spec, current.family));
        } catch (err) {
          fail(err);
        }
      }
    } catch (err) {
      fail(err);
    }
  }
  return { dump: { sets, errors: [] }, decodeErrors, membersCut };
}

/** `family inet hashsize 1024 comment` -> { family: 'inet', hashsize: '1024', comment: true } (as the tools parser). */
function optionsRecord(text: string): Record<string, string | true> {
  const flags = new Set(['counters', 'comment', 'skbinfo', 'forceadd']);
  const words = text.length === 0 ? [] : text.split(' ');
  const out: Record<string, string | true> = {};
  for (let i = 0; i < words.length; i++) {
    const k = words[i]!;
    const v = words[i + 1];
    if (flags.has(k) || v === undefined) out[k] = true;
    else {
      out[k] = v;
      i++;
    }
  }
  return out;
}

export interface IpsetRead {
  ipsets: IpsetDump;
  source: SourceStatus;
  /** The kernel's ipset protocol version (0 when ipset is not available in the kernel). */
  protocol: number;
}

/**
 * Every set of the namespace the socket was opened in. A kernel without ipset (EINVAL, EPROTONOSUPPORT or ENOENT
 * on the protocol request) is an empty, complete read. Throws NetlinkError for socket failures (timeout, refusal).
 */
export function readIpset(sock: NetlinkSocket, limits: RequestLimits): IpsetRead {
  const protoAttr = (v: number): Buffer => encodeAttr(ATTR_PROTOCOL, Buffer.from([v]));
  let protocol: number;
  try {
    const r = sock.request('IPSET_CMD_PROTOCOL', nfnlType(NFNL_SUBSYS_IPSET, IPSET_CMD_PROTOCOL), encodeNfGen(NFPROTO_IPV4, protoAttr(IPSET_PROTOCOL)), limits);
    const m = r.messages.find((x) => x.type === nfnlType(NFNL_SUBSYS_IPSET, IPSET_CMD_PROTOCOL));
    protocol = m === undefined ? IPSET_PROTOCOL : new Attrs('ipset protocol', m.payload, NFGENMSG_LEN).u8(ATTR_PROTOCOL) ?? IPSET_PROTOCOL;
  } catch (err) {
    // nfnetlink answers EINVAL for a subsystem the kernel does not have (no ip_set): no sets can exist.
    if (err instanceof NetlinkError && (err.errno === Errno.EINVAL || err.errno === Errno.EPROTONOSUPPORT || err.errno === Errno.ENOENT)) {
      return { ipsets: { sets: [], errors: [] }, source: { source: 'ipset', status: 'complete' }, protocol: 0 };
    }
    throw err;
  }
  const r = sock.dump('IPSET_CMD_LIST', nfnlType(NFNL_SUBSYS_IPSET, IPSET_CMD_LIST), encodeNfGen(NFPROTO_IPV4, protoAttr(Math.min(protocol, IPSET_PROTOCOL))), limits);
  const { dump, decodeErrors, membersCut } = decodeIpsetList(r.messages, MAX_IPSET_MEMBERS);
  let source: SourceStatus = { source: 'ipset', status: 'complete' };
  if (r.truncated) source = { source: 'ipset', status: 'truncated', reason: 'output_limit', message: `the ipset list is larger than ${limits.maxBytes} bytes` };
  else if (membersCut) source = { source: 'ipset', status: 'truncated', reason: 'output_limit', message: `more than ${MAX_IPSET_MEMBERS} members: the first ${MAX_IPSET_MEMBERS} kept` };
  else if (decodeErrors.length > 0) source = { source: 'ipset', status: 'truncated', reason: 'parse', message: decodeErrors.join('; ') };
  return { ipsets: dump, source, protocol };
}
