/** pfifo / bfifo / pfifo_head_drop TCA_OPTIONS: struct tc_fifo_qopt (u32 limit: packets, or bytes for bfifo). Pure. */
import { read } from '../nlmsg.js';

export function decodeFifo(b: Buffer): { raw: { limit: number }; fifo: { limit: number } } {
  const limit = read.u32(b, 'tc_fifo_qopt');
  return { raw: { limit }, fifo: { limit } };
}
