/**
 * bpf filters' TCA_OPTIONS (nested TCA_BPF_*, uapi linux/pkt_cls.h; cls_bpf.c cls_bpf_dump): classic BPF as the
 * instruction count (TCA_BPF_OPS_LEN + OPS), eBPF as name, id and tag, the direct-action flag, class id, actions.
 * What tc prints: `bpf_name`, `direct-action`, `bytecode.length`, `prog.id` and the tag (hex). Pure.
 */
import type { BpfFilter } from '../../model/tc.js';
import { optStr, optU32 } from '../attrs.js';
import { attrMap, read } from '../nlmsg.js';
import { actionKinds } from './actions.js';

const TCA_BPF_ACT = 1;
const TCA_BPF_CLASSID = 3;
const TCA_BPF_OPS_LEN = 4;
const TCA_BPF_OPS = 5;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_FLAGS_GEN = 9;
const TCA_BPF_TAG = 10;
const TCA_BPF_ID = 11;
const TCA_BPF_FLAG_ACT_DIRECT = 1;

export interface BpfAttrs {
  classid?: number;
  name?: string;
  flags?: number;
  flagsGen?: number;
  opsLen?: number;
  /** Classic BPF instructions: code, jt, jf, k. */
  ops?: { code: number; jt: number; jf: number; k: number }[];
  tag?: string;
  id?: number;
  actions?: string[];
}

export function decodeBpf(b: Buffer): { raw: BpfAttrs; bpf: BpfFilter; classid: number | null; actions: string[] } {
  const a = attrMap(b);
  const raw: BpfAttrs = {};
  raw.classid = optU32(a, TCA_BPF_CLASSID, 'TCA_BPF_CLASSID');
  raw.flags = optU32(a, TCA_BPF_FLAGS, 'TCA_BPF_FLAGS');
  raw.flagsGen = optU32(a, TCA_BPF_FLAGS_GEN, 'TCA_BPF_FLAGS_GEN');
  raw.id = optU32(a, TCA_BPF_ID, 'TCA_BPF_ID');
  raw.name = optStr(a, TCA_BPF_NAME);
  const opsLen = a.get(TCA_BPF_OPS_LEN);
  if (opsLen !== undefined) raw.opsLen = read.u16(opsLen, 'TCA_BPF_OPS_LEN');
  const ops = a.get(TCA_BPF_OPS);
  if (ops !== undefined) {
    raw.ops = [];
    for (let off = 0; off + 8 <= ops.length; off += 8) {
      raw.ops.push({ code: ops.readUInt16LE(off), jt: ops.readUInt8(off + 2), jf: ops.readUInt8(off + 3), k: ops.readUInt32LE(off + 4) });
    }
  }
  const tag = a.get(TCA_BPF_TAG);
  if (tag !== undefined) raw.tag = tag.toString('hex');
  const act = a.get(TCA_BPF_ACT);
  const actions = act === undefined ? [] : actionKinds(act);
  if (act !== undefined) raw.actions = actions;
  const bpf: BpfFilter = {
    name: raw.name ?? null,
    directAction: ((raw.flags ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
    id: raw.id ?? null,
    tag: raw.tag ?? null,
    // tc prints the bytecode only when both attributes are there and the length is non-zero.
    bytecodeLength: raw.ops !== undefined && raw.opsLen !== undefined && raw.opsLen !== 0 ? raw.opsLen : null,
  };
  return { raw, bpf, classid: raw.classid ?? null, actions };
}
