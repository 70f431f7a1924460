/**
 * `-j CT` (libxt_CT.c, xt_CT.h). Revision 0: { u16 flags, zone; u32 ct_events, exp_events; char helper[16] };
 * revisions 1 and 2 add char timeout[32]. Revision 2 is also what `-j NOTRACK` becomes (XT_CT_NOTRACK_ALIAS): it is
 * printed `-j NOTRACK` with no options.
 */
import { cString } from './format.js';
import type { XtDecoder, XtInput } from './types.js';
import { unprintable } from './types.js';

const NOTRACK = 1 << 0;
const NOTRACK_ALIAS = 1 << 1;
const ZONE_DIR_ORIG = 1 << 2;
const ZONE_DIR_REPL = 1 << 3;
const ZONE_MARK = 1 << 4;

/** ct_event_tbl: names by IPCT_* bit, in print order. */
const CT_EVENTS: [number, string][] = [[0, 'new'], [1, 'related'], [2, 'destroy'], [3, 'reply'], [4, 'assured'], [5, 'protoinfo'], [6, 'helper'], [7, 'mark'], [8, 'natseqinfo'], [9, 'secmark']];
const EXP_EVENTS: [number, string][] = [[0, 'new']];

function events(option: string, table: [number, string][], mask: number): string {
  return ` ${option} ${table.filter(([bit]) => mask & (1 << bit)).map(([, n]) => n).join(',')}`;
}

function str(info: Buffer, offset: number, size: number, what: string): string {
  const s = cString(info, offset, size);
  if (s === null) throw unprintable('xt_ct_target_info', offset, `${what} has no terminating NUL`);
  return s;
}

function save(input: XtInput, withTimeout: boolean): string {
  const b = input.info;
  const flags = b.readUInt16LE(0);
  if (flags & NOTRACK_ALIAS) return '';
  const zone = b.readUInt16LE(2);
  let out = flags & NOTRACK ? ' --notrack' : '';
  const helper = str(b, 12, 16, 'helper');
  if (helper !== '') out += ` --helper ${helper}`;
  if (withTimeout) {
    const timeout = str(b, 28, 32, 'timeout');
    if (timeout !== '') out += ` --timeout ${timeout}`;
  }
  const ct = b.readUInt32LE(4);
  const exp = b.readUInt32LE(8);
  if (ct) out += events('--ctevents', CT_EVENTS, ct);
  if (exp) out += events('--expevents', EXP_EVENTS, exp);
  if (flags & ZONE_MARK || zone) {
    const dir = flags & (ZONE_DIR_ORIG | ZONE_DIR_REPL);
    out += ` --zone${dir === ZONE_DIR_ORIG ? '-orig' : dir === ZONE_DIR_REPL ? '-reply' : ''}${flags & ZONE_MARK ? ' mark' : ` ${zone}`}`;
  }
  return out;
}

export const ctTarget: Record<number, XtDecoder> = {
  0: { size: 28, save: (input) => save(input, false) },
  1: { size: 60, save: (input) => save(input, true) },
  2: {
    size: 60,
    save: (input) => save(input, true),
    alias: ({ info }) => (info.readUInt16LE(0) & NOTRACK_ALIAS ? 'NOTRACK' : 'CT'),
  },
};
