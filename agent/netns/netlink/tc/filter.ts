/**
 * One RTM_NEWTFILTER -> the model's filter, as tc's print_filter and the kind's printer show it: parent (`ingress`
 * / `egress` for the clsact hooks), protocol and pref from tcm_info, the handle in the kind's own format (u32 `fh`,
 * bpf `0x1`, basic `1`), flowid from the kind's class id, chain, and the typed u32 / basic / bpf parts. tc prints,
 * per (pref, protocol), a header message without options before the elements: those give null here, as the tools
 * reader skips them. Pure.
 */
import { llProtocolName } from '../../model/rt-names.js';
import type { TcFilter } from '../../model/tc.js';
import { decodeBasic } from './basic.js';
import { decodeBpf } from './bpf.js';
import type { SetNameLookup } from './ematch.js';
import { TC_H_CLSACT_EGRESS, TC_H_CLSACT_INGRESS, TC_H_ROOT, formatClassid } from './handles.js';
import { decodeTcMessage } from './message.js';
import { guardOptions, opaqueOptions, rawView } from './qdisc.js';
import { decodeU32, formatU32Handle } from './u32.js';

export interface FilterContext {
  ifname(ifindex: number): string;
  setName: SetNameLookup;
}

/** The parent as the model names it: `ingress` / `egress` (clsact hooks, and the ingress qdisc), `root`, or a classid. */
export function filterParent(parent: number): string {
  const p = parent >>> 0;
  if (p === TC_H_CLSACT_INGRESS) return 'ingress';
  if (p === TC_H_CLSACT_EGRESS) return 'egress';
  if (p === TC_H_ROOT) return 'root';
  return formatClassid(p);
}

function handleText(kind: string, h: number): string | null {
  if (h === 0) return null;
  if (kind === 'u32') return formatU32Handle(h);
  if (kind === 'basic') return (h >>> 0).toString(16);
  return `0x${(h >>> 0).toString(16)}`;
}

export interface DecodedFilter {
  /** null for the per-(pref, protocol) header message. */
  filter: TcFilter | null;
  /** False when part of the filter could not be rendered as tc would (see ematch.ts, or options not decoded). */
  exact: boolean;
}

/** With `problems`, options that do not decode leave the filter with hex options and `exact: false` (guardOptions). */
export function decodeFilter(payload: Buffer, ctx: FilterContext, problems?: string[]): DecodedFilter {
  const m = decodeTcMessage(payload, 'RTM_NEWTFILTER');
  if (m.options === null) return { filter: null, exact: true };
  const proto = ((m.info & 0xff) << 8) | ((m.info >>> 8) & 0xff);
  const pref = m.info >>> 16;
  const f: TcFilter = {
    interface: ctx.ifname(m.ifindex),
    kind: m.kind,
    parent: filterParent(m.parent),
    protocol: proto !== 0 ? llProtocolName(proto) : null,
    pref: pref !== 0 ? pref : null,
    handle: handleText(m.kind, m.handle),
    flowid: null,
    options: {},
    chain: m.chain,
    matchSets: [],
    actions: [],
  };
  const opts = m.options;
  let typed: { classid: number | null; exact: boolean } = { classid: null, exact: true };
  const before = problems?.length ?? 0;
  guardOptions(`${f.kind} filter pref ${f.pref} on ${f.interface} parent ${f.parent}`, opts, f, () => (typed = withOptions(f, opts, ctx)), problems);
  if (typed.classid !== null) f.flowid = formatClassid(typed.classid);
  return { filter: f, exact: typed.exact && (problems?.length ?? 0) === before };
}

/** The kind's typed part and raw view; the class id the filter sends to, and whether it renders exactly. */
function withOptions(f: TcFilter, opts: Buffer, ctx: FilterContext): { classid: number | null; exact: boolean } {
  switch (f.kind) {
    case 'u32': {
      const d = decodeU32(opts);
      f.options = rawView(d.raw);
      f.u32 = d.u32;
      f.actions = d.actions;
      return { classid: d.classid, exact: true };
    }
    case 'basic': {
      const d = decodeBasic(opts, ctx.setName);
      f.options = rawView(d.raw);
      f.basic = d.basic;
      f.matchSets = d.sets;
      f.actions = d.actions;
      return { classid: d.classid, exact: d.exact };
    }
    case 'bpf': {
      const d = decodeBpf(opts);
      f.options = rawView(d.raw);
      f.bpf = d.bpf;
      f.actions = d.actions;
      return { classid: d.classid, exact: true };
    }
    default:
      f.options = opaqueOptions(opts);
      return { classid: null, exact: true };
  }
}
