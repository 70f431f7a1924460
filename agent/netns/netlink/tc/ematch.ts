/**
 * Extended-match trees (TCA_EMATCH_TREE_HDR + TCA_EMATCH_TREE_LIST, uapi linux/pkt_cls.h and tc_ematch/*.h; kernel
 * net/sched/ematch.c tcf_em_tree_dump): each match is struct tcf_ematch_hdr then its kind's data. Rendered the way
 * iproute2 6.1's m_ematch.c print_ematch_seq prints them (whitespace collapsed: tc prints the tree as indented
 * text, even inside JSON), with the kinds tc's ematch_map names: cmp, u32, ipset (set name from its index through
 * `setName`), nbyte, and containers (sub-expressions). Kinds tc would render through code this module does not
 * reproduce (meta, canid, ipt) are marked `exact: false`; kinds outside the map print as tc does
 * (`[unknown ematch N]`). Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { Ematch } from '../../model/tc.js';
import { attrMap, parseAttrs, struct } from '../nlmsg.js';

const TCA_EMATCH_TREE_HDR = 1;
const TCA_EMATCH_TREE_LIST = 2;
const TCF_EM_REL_MASK = 3;
const TCF_EM_REL_AND = 1;
const TCF_EM_REL_OR = 2;
const TCF_EM_INVERT = 4;
const HDR_LEN = 8;

/** Kind numbers as Debian's /etc/iproute2/ematch_map names them. */
const KIND_NAMES: Record<number, string> = { 1: 'cmp', 2: 'nbyte', 3: 'u32', 4: 'meta', 7: 'canid', 8: 'ipset', 9: 'ipt' };

/** ipset index -> name (the set list of the same namespace), null when the index names no set. */
export type SetNameLookup = (index: number) => string | null;

interface RawMatch {
  kind: number;
  flags: number;
  data: Buffer;
}

export interface EmatchTree {
  ematches: Ematch[];
  /** The tree as tc prints it, whitespace collapsed. */
  text: string;
  /** ipset names used, in tree order. */
  sets: string[];
  /** False when some part could not be rendered as tc would (a kind whose printer this module lacks, an unknown set). */
  exact: boolean;
}

function cmpText(d: Buffer): string {
  struct(d, 12, 'tcf_em_cmp');
  const val = d.readUInt32LE(0);
  const mask = d.readUInt32LE(4);
  const off = d.readUInt16LE(8);
  const align = d.readUInt8(10) & 0x0f;
  const flags = d.readUInt8(10) >> 4;
  const layer = d.readUInt8(11) & 0x0f;
  const opnd = d.readUInt8(11) >> 4;
  let s = align === 1 ? 'u8 ' : align === 2 ? 'u16 ' : align === 4 ? 'u32 ' : '';
  s += `at ${off} layer ${layer} `;
  if (mask) s += `mask 0x${mask.toString(16)} `;
  if (flags & 1) s += 'trans ';
  s += opnd === 0 ? 'eq ' : opnd === 1 ? 'gt ' : opnd === 2 ? 'lt ' : '';
  return s + String(val | 0);
}

function u32Text(d: Buffer): string {
  struct(d, 16, 'tc_u32_key');
  const hex = (x: number): string => x.toString(16).padStart(8, '0');
  return `${hex(d.readUInt32BE(4))}/${hex(d.readUInt32BE(0))} at ${d.readInt32LE(12) ? 'nexthdr+' : ''}${d.readInt32LE(8)}`;
}

function nbyteText(d: Buffer): string {
  struct(d, 4, 'tcf_em_nbyte');
  const off = d.readUInt16LE(0);
  const len = d.readUInt16LE(2) & 0x0fff;
  const layer = d.readUInt16LE(2) >> 12;
  const needle = struct(d.subarray(4), len, 'tcf_em_nbyte needle');
  const hex = [...needle].map((x) => `${x.toString(16).padStart(2, '0')} `).join('');
  const ascii = [...needle].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
  return `${hex}"${ascii}" at ${off} layer ${layer}`;
}

/** em_ipset data (struct xt_set_info: u16 index, u8 dim, u8 flags) as `NAME src,dst`. */
function ipsetText(d: Buffer, setName: SetNameLookup): { text: string; name: string | null } {
  struct(d, 4, 'xt_set_info');
  const index = d.readUInt16LE(0);
  const dim = d.readUInt8(2);
  const flags = d.readUInt8(3);
  const name = setName(index);
  let s = name ?? `#${index}`;
  for (let i = 1; i <= dim; i++) s += `${i === 1 ? ' ' : ','}${flags & (1 << i) ? 'src' : 'dst'}`;
  return { text: s, name };
}

export function decodeEmatchTree(b: Buffer, setName: SetNameLookup): EmatchTree {
  const a = attrMap(b);
  const hdr = a.get(TCA_EMATCH_TREE_HDR);
  const list = a.get(TCA_EMATCH_TREE_LIST);
  if (hdr === undefined || list === undefined) throw new DecodeError('ematch tree', 0, 'header or list missing');
  const nmatches = struct(hdr, 4, 'tcf_ematch_tree_hdr').readUInt16LE(0);
  const byIndex = new Map<number, RawMatch>();
  for (const m of parseAttrs(list)) {
    const h = struct(m.data, HDR_LEN, 'tcf_ematch_hdr');
    byIndex.set(m.type, { kind: h.readUInt16LE(2), flags: h.readUInt16LE(4), data: m.data.subarray(HDR_LEN) });
  }
  const out: EmatchTree = { ematches: [], text: '', sets: [], exact: true };
  const parts: string[] = [];
  const visiting = new Set<number>();

  // print_ematch_seq: matches start..; a container's data is the (0-based) index of its first match.
  const seq = (start: number, depth: number): void => {
    if (depth > 32) throw new DecodeError('ematch tree', 0, 'containers nest deeper than 32');
    for (let i = start; ; i++) {
      const m = byIndex.get(i);
      if (m === undefined || i > nmatches) throw new DecodeError('ematch tree', 0, `match ${i} missing (${nmatches} declared)`);
      if (visiting.has(i)) throw new DecodeError('ematch tree', 0, `match ${i} is part of a loop`);
      visiting.add(i);
      const negated = (m.flags & TCF_EM_INVERT) !== 0;
      const rel = m.flags & TCF_EM_REL_MASK;
      const relation = rel === TCF_EM_REL_AND ? 'and' : rel === TCF_EM_REL_OR ? 'or' : 'end';
      if (negated) parts.push('NOT');
      if (m.kind === 0) {
        const ref = struct(m.data, 4, 'ematch container').readUInt32LE(0);
        out.ematches.push({ kind: 'container', text: '', negated, relation });
        parts.push('(');
        seq(ref + 1, depth + 1);
        parts.push(')');
      } else {
        const name = KIND_NAMES[m.kind];
        let text: string;
        if (name === undefined) {
          text = '';
          parts.push(`[unknown ematch ${m.kind}]`);
        } else {
          if (name === 'cmp') text = cmpText(m.data);
          else if (name === 'u32') text = u32Text(m.data);
          else if (name === 'nbyte') text = nbyteText(m.data);
          else if (name === 'ipset') {
            const r = ipsetText(m.data, setName);
            text = r.text;
            if (r.name === null) out.exact = false;
            else out.sets.push(r.name);
          } else {
            text = m.data.toString('hex');
            out.exact = false;
          }
          parts.push(`${name}(${text})`);
        }
        out.ematches.push({ kind: name ?? `unknown ${m.kind}`, text, negated, relation });
      }
      visiting.delete(i);
      if (rel === TCF_EM_REL_AND) parts.push('AND');
      else if (rel === TCF_EM_REL_OR) parts.push('OR');
      else return;
    }
  };
  if (nmatches > 0) seq(1, 0);
  out.text = parts.join(' ');
  return out;
}
