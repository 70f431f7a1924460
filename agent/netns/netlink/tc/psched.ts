/**
 * The unit conversions tc applies when it prints kernel values (iproute2 6.1 tc/tc_core.c, lib/json_writer.c), done
 * the same way so that the netlink reader gives the numbers `tc -j` prints:
 * - psched ticks: the kernel reports tbf/htb buffers and netem's 32-bit delays in ticks of 64 ns. tc reads
 *   /proc/net/psched (`t2us us2t clock_res hz`, hex) and converts with tick_in_usec = t2us / us2t * clock_factor
 *   (clock_factor = clock_res / 1e6; when clock_res is 1e9, t2us is taken as us2t). The kernel prints
 *   `000003e8 00000040 000f4240 ...` on every kernel since 2.6.31 (NSEC_PER_USEC, PSCHED_TICKS2NS(1), 1000000), i.e.
 *   15.625 ticks per microsecond: that is the default here, and parsePsched reads the file's text the way tc does.
 * - tc_core_tick2time and tc_calc_xmitsize return `unsigned int`: C truncation, reproduced with Math.trunc.
 * - JSON floats are printed with `%g`: 6 significant digits (printG).
 */

export interface Psched {
  tickInUsec: number;
  clockFactor: number;
}

export const DEFAULT_PSCHED: Psched = { tickInUsec: 1000 / 64, clockFactor: 1 };
const TIME_UNITS_PER_SEC = 1_000_000;

/** tc_core_init on the text of /proc/net/psched; null when it does not hold three hex words. */
export function parsePsched(text: string): Psched | null {
  const m = /^\s*([0-9a-fA-F]{1,8})\s*([0-9a-fA-F]{1,8})\s*([0-9a-fA-F]{1,8})/.exec(text);
  if (m === null) return null;
  let t2us = parseInt(m[1]!, 16);
  const us2t = parseInt(m[2]!, 16);
  const clockRes = parseInt(m[3]!, 16);
  if (us2t === 0) return null;
  if (clockRes === 1_000_000_000) t2us = us2t;
  const clockFactor = clockRes / TIME_UNITS_PER_SEC;
  return { tickInUsec: (t2us / us2t) * clockFactor, clockFactor };
}

/** C's conversion of a double to `unsigned int` (truncation; out-of-range values clamp rather than wrap). */
function toUint(x: number): number {
  if (!(x > 0)) return 0;
  return Math.min(Math.trunc(x), 0xffffffff);
}

/** tc_core_tick2time: ticks -> microseconds (unsigned int). */
export function tickToTime(ticks: number, p: Psched = DEFAULT_PSCHED): number {
  return toUint(ticks / p.tickInUsec);
}

/** tc_calc_xmitsize: bytes sent at `rate` bytes/s during `ticks` (unsigned int). */
export function xmitSize(rate: number, ticks: number, p: Psched = DEFAULT_PSCHED): number {
  return toUint((rate * tickToTime(ticks, p)) / TIME_UNITS_PER_SEC);
}

/**
 * The ticks the kernel keeps for a tbf burst of `size` bytes at `rate` bytes/s (or its mtu at the peak rate). tc
 * sends the bytes too (TCA_TBF_BURST / TCA_TBF_PBURST, iproute2 q_tbf.c), and sch_tbf.c tbf_change then ignores
 * tc's own tick count: buffer = psched_l2t_ns(rate, size) = (size * mult) >> shift, with mult / shift from
 * psched_ratecfg_precompute (net/sched/sch_generic.c: mult = factor / rate for the first factor = 1e9 << shift
 * that sets bit 31 of mult), dumped as PSCHED_NS2TICKS (ns >> 6).
 */
export function kernelBurstTicks(rate: number, size: number): number {
  const r = BigInt(Math.trunc(rate));
  if (r <= 0n) return 0;
  let factor = 1_000_000_000n;
  let shift = 0n;
  let mult: bigint;
  for (;;) {
    mult = factor / r;
    if ((mult & (1n << 31n)) !== 0n || (factor & (1n << 63n)) !== 0n) break;
    factor <<= 1n;
    shift++;
  }
  const ns = (BigInt(Math.trunc(size)) * (mult & 0xffffffffn)) >> shift;
  const ticks = ns >> 6n;
  return Number(ticks > 0xffffffffn ? 0xffffffffn : ticks);
}

/**
 * The byte counts a reader may show for a tbf burst of `size` bytes at `rate`: the kernel's ticks (kernelBurstTicks)
 * printed as tc 6.1 does (xmitSize: the time truncated to whole microseconds) or in doubles (iproute2 after the 2025
 * rounding fix). At 1 GB/s, 10000 reads back 9000: the unit is a microsecond's worth of bytes, not a few bytes.
 */
export function sizeReadBacks(rate: number, size: number, p: Psched = DEFAULT_PSCHED): number[] {
  const ticks = kernelBurstTicks(rate, size);
  const out = new Set([xmitSize(rate, ticks, p), Math.trunc((rate * (ticks / p.tickInUsec)) / TIME_UNITS_PER_SEC)]);
  return [...out].sort((a, b) => a - b);
}

/** A number as printf's `%g` prints it and JSON.parse reads it back: 6 significant digits. */
export function printG(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(6));
}

const UINT32_MAX = 0xffffffff;

/** A 32-bit probability (0 = never, UINT32_MAX = always) as tc prints it in JSON: value / UINT32_MAX, `%g`. */
export function percent(v: number): number {
  return printG(v / UINT32_MAX);
}
