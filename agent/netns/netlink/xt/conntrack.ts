/**
 * `-m conntrack` revisions 1-3 (libxt_conntrack.c conntrack_dump, xt_conntrack.h) and the old `-m state` revision 0
 * (struct xt_state_info { unsigned int statemask }). iptables 1.8.9 implements `-m state` with conntrack and the
 * XT_CONNTRACK_STATE_ALIAS flag: such a rule is printed `-m state --state ...`.
 *
 * Layout shared by revisions 1-3: 8 x union nf_inet_addr (origsrc addr/mask, origdst, replsrc, repldst) at 0..127,
 * u32 expires_min/max at 128/132, u16 l4proto at 136, four ports at 138..144 (be16 in revisions 1-2, host order in
 * 3), u16 match_flags 146, invert_flags 148; state/status masks u8 (rev 1) or u16 (rev 2-3) at 150; revision 3 adds
 * four u16 high ports at 154..160.
 */
import type { IpFamily } from '../../model/iptables.js';
import { ipv4At, ipv4MaskNumeric, ipv6At, ipv6MaskNumeric } from './format.js';
import type { XtDecoder, XtInput } from './types.js';

const F_STATE = 1 << 0;
const F_PROTO = 1 << 1;
const F_ORIGSRC = 1 << 2;
const F_ORIGDST = 1 << 3;
const F_REPLSRC = 1 << 4;
const F_REPLDST = 1 << 5;
const F_STATUS = 1 << 6;
const F_EXPIRES = 1 << 7;
const F_ORIGSRC_PORT = 1 << 8;
const F_ORIGDST_PORT = 1 << 9;
const F_REPLSRC_PORT = 1 << 10;
const F_REPLDST_PORT = 1 << 11;
const F_DIRECTION = 1 << 12;
const F_STATE_ALIAS = 1 << 13;

/** XT_CONNTRACK_STATE_* bits in print order: INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT, DNAT. */
const STATES: [number, string][] = [[1, 'INVALID'], [8, 'NEW'], [4, 'RELATED'], [2, 'ESTABLISHED'], [256, 'UNTRACKED'], [64, 'SNAT'], [128, 'DNAT']];
const STATUSES: [number, string][] = [[1, 'EXPECTED'], [2, 'SEEN_REPLY'], [4, 'ASSURED'], [8, 'CONFIRMED']];

function names(mask: number, table: [number, string][]): string[] {
  return table.filter(([bit]) => mask & bit).map(([, n]) => n);
}

interface Layout {
  v3: boolean;
  /** Offset of state_mask, status_mask and their width in bytes. */
  maskWidth: 1 | 2;
}

function addr(info: Buffer, offset: number, family: IpFamily): string {
  return family === 'ipv4'
    ? ` ${ipv4At(info, offset)}${ipv4MaskNumeric(info, offset + 16)}`
    : ` ${ipv6At(info, offset)}${ipv6MaskNumeric(info, offset + 16)}`;
}

/** conntrack_dump with prefix `--`, numeric. */
function dump(input: XtInput, layout: Layout): string {
  const { info, family } = input;
  const match = info.readUInt16LE(146);
  const inv = info.readUInt16LE(148);
  const state = layout.maskWidth === 1 ? info[150]! : info.readUInt16LE(150);
  const status = layout.maskWidth === 1 ? info[151]! : info.readUInt16LE(152);
  const not = (f: number): string => (inv & f ? ' !' : '');
  let out = '';
  if (match & F_STATE) {
    out += `${not(F_STATE)} --${match & F_STATE_ALIAS ? 'state' : 'ctstate'}`;
    const s = names(state, STATES);
    if (s.length > 0) out += ` ${s.join(',')}`;
  }
  if (match & F_PROTO) out += `${not(F_PROTO)} --ctproto ${info.readUInt16LE(136)}`;
  const addrs: [number, string, number][] = [[F_ORIGSRC, 'ctorigsrc', 0], [F_ORIGDST, 'ctorigdst', 32], [F_REPLSRC, 'ctreplsrc', 64], [F_REPLDST, 'ctrepldst', 96]];
  for (const [flag, option, offset] of addrs) {
    if (match & flag) out += `${not(flag)} --${option}${addr(info, offset, family)}`;
  }
  const ports: [number, string, number, number][] = [
    [F_ORIGSRC_PORT, 'ctorigsrcport', 138, 154],
    [F_ORIGDST_PORT, 'ctorigdstport', 140, 156],
    [F_REPLSRC_PORT, 'ctreplsrcport', 142, 158],
    [F_REPLDST_PORT, 'ctrepldstport', 144, 160],
  ];
  for (const [flag, option, offset, highOffset] of ports) {
    if (!(match & flag)) continue;
    const low = layout.v3 ? info.readUInt16LE(offset) : info.readUInt16BE(offset);
    const high = layout.v3 ? info.readUInt16LE(highOffset) : 0;
    out += `${not(flag)} --${option} ${high === 0 || low === high ? `${low}` : `${low}:${high}`}`;
  }
  if (match & F_STATUS) {
    const s = status === 0 ? ['NONE'] : names(status, STATUSES);
    out += `${not(F_STATUS)} --ctstatus${s.length > 0 ? ` ${s.join(',')}` : ''}`;
  }
  if (match & F_EXPIRES) {
    const min = info.readUInt32LE(128);
    const max = info.readUInt32LE(132);
    out += `${not(F_EXPIRES)} --ctexpire ${min === max ? `${min}` : `${min}:${max}`}`;
  }
  if (match & F_DIRECTION) out += ` --ctdir ${inv & F_DIRECTION ? 'REPLY' : 'ORIGINAL'}`;
  return out;
}

const alias = ({ info }: XtInput): string => (info.readUInt16LE(146) & F_STATE_ALIAS ? 'state' : 'conntrack');

export const conntrackMatch: Record<number, XtDecoder> = {
  1: { size: 152, alias, save: (input) => dump(input, { v3: false, maskWidth: 1 }) },
  2: { size: 154, alias, save: (input) => dump(input, { v3: false, maskWidth: 2 }) },
  3: { size: 162, alias, save: (input) => dump(input, { v3: true, maskWidth: 2 }) },
};

/** state_save: ` --state ` then the names joined by `,` (no space before the list is added: it is in the prefix). */
export const stateMatch: Record<number, XtDecoder> = {
  0: {
    size: 4,
    save({ info }) {
      const s = names(info.readUInt32LE(0), STATES.filter(([, n]) => n !== 'SNAT' && n !== 'DNAT'));
      return ` --state ${s.join(',')}`;
    },
  },
};
