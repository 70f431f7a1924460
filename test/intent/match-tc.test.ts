/**
 * tbf burst / mtu against the spec (and, at the end, a netem delay chaos-daemon itself drops). The kernel keeps
 * burst and mtu as a time at the rate: tc sends the bytes
 * (TCA_TBF_BURST), sch_tbf.c stores psched_l2t_ns(rate, bytes) and dumps it in 64 ns ticks, and tc / the netlink
 * reader print it back truncated to whole microseconds (tc_calc_xmitsize). So the bytes read back are the spec's
 * rounded down by up to a microsecond of the rate: at 1 GB/s that is 1000 bytes, not "8 B or 1%". The table's
 * readbacks are what tc 6.1 printed for these exact commands on this kernel (`tc qdisc add ... tbf rate R burst B`).
 */
import { describe, expect, it } from 'vitest';
import type { KernelArtefacts, QdiscArtefact } from '../../agent/intent/artefacts.js';
import { compareParams, matchTc, storedBytesMatch } from '../../agent/intent/match-tc.js';
import type { PodNetworkIntent, TcIntent } from '../../agent/intent/model.js';
import { normalisePodNetworkChaos } from '../../agent/intent/normalise.js';
import { kernelBurstTicks, sizeReadBacks, xmitSize } from '../../agent/netns/netlink/tc/psched.js';
import type { NetemOptions, TbfOptions } from '../../agent/netns/state.js';
import { netem, tbf } from '../chaos/builders.js';
import { podNetworkChaos } from '../helpers/chaos-mesh-crds.js';

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

/**
 * chaos-daemon's convertNetemToArgs compares the latency and jitter TEXTS with "0ms" (chaos-mesh
 * pkg/chaosdaemon/tc_server.go:426, :428): "0.5s" is not greater, so tc gets a netem without the delay. The kernel
 * then differs from the spec: still a mismatch, and its detail says whose defect it is.
 */
describe("netem delay dropped by chaos-daemon's string comparison", () => {
  const intentOf = (delay: Record<string, string>): PodNetworkIntent =>
    normalisePodNetworkChaos(podNetworkChaos('shop', 'web', { tcs: [{ type: 'netem', source: 'shop/slow', device: 'eth0', delay }] }))!;
  const kernelNetem = (n: NetemOptions): KernelArtefacts => ({
    chains: [], ipsets: [], qdiscs: [{ type: 'qdisc', role: 'netem', position: 'eth0 root netem', filterSets: [], qdisc: netem({ handle: '1:', parent: 'root' }, n) }],
  });
  const only = (intent: PodNetworkIntent, k: KernelArtefacts) => {
    const [e, ...rest] = matchTc(intent, k);
    expect(rest).toEqual([]);
    return e!;
  };

  it('a latency of "0.5s": the mismatch says chaos-daemon dropped it, and how to write it', () => {
    const intent = intentOf({ latency: '0.5s' });
    expect(intent.tcs[0]!.delayDroppedByChaosDaemon).toEqual({ param: 'latency', text: '0.5s' });
    const e = only(intent, kernelNetem({}));
    expect([e.state, e.owners, e.expected, e.actual]).toEqual(['mismatch', ['shop/slow'], { delaySeconds: 0.5 }, { delaySeconds: 0 }]);
    expect(e.detail).toBe(
      'eth0 root netem: delaySeconds 0 in the kernel, 500ms in the spec (spec: netem delay 0.5s); this is Chaos Mesh\'s own defect: ' +
        'chaos-daemon compares the latency "0.5s" with "0ms" as text, not as a duration (pkg/chaosdaemon/tc_server.go convertNetemToArgs), ' +
        'finds it not greater and leaves the delay (and its jitter, correlation and reorder) out of tc\'s arguments; written "500ms" it would be applied',
    );
  });

  it('a jitter of "0.5ms" under a latency that passes: the jitter is what chaos-daemon dropped', () => {
    const e = only(intentOf({ latency: '100ms', jitter: '0.5ms' }), kernelNetem({ delaySeconds: 0.1 }));
    expect(e.state).toBe('mismatch');
    expect(e.detail).toBe(
      'eth0 root netem: jitterSeconds 0 in the kernel, 500µs in the spec (spec: netem delay 100ms jitter 0.5ms); this is Chaos Mesh\'s own defect: ' +
        'chaos-daemon compares the jitter "0.5ms" with "0ms" as text, not as a duration (pkg/chaosdaemon/tc_server.go convertNetemToArgs), ' +
        'finds it not greater and leaves the jitter (and its correlation) out of tc\'s arguments; written "500us" it would be applied',
    );
  });

  it('a latency chaos-daemon passes on ("500ms") missing from the kernel is plain drift; the defect is not claimed when the kernel has the delay', () => {
    const plain = intentOf({ latency: '500ms' });
    expect(plain.tcs[0]!.delayDroppedByChaosDaemon).toBeUndefined();
    expect(only(plain, kernelNetem({})).detail).toBe('eth0 root netem: delaySeconds 0 in the kernel, 500ms in the spec (spec: netem delay 500ms)');
    // A chaos-daemon without the defect (or a delay set by hand) applied it: nothing to explain.
    expect(only(intentOf({ latency: '0.5s' }), kernelNetem({ delaySeconds: 0.5 }))).toMatchObject({ state: 'present', detail: 'eth0 root netem as specified (netem delay 0.5s)' });
    // Another parameter differs, the delay is there: no word of the defect.
    const other = only(intentOf({ latency: '0.5s', jitter: '10ms' }), kernelNetem({ delaySeconds: 0.5, jitterSeconds: 0.02 }));
    expect(other.detail).toBe('eth0 root netem: jitterSeconds 20ms in the kernel, 10ms in the spec (spec: netem delay 0.5s jitter 10ms)');
  });

  it('a jitter of "0.5ms" under a latency of "0s" (passed on as "delay 0s"): the jitter is still what chaos-daemon dropped', () => {
    expect(intentOf({ latency: '0s', jitter: '0.5ms' }).tcs[0]!.delayDroppedByChaosDaemon).toEqual({ param: 'jitter', text: '0.5ms' });
    expect(intentOf({ latency: '0ms', jitter: '0.5ms' }).tcs[0]!.delayDroppedByChaosDaemon).toBeUndefined();
  });
});

/**
 * A latency or jitter Go accepts (Chaos Mesh checks it with time.ParseDuration) but the tc in chaos-daemon's image does
 * not read ("1m", "250µs", "1m30s": test/intent/tc-durations.test.ts checks which on the real tc): chaos-daemon's
 * `tc qdisc add ... netem delay 1m` fails, so the kernel has no netem at all, and the missing entry says why.
 */
describe("netem delay chaos-daemon's tc cannot read", () => {
  const intentOf = (delay: Record<string, string>): PodNetworkIntent =>
    normalisePodNetworkChaos(podNetworkChaos('shop', 'web', { tcs: [{ type: 'netem', source: 'shop/slow', device: 'eth0', delay }] }))!;
  const none: KernelArtefacts = { chains: [], ipsets: [], qdiscs: [] };

  const SYNTAX = 'reads one number with s, ms or us only (not ns, µs, m, h or several parts): its tc qdisc add fails with Illegal "latency"';
  it.each([
    [{ latency: '1m' }, 'latency', '1m', SYNTAX, 'written "60s" tc reads it'],
    [{ latency: '1m30s' }, 'latency', '1m30s', SYNTAX, 'written "90s" tc reads it'],
    [{ latency: '250µs' }, 'latency', '250µs', SYNTAX, 'written "250us" tc reads it'],
    [{ latency: '100ms', jitter: '1h' }, 'jitter', '1h', SYNTAX, 'no spelling of this delay gets through chaos-daemon and its tc'],
    [{ latency: '100ms', jitter: '2m' }, 'jitter', '2m', SYNTAX, 'written "120s" tc reads it'],
    [{ latency: '300s' }, 'latency', '300s', 'holds a netem time in 32 bits of 64 ns ticks (at most 274.877906s): its tc qdisc add fails with ' +
      'Illegal 300000000 time (too large)', 'no spelling of this delay gets through chaos-daemon and its tc'],
  ] as const)('%j: missing, with what tc says and a spelling it takes', (delay, param, text, why, respelled) => {
    const intent = intentOf(delay);
    expect(intent.problems).toEqual([]);
    expect(intent.tcs[0]!.delayRejectedByTc).toMatchObject({ param, text });
    expect(intent.tcs[0]!.delayDroppedByChaosDaemon).toBeUndefined();
    const [e, ...rest] = matchTc(intent, none);
    expect(rest).toEqual([]);
    expect(e!.state).toBe('missing');
    expect(e!.detail).toBe(
      `no netem qdisc on eth0 for netem ${intent.tcs[0]!.text}; chaos-daemon hands tc the ${param} "${text}" as written (convertNetemToArgs), ` +
        `and the tc in its image (iproute2 6.1) ${why}; ${respelled}`,
    );
  });

  it('under 1 µs no spelling gets through; a latency tc reads, or one chaos-daemon drops first, is not claimed', () => {
    const tiny = intentOf({ latency: '500ns' });
    expect(tiny.tcs[0]!.delayRejectedByTc).toEqual({ param: 'latency', text: '500ns', error: 'Illegal "latency"' });
    expect(matchTc(tiny, none)[0]!.detail).toMatch(/Illegal "latency"; no spelling of this delay gets through chaos-daemon and its tc$/);
    expect(intentOf({ latency: '100ms', jitter: '10ms' }).tcs[0]!.delayRejectedByTc).toBeUndefined();
    // "0.5m" fails the "0ms" comparison first: tc never sees it.
    expect(intentOf({ latency: '0.5m' }).tcs[0]).toMatchObject({ delayDroppedByChaosDaemon: { param: 'latency', text: '0.5m' } });
    expect(intentOf({ latency: '0.5m' }).tcs[0]!.delayRejectedByTc).toBeUndefined();
    // A jitter that fails the comparison ("0.5m") is left out of tc's arguments: tc never sees it.
    expect(intentOf({ latency: '100ms', jitter: '0.5m' }).tcs[0]!.delayRejectedByTc).toBeUndefined();
    expect(matchTc(intentOf({ latency: '100ms' }), none)[0]!.detail).toBe('no netem qdisc on eth0 for netem delay 100ms');
  });
});
