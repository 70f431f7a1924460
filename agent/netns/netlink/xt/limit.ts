/**
 * `-m limit` (libxt_limit.c, xt_limit.h struct xt_rateinfo { u32 avg; u32 burst; ... kernel-private }). The rate
 * is printed in the largest unit that divides it well, as print_rate does; burst only when not the default 5.
 */
import type { XtDecoder } from './types.js';

const XT_LIMIT_SCALE = 10000;
const XT_LIMIT_BURST = 5;
const RATES: [string, number][] = [
  ['day', XT_LIMIT_SCALE * 24 * 60 * 60],
  ['hour', XT_LIMIT_SCALE * 60 * 60],
  ['min', XT_LIMIT_SCALE * 60],
  ['sec', XT_LIMIT_SCALE],
];

/** print_rate: ` N/unit`, or ` inf` (printf("%f", INFINITY)) for a zero period. */
function rate(period: number): string {
  if (period === 0) return ' inf';
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = RATES[i - 1]!;
  return ` ${Math.floor(mult / period)}/${name}`;
}

export const limitMatch: Record<number, XtDecoder> = {
  0: {
    size: 8,
    save({ info }) {
      const burst = info.readUInt32LE(4);
      return ` --limit${rate(info.readUInt32LE(0))}${burst !== XT_LIMIT_BURST ? ` --limit-burst ${burst}` : ''}`;
    },
  },
};
