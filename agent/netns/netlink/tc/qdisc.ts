/**
 * One RTM_NEWQDISC -> the model's qdisc: tcmsg (interface, handle `maj:`, parent `root` / `ingress` / `maj:min`),
 * TCA_KIND, TCA_OPTIONS decoded by the kind's decoder (typed fields + the decoded attributes as `options`),
 * TCA_STATS2. Kinds without a decoder keep their options as hex in `options` and have no typed fields, exactly as
 * for the tools reader. Pure.
 */
import { DecodeError } from '../../../errors.js';
import type { Qdisc } from '../../model/tc.js';
import { decodeFifo } from './fifo.js';
import { TC_H_INGRESS, TC_H_ROOT, formatClassid, formatQdiscHandle } from './handles.js';
import { decodeHtbQdisc } from './htb.js';
import { decodeTcMessage, type TcMessage } from './message.js';
import { decodeNetem } from './netem.js';
import { decodePrio } from './prio.js';
import { DEFAULT_PSCHED, type Psched } from './psched.js';
import { decodeSfq } from './sfq.js';
import { decodeTbf } from './tbf.js';

/** The parent as the model names it (tc prints `root`, or `parent ffff:fff1` for ingress/clsact). */
export function qdiscParent(m: Pick<TcMessage, 'parent' | 'kind'>): string {
  if (m.parent >>> 0 === TC_H_ROOT) return 'root';
  if (m.parent >>> 0 === TC_H_INGRESS || m.kind === 'ingress' || m.kind === 'clsact') return 'ingress';
  return m.parent === 0 ? '' : formatClassid(m.parent);
}

/** The decoded attributes as the `options` raw view (no copy). */
export function rawView(raw: object): Record<string, unknown> {
  return raw as Record<string, unknown>;
}

/** Options of a kind this reader does not model: kept as hex. */
export function opaqueOptions(b: Buffer | null): Record<string, unknown> {
  return b === null || b.length === 0 ? {} : { hex: b.toString('hex') };
}

/** Typed fields and raw view of one qdisc's TCA_OPTIONS, by kind. */
function withOptions(q: Qdisc, opts: Buffer, handle: number, p: Psched): void {
  switch (q.kind) {
    case 'netem': {
      const d = decodeNetem(opts, p);
      q.options = rawView(d.raw);
      q.netem = d.netem;
      return;
    }
    case 'tbf': {
      const d = decodeTbf(opts, p);
      q.options = rawView(d.raw);
      q.tbf = d.tbf;
      return;
    }
    case 'prio':
    case 'pfifo_fast': {
      const d = decodePrio(opts);
      q.options = rawView(d.raw);
      q.prio = d.prio;
      return;
    }
    case 'htb': {
      const d = decodeHtbQdisc(opts, handle);
      q.options = rawView(d.raw);
      q.htb = d.htb;
      return;
    }
    case 'sfq': {
      const d = decodeSfq(opts);
      q.options = rawView(d.raw);
      q.sfq = d.sfq;
      return;
    }
    case 'pfifo':
    case 'bfifo':
    case 'pfifo_head_drop': {
      const d = decodeFifo(opts);
      q.options = rawView(d.raw);
      q.fifo = d.fifo;
      return;
    }
    default:
      q.options = opaqueOptions(opts);
  }
}

/**
 * Runs a kind's options decoder. With `problems`, a DecodeError there is not fatal: the object keeps its options as
 * hex (no typed fields) and the problem is added (the reader counts the namespace as not exactly rendered);
 * without it, the DecodeError propagates.
 */
export function guardOptions(what: string, opts: Buffer, target: { options: Record<string, unknown> }, decode: () => void, problems?: string[]): void {
  try {
    decode();
  } catch (err) {
    if (problems === undefined || !(err instanceof DecodeError)) throw err;
    target.options = { ...opaqueOptions(opts), error: err.message };
    problems.push(`${what}: options not decoded (${err.message})`);
  }
}

/**
 * RTM_NEWQDISC payload -> Qdisc. `ifname` names the interface of tcm_ifindex. Throws DecodeError for the message
 * itself; for its options only without `problems` (see guardOptions).
 */
export function decodeQdisc(payload: Buffer, ifname: (ifindex: number) => string, p: Psched = DEFAULT_PSCHED, problems?: string[]): Qdisc {
  const m = decodeTcMessage(payload, 'RTM_NEWQDISC');
  const root = m.parent >>> 0 === TC_H_ROOT;
  const q: Qdisc = {
    interface: ifname(m.ifindex),
    kind: m.kind,
    handle: formatQdiscHandle(m.handle),
    parent: qdiscParent(m),
    root,
    options: {},
    stats: m.stats,
  };
  const opts = m.options;
  if (opts !== null) guardOptions(`${q.kind} qdisc ${q.handle} on ${q.interface}`, opts, q, () => withOptions(q, opts, m.handle, p), problems);
  return q;
}
