/**
 * Chaos Mesh's value syntaxes in base units: literal values (Go durations, FloatStr percentages, tc rates with
 * iproute2's suffix table) and totality (fast-check: any string gives a number or null). The tc rate reading is
 * also checked against the real `tc` in test/intent/tc-rates.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatQuantity, parseGoDuration, parsePercent, parseTcRate, passesChaosDaemonTimeCheck, passingDurationText, tcNetemTimeError, TC_MAX_NETEM_US } from '../../agent/intent/units.js';

describe('parseGoDuration', () => {
  it.each([
    ['100ms', 0.1],
    ['10ms', 0.01],
    ['1s', 1],
    ['1.5s', 1.5],
    ['250us', 0.00025],
    ['250µs', 0.00025],
    ['500ns', 5e-7],
    ['2m', 120],
    ['1h', 3600],
    ['1m30s', 90],
    ['0', 0],
    ['0ms', 0],
  ])('%s -> %d s', (text, seconds) => {
    expect(parseGoDuration(text)).toBeCloseTo(seconds, 12);
  });

  it.each(['', 'ms', '10', '-5ms', '10 ms', '1d', '5msx', 'abc'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeNull();
  });

  // Go's time.ParseDuration (src/time/format.go): one optional leading sign, then "0" alone is zero; a "-" duration
  // of 0 ns (Go's integer nanoseconds, each part's fraction truncated) is zero, any other is negative (null here).
  it.each([
    ['+5ms', 0.005],
    ['+1m30s', 90],
    ['+.5s', 0.5],
    ['+0', 0],
    ['-0', 0],
    ['+0ms', 0],
    ['-0ms', 0],
    ['-0.0s', 0],
    ['-0.1ns', 0],
    ['-0s0ms', 0],
  ])('sign as Go: %j -> %d s', (text, seconds) => {
    const v = parseGoDuration(text);
    expect(v).toBeCloseTo(seconds, 12);
    if (seconds === 0) expect(Object.is(v, 0), `${text} is +0`).toBe(true);
  });

  it.each(['+', '-', '++5ms', '+-5ms', '-+5ms', '--0', '+-0', '5+ms', '1s+1s', '-1ns', '-1.5h', '-0.000001ms5ms', '+ 5ms', '+0x'])('sign as Go: rejects %j (invalid, or negative)', (text) => {
    expect(parseGoDuration(text)).toBeNull();
  });

  // Go sums whole nanoseconds (each part's fraction truncated), up to 2^63-1, and takes no whitespace.
  it.each([
    ['1.5ns', 1e-9],
    ['0.1ns', 0],
    ['1.9ns1.9ns', 2e-9],
    ['1.0000000000000000000000001s', 1],
    ['000000000000000000000000000005ms', 0.005],
    ['9223372036854775807ns', 9223372036.854775807],
    ['2562047h', 2562047 * 3600],
    ['5.s', 5],
    ['.5s', 0.5],
  ])('as Go: %j -> %d s', (text, seconds) => {
    expect(parseGoDuration(text)).toBeCloseTo(seconds, 9);
  });

  it.each([' 5ms', '5ms ', '5 ms', '\t1s', '9223372036854775808ns', '2562048h', '9223372036854775807ns1ns', '99999999999999999999s', '.s', '1.h.5', '5msms', 's'])('as Go: rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeNull();
  });
});

describe('tcNetemTimeError: what the tc in chaos-daemon\'s image (iproute2 6.1) says of a netem time', () => {
  it.each(['100ms', '1s', '1.5s', '250us', '10MS', '5msec', '5secs', '7usecs', '100', '1e2ms', '0s', '0.5us', '5.s', '274.877906s', '4295s'])('reads %j', (text) => {
    expect(tcNetemTimeError(text)).toBeNull();
  });
  it.each(['500ns', '250µs', '250μs', '2m', '1h', '1m30s', '1s500ms', '5 m', 'ms', ''])('%j: Illegal "latency"', (text) => {
    expect(tcNetemTimeError(text)).toBe('Illegal "latency"');
  });
  // 15.625 ticks of 64 ns per µs in 32 bits; the µs themselves are an unsigned int (x86-64: the low 32 bits).
  it.each([
    ['274.877907s', 'Illegal 274877907 time (too large)'],
    ['300s', 'Illegal 300000000 time (too large)'],
    ['4294s', 'Illegal 4294000000 time (too large)'],
    ['42949s', 'Illegal 4294294336 time (too large)'],
  ])('%j: %s', (text, error) => {
    expect(tcNetemTimeError(text)).toBe(error);
  });
  it('the longest time it takes is 2^32 ticks of 64 ns, less one µs', () => {
    expect(TC_MAX_NETEM_US).toBe(274_877_906);
  });
});

describe("chaos-daemon's string comparison of a netem latency / jitter with \"0ms\" (tc_server.go:426, :428)", () => {
  it.each([
    ['100ms', true],
    ['5ms', true],
    ['1.5s', true],
    ['2m', true],
    ['250µs', true],
    ['0s', true], // "delay 0s": passed on, and harmless
    ['0us', true],
    ['0.5s', false],
    ['0.5ms', false],
    ['.5s', false],
    ['00100ms', false],
    ['0ms', false],
    ['0', false],
    ['', false],
  ])('%j passes: %s', (text, passes) => {
    expect(passesChaosDaemonTimeCheck(text)).toBe(passes);
  });

  it('spells any duration so that it passes and reads back the same', () => {
    expect([0.5, 0.0005, 1.5, 0.25, 90, 200].map(passingDurationText)).toEqual(['500ms', '500us', '1.5s', '250ms', '90s', '200s']);
    for (const s of [0.5, 0.0005, 1.5, 0.25, 0.1, 200, 1e-6]) {
      const text = passingDurationText(s)!;
      expect(passesChaosDaemonTimeCheck(text), text).toBe(true);
      expect(tcNetemTimeError(text), text).toBeNull();
      expect(parseGoDuration(text)).toBeCloseTo(s, 12);
    }
    // Under 1 µs: tc 6.1 has no ns, and "0.5us" fails the comparison; over tc's longest netem time nothing passes.
    expect(passingDurationText(5e-7)).toBeNull();
    expect(passingDurationText(274.877906)).toBe('274.877s'); // 274.878s would be past tc's longest time
    expect(tcNetemTimeError('274.878s')).toBe('Illegal 274878000 time (too large)');
    expect(passingDurationText(274.8774)).toBe('274.877s');
    expect(passingDurationText(200.0005)).toBe('200.001s');
    expect(passingDurationText(274.877907)).toBeNull();
    expect(passesChaosDaemonTimeCheck('0.5us')).toBe(false);
  });
});

describe('parsePercent', () => {
  it('reads strconv.ParseFloat text as a percentage', () => {
    expect(parsePercent('25')).toBe(0.25);
    expect(parsePercent('0.5')).toBe(0.005);
    expect(parsePercent('100')).toBe(1);
    expect(parsePercent('1e1')).toBe(0.1);
    expect(parsePercent(undefined)).toBe(0); // the CRD default "0"
    expect(parsePercent('')).toBe(0);
    expect(parsePercent('abc')).toBeNull();
    expect(parsePercent('-1')).toBeNull();
  });
});

describe('parseTcRate (iproute2 get_rate)', () => {
  it.each([
    ['1000000', 125_000], // a bare number is bits per second
    ['8mbit', 1_000_000],
    ['1mbps', 1_000_000], // bps is BYTES per second
    ['1MBps', 1_000_000], // case-insensitive
    ['100kbit', 12_500],
    ['1kibit', 128],
    ['1gbit', 125_000_000],
    ['1mibps', 1_048_576],
    ['10bps', 10],
    ['1bit', 0], // truncated as tc truncates
    ['2.5mbit', 312_500],
  ])('%s -> %d B/s', (text, bytes) => {
    expect(parseTcRate(text)).toBe(bytes);
  });

  it.each(['', 'mbit', '10 mbit x', '10furlongs', '-1mbit'])('rejects %j', (text) => {
    expect(parseTcRate(text)).toBeNull();
  });
});

describe('formatQuantity', () => {
  it('prints base units the way sentences use them', () => {
    expect(formatQuantity('delaySeconds', 0.1)).toBe('100ms');
    expect(formatQuantity('jitterSeconds', 0.00025)).toBe('250µs');
    expect(formatQuantity('loss', 0.05)).toBe('5%');
    expect(formatQuantity('rateBytesPerSecond', 125000)).toBe('125000 B/s');
    expect(formatQuantity('burstBytes', 32000)).toBe('32000 B');
    expect(formatQuantity('gap', 5)).toBe('5');
    expect(formatQuantity('limitBytes', null)).toBe('none');
  });
});

describe('totality', () => {
  it('never throws, returns a finite non-negative number or null', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        for (const v of [parseGoDuration(s), parsePercent(s), parseTcRate(s)]) {
          expect(v === null || (Number.isFinite(v) && v >= 0)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
