/**
 * Where tc filters can hang, per interface, given its qdiscs and classes: the policy both readers follow so that
 * they ask the kernel the same questions (a filter dump names one parent; `tc filter show dev X` alone shows only
 * the root qdisc's).
 * - every qdisc with a handle (`1:`) of a kind that has a filter block: the filters attached to the qdisc itself
 *   (kinds known to have none, such as tbf, netem or the fifos, are not asked: the kernel's answer is empty);
 * - the ingress qdisc: its hook (`ingress`, ffff:fff2); clsact: both hooks (`ingress`, `egress`);
 * - classes of the kinds whose classes carry their own filter block (htb, hfsc, drr, qfq, cbq, ets: `1:4`).
 *   Other kinds ignore the class in a filter dump (prio, ingress answer with the qdisc's filters again) or have
 *   no block for it (sfq, tbf, netem), so their classes are not asked.
 */
import type { Qdisc, TcClass } from './tc.js';

const PER_CLASS_BLOCK = new Set(['htb', 'hfsc', 'drr', 'qfq', 'cbq', 'ets']);
/** Qdisc kinds without a filter block (no tcf_block class operation): a filter dump of them is always empty. */
const NO_BLOCK = new Set(['noqueue', 'pfifo', 'bfifo', 'pfifo_head_drop', 'pfifo_fast', 'tbf', 'netem', 'mq', 'codel', 'pie', 'fq', 'red', 'gred', 'plug', 'skbprio', 'etf', 'taprio', 'cbs', 'hhf']);

export interface FilterParent {
  interface: string;
  /** `ingress`, `egress`, or a handle as tc prints it (`1:`, `1:4`). */
  parent: string;
}

export function filterParents(qdiscs: Qdisc[], classes: TcClass[]): FilterParent[] {
  const out: FilterParent[] = [];
  const seen = new Set<string>();
  const add = (iface: string, parent: string): void => {
    const key = `${iface}\0${parent}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ interface: iface, parent });
  };
  for (const q of qdiscs) {
    if (q.kind === 'ingress') add(q.interface, 'ingress');
    else if (q.kind === 'clsact') {
      add(q.interface, 'ingress');
      add(q.interface, 'egress');
    } else if (q.handle !== '0:' && q.handle !== '' && !NO_BLOCK.has(q.kind)) add(q.interface, q.handle);
  }
  for (const c of classes) if (PER_CLASS_BLOCK.has(c.kind) && /^[0-9a-f]+:[0-9a-f]+$/.test(c.handle)) add(c.interface, c.handle);
  return out;
}
