/**
 * prio's and pfifo_fast's TCA_OPTIONS (uapi linux/pkt_sched.h): struct tc_prio_qopt (int bands, u8 priomap[16]),
 * optionally followed by TCA_PRIO_* attributes (nla_nest_compat: the struct, then attributes in the same payload).
 * Pure.
 */
import { parseAttrs, read, struct } from '../nlmsg.js';

const QOPT_LEN = 20;
const TCA_PRIO_MQ = 1;

export interface PrioAttrs {
  bands: number;
  priomap: number[];
  multiqueue: boolean;
}

export function decodePrio(b: Buffer): { raw: PrioAttrs; prio: { bands: number; priomap: number[] } } {
  const q = struct(b, QOPT_LEN, 'tc_prio_qopt');
  const bands = q.readInt32LE(0);
  const priomap = [...q.subarray(4, 20)];
  let multiqueue = false;
  // The attributes follow the struct aligned to 4 bytes (20 already is).
  for (const a of parseAttrs(b, QOPT_LEN)) if (a.type === TCA_PRIO_MQ) multiqueue = read.u8(a.data, 'TCA_PRIO_MQ') !== 0;
  return { raw: { bands, priomap, multiqueue }, prio: { bands, priomap: [...priomap] } };
}
