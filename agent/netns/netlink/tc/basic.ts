/**
 * basic filters' TCA_OPTIONS (nested TCA_BASIC_*, uapi linux/pkt_cls.h; cls_basic.c basic_dump): class id, the
 * ematch tree (see ematch.ts: ipset names resolved by index through `setName`), actions, counters. Pure.
 */
import type { BasicFilter } from '../../model/tc.js';
import { attrMap, read } from '../nlmsg.js';
import { actionKinds } from './actions.js';
import { decodeEmatchTree, type SetNameLookup } from './ematch.js';

const TCA_BASIC_CLASSID = 1;
const TCA_BASIC_EMATCHES = 2;
const TCA_BASIC_ACT = 3;
const TCA_BASIC_PCNT = 5;

export interface BasicAttrs {
  classid?: number;
  ematchText?: string;
  actions?: string[];
  /** struct tc_basic_pcnt: rule evaluations and hits. */
  pcnt?: { rcnt: number; rhit: number };
}

export function decodeBasic(
  b: Buffer,
  setName: SetNameLookup,
): { raw: BasicAttrs; basic: BasicFilter; classid: number | null; sets: string[]; actions: string[]; exact: boolean } {
  const a = attrMap(b);
  const raw: BasicAttrs = {};
  const cls = a.get(TCA_BASIC_CLASSID);
  if (cls !== undefined) raw.classid = read.u32(cls, 'TCA_BASIC_CLASSID');
  const basic: BasicFilter = { ematches: [], ematchText: null };
  let sets: string[] = [];
  let exact = true;
  const em = a.get(TCA_BASIC_EMATCHES);
  if (em !== undefined) {
    const tree = decodeEmatchTree(em, setName);
    basic.ematches = tree.ematches;
    // tc prints nothing for an empty tree.
    basic.ematchText = tree.text === '' ? null : tree.text;
    if (basic.ematchText !== null) raw.ematchText = basic.ematchText;
    sets = tree.sets;
    exact = tree.exact;
  }
  const act = a.get(TCA_BASIC_ACT);
  const actions = act === undefined ? [] : actionKinds(act);
  if (act !== undefined) raw.actions = actions;
  const pcnt = a.get(TCA_BASIC_PCNT);
  if (pcnt !== undefined && pcnt.length >= 16) raw.pcnt = { rcnt: read.u64(pcnt), rhit: read.u64(pcnt.subarray(8)) };
  return { raw, basic, classid: raw.classid ?? null, sets, actions, exact };
}
