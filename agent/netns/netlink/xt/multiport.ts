/**
 * `-m multiport` (libxt_multiport.c, xt_multiport.h). Revision 0: { u8 flags, count; u16 ports[15] }; revision 1
 * adds u8 pflags[15] (a set pflag joins a port with the next as a range) and u8 invert. Saved numerically.
 */
import type { XtDecoder } from './types.js';
import { unprintable } from './types.js';

const XT_MULTI_PORTS = 15;
const OPTION = ['--sports', '--dports', '--ports'];

function header(info: Buffer): { option: string; count: number } {
  const option = OPTION[info[0]!];
  if (option === undefined) throw unprintable('xt_multiport', 0, `unknown direction ${info[0]}`);
  const count = info[1]!;
  if (count > XT_MULTI_PORTS) throw unprintable('xt_multiport', 1, `${count} ports, at most ${XT_MULTI_PORTS}`);
  return { option, count };
}

const port = (info: Buffer, i: number): number => info.readUInt16LE(2 + i * 2);

export const multiportMatch: Record<number, XtDecoder> = {
  0: {
    size: 32,
    save({ info }) {
      const { option, count } = header(info);
      const list: number[] = [];
      for (let i = 0; i < count; i++) list.push(port(info, i));
      return ` ${option} ${list.join(',')}`;
    },
  },
  1: {
    size: 48,
    save({ info }) {
      const { option, count } = header(info);
      const list: string[] = [];
      for (let i = 0; i < count; i++) {
        if (info[32 + i]) {
          if (i + 1 >= XT_MULTI_PORTS) throw unprintable('xt_multiport_v1', 32 + i, 'a range flag on the last port');
          list.push(`${port(info, i)}:${port(info, i + 1)}`);
          i++;
        } else {
          list.push(`${port(info, i)}`);
        }
      }
      return `${info[47] ? ' !' : ''} ${option} ${list.join(',')}`;
    },
  },
};
