/**
 * tbf burst / mtu against the spec. The kernel keeps them as a time at the rate: tc sends the bytes
 * (TCA_TBF_BURST), sch_tbf.c stores psched_l2t_ns(rate, bytes) and dumps it in 64 ns ticks, and tc / the netlink
 * reader print it back truncated to whole microseconds (tc_calc_xmitsize). So the bytes read back are the spec's
 * rounded down by up to a microsecond of the rate: at 1 GB/s that is 1000 bytes, not "8 B or 1%". The table's
 * readbacks are what tc 6.1 printed for these exact commands on this kernel (`tc qdisc add ... tbf rate R burst B`).
 */
import { describe, expect, it } from 'vitest';
import type { QdiscArtefact } from '../../agent/intent/artefacts.js';
import { compareParams, storedBytesMatch } from '../../agent/intent/match-tc.js';
import type { TcIntent } from '../../agent/intent/model.js';
import { kernelBurstTicks, sizeReadBacks, xmitSize } from '../../agent/netns/netlink/tc/psched.js';
import type { TbfOptions } from '../../agent/netns/state.js';
import { tbf } from '../chaos/builders.js';

const spec = (rate: number, burst: number, extra: Partial<NonNullable<TcIntent['tbf']>> = {}): TcIntent => ({
  type: 'bandwidth', device: 'eth0', ipset: null, source: 'shop/slow', text: '',
  tbf: { rateBytesPerSecond: rate, burstBytes: burst, limitBytes: 64_000, peakrateBytesPerSecond: null, mtuBytes: null, ...extra },
});
const kernel = (t: TbfOptions): QdiscArtefact => ({
  type: 'qdisc', role: 'tbf', position: 'eth0 root tbf', filterSets: [], qdisc: tbf({ handle: '1:', parent: 'root' }, { limitBytes: 64_000, ...t }),
});

// [rate B/s, spec burst B, ticks the kernel keeps, burst read back B]
const TABLE: readonly [number, number, number, number][] = [
  [125_000, 10_000, 1_250_000, 10_000], // 1mbit: 80 ms exactly
  [1_000_000, 10_000, 156_250, 10_000],
  [100_000_000, 12_345, 1928, 12_300], // 100mbps: 123450 ns -> 1928 ticks -> 123.392 us -> 123 us
  [1_000_000_000, 10_000, 156, 9000], // 1gbps: 10000 ns -> 156 ticks -> 9.984 us -> 9 us
  [300_000_000, 10_000, 520, 9900], // 33333 ns -> 520 ticks -> 33.28 us -> 33 us
  [300_000_000, 12_345, 642, 12_300],
  [125_000_000, 15_000, 1875, 15_000], // 1gbit: 120 us exactly
  [12_500_000, 1500, 1875, 1500],
];

describe('tbf burst through tc tick arithmetic', () => {
  it.each(TABLE)('rate %d B/s, burst %d B: %d ticks, reads back %d B, and the entry matches', (rate, burst, ticks, back) => {
    expect(kernelBurstTicks(rate, burst)).toBe(ticks);
    expect(xmitSize(rate, ticks)).toBe(back);
    expect(sizeReadBacks(rate, burst)).toContain(back);
    expect(compareParams(spec(rate, burst), kernel({ rateBytesPerSecond: rate, burstBytes: back }))).toEqual([]);
  });

  it('the cases the old tolerance (8 B or 1%) called a mismatch now match', () => {
    // 10000 vs 9000 is 10%; 10000 vs 9900 is 1%, 100 B.
    expect(storedBytesMatch(10_000, 9000, 1_000_000_000)).toBe(true);
    expect(storedBytesMatch(10_000, 9900, 300_000_000)).toBe(true);
    expect(compareParams(spec(1_000_000_000, 10_000), kernel({ rateBytesPerSecond: 1_000_000_000, burstBytes: 9000 }))).toEqual([]);
  });

  it('a reader printing the ticks in doubles (iproute2 after the 2025 rounding fix) is accepted too', () => {
    // 1928 ticks = 123.392 us: 12339 bytes in doubles, 12300 truncated to whole microseconds.
    expect(sizeReadBacks(100_000_000, 12_345)).toEqual([12_300, 12_339]);
    expect(compareParams(spec(100_000_000, 12_345), kernel({ rateBytesPerSecond: 100_000_000, burstBytes: 12_339 }))).toEqual([]);
  });

  it('a burst changed by hand is still a mismatch, named with both values', () => {
    expect(compareParams(spec(100_000_000, 12_345), kernel({ rateBytesPerSecond: 100_000_000, burstBytes: 12_100 }))).toEqual([
      { field: 'burstBytes', expected: 12_345, actual: 12_100 },
    ]);
    expect(compareParams(spec(125_000, 32_000), kernel({ rateBytesPerSecond: 125_000, burstBytes: 31_000 }))).toEqual([
      { field: 'burstBytes', expected: 32_000, actual: 31_000 },
    ]);
    // 32100 at 1mbit is 256800 us: stored and read back exactly, so 32000 differs.
    expect(Math.max(...sizeReadBacks(125_000, 32_100))).toBe(32_100);
    expect(storedBytesMatch(32_100, 32_000, 125_000)).toBe(false);
  });

  it('mtu goes through the same arithmetic at the peak rate', () => {
    // 1 GB/s peak rate, mtu 1600: 1600 ns -> 25 ticks -> 1.6 us -> 1 us: read back 1000 bytes.
    const s = spec(125_000, 32_000, { peakrateBytesPerSecond: 1_000_000_000, mtuBytes: 1600 });
    expect(xmitSize(1_000_000_000, kernelBurstTicks(1_000_000_000, 1600))).toBe(1000);
    const k = kernel({ rateBytesPerSecond: 125_000, burstBytes: 32_000, peakrateBytesPerSecond: 1_000_000_000, mtuBytes: 1000 });
    expect(compareParams(s, k)).toEqual([]);
    expect(compareParams(s, { ...k, qdisc: { ...k.qdisc, tbf: { ...k.qdisc.tbf, mtuBytes: 9000 } } })).toEqual([
      { field: 'mtuBytes', expected: 1600, actual: 9000 },
    ]);
  });
});
