/**
 * u32 filters' TCA_OPTIONS (nested TCA_U32_*, uapi linux/pkt_cls.h; cls_u32.c u32_dump): hash-table nodes carry a
 * divisor, rule nodes their hash table / bucket, the selector (struct tc_u32_sel + keys, big-endian values), class
 * id, link, input device, mark and actions. The model's fields are what iproute2's f_u32.c u32_print_opt prints
 * in JSON. Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { U32Filter, U32Key } from '../../model/tc.js';
import { optStr, optU32 } from '../attrs.js';
import { attrMap } from '../nlmsg.js';
import { actionKinds } from './actions.js';

const TCA_U32_CLASSID = 1;
const TCA_U32_HASH = 2;
const TCA_U32_LINK = 3;
const TCA_U32_DIVISOR = 4;
const TCA_U32_SEL = 5;
const TCA_U32_ACT = 7;
const TCA_U32_INDEV = 8;
const TCA_U32_MARK = 10;
const TCA_U32_FLAGS = 11;
const SEL_LEN = 16;
const KEY_LEN = 16;

/** sprint_u32_handle: `800:`, `800::800`, `800:1:800` (hex), `none` for 0. */
export function formatU32Handle(h: number): string {
  const x = h >>> 0;
  if (x === 0) return 'none';
  const htid = x >>> 20;
  const hash = (x >>> 12) & 0xff;
  const node = x & 0xfff;
  let s = htid ? `${htid.toString(16)}:` : '';
  if (node | hash) {
    if (hash) s += hash.toString(16);
    if (node) s += `:${node.toString(16)}`;
  }
  return s;
}

export interface U32Attrs {
  classid?: number;
  hash?: number;
  link?: number;
  divisor?: number;
  sel?: { flags: number; offshift: number; nkeys: number; offmask: number; off: number; offoff: number; hoff: number; hmask: number };
  keys: U32Key[];
  indev?: string;
  mark?: { value: number; mask: number; success: number };
  flags?: number;
  actions?: string[];
}

export function decodeU32(b: Buffer): { raw: U32Attrs; u32: U32Filter; classid: number | null; actions: string[] } {
  const a = attrMap(b);
  const raw: U32Attrs = { keys: [] };
  raw.classid = optU32(a, TCA_U32_CLASSID, 'TCA_U32_CLASSID');
  raw.hash = optU32(a, TCA_U32_HASH, 'TCA_U32_HASH');
  raw.link = optU32(a, TCA_U32_LINK, 'TCA_U32_LINK');
  raw.divisor = optU32(a, TCA_U32_DIVISOR, 'TCA_U32_DIVISOR');
  raw.flags = optU32(a, TCA_U32_FLAGS, 'TCA_U32_FLAGS');
  const sel = a.get(TCA_U32_SEL);
  if (sel !== undefined) {
    if (sel.length < SEL_LEN) throw new DecodeError('tc_u32_sel', 0, `${sel.length} bytes, need ${SEL_LEN}`);
    const nkeys = sel.readUInt8(2);
    if (sel.length < SEL_LEN + nkeys * KEY_LEN) throw new DecodeError('tc_u32_sel', SEL_LEN, `${nkeys} keys do not fit ${sel.length} bytes`);
    raw.sel = {
      flags: sel.readUInt8(0),
      offshift: sel.readUInt8(1),
      nkeys,
      offmask: sel.readUInt16BE(4),
      off: sel.readUInt16LE(6),
      offoff: sel.readInt16LE(8),
      hoff: sel.readInt16LE(10),
      hmask: sel.readUInt32BE(12),
    };
    for (let i = 0; i < nkeys; i++) {
      const k = SEL_LEN + i * KEY_LEN;
      // struct tc_u32_key: __be32 mask, __be32 val, int off, int offmask.
      raw.keys.push({ value: sel.readUInt32BE(k + 4), mask: sel.readUInt32BE(k), offset: sel.readInt32LE(k + 8), nexthdr: sel.readInt32LE(k + 12) !== 0 });
    }
  }
  raw.indev = optStr(a, TCA_U32_INDEV);
  const mark = a.get(TCA_U32_MARK);
  if (mark !== undefined && mark.length >= 12) raw.mark = { value: mark.readUInt32LE(0), mask: mark.readUInt32LE(4), success: mark.readUInt32LE(8) };
  const act = a.get(TCA_U32_ACT);
  const actions = act === undefined ? [] : actionKinds(act);
  if (act !== undefined) raw.actions = actions;

  const u32: U32Filter = { keys: raw.keys.map((k) => ({ value: k.value, mask: k.mask, offset: k.offset, nexthdr: k.nexthdr })) };
  if (raw.divisor !== undefined) u32.divisor = raw.divisor;
  else if (raw.hash !== undefined) {
    u32.hashTable = (raw.hash >>> 20).toString(16);
    u32.bucket = ((raw.hash >>> 12) & 0xff).toString(16);
  }
  if (raw.link !== undefined) u32.link = formatU32Handle(raw.link);
  if (raw.indev !== undefined) u32.inputDevice = raw.indev;
  if (raw.mark !== undefined) u32.mark = { value: raw.mark.value, mask: raw.mark.mask };
  return { raw, u32, classid: raw.classid ?? null, actions };
}
