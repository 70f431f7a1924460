/**
 * The value syntaxes of Chaos Mesh's specs, read into base units exactly as the tools that consume them do.
 * Pure and total: every function returns a value (a number or null for the readers), never throws.
 * - durations (DelaySpec latency/jitter): Go's time.ParseDuration units ns, us/µs, ms, s, m, h (sequences such
 *   as `1m30s` too), which Chaos Mesh checks; chaos-daemon then hands the text to `tc ... netem delay <latency>
 *   <jitter>` unchanged, and its tc reads fewer forms and shorter times (tcNetemTimeError).
 * - percentages (loss, correlation, ...: `webhook:"FloatStr"`): strconv.ParseFloat, then tc's `loss 25.000000`,
 *   i.e. a percent: returned as a ratio 0..1.
 * - rates (BandwidthSpec.rate, RateSpec.rate): handed to tc unchanged, so iproute2's get_rate() decides: a
 *   number and an optional case-insensitive unit; a bare number is bits per second; `bps` is BYTES per second.
 *   Returned in bytes per second, truncated as tc truncates.
 */

/** Go's time.ParseDuration units (src/time/format.go unitMap), in nanoseconds. */
const GO_UNIT_NANOS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n], ['us', 1_000n], ['\u00b5s', 1_000n], ['\u03bcs', 1_000n], ['ms', 1_000_000n], ['s', 1_000_000_000n],
  ['m', 60_000_000_000n], ['h', 3_600_000_000_000n],
]);
const GO_MAX = 1n << 63n;

/** Longer texts are refused (Go has no limit; no duration in a Kubernetes object is near this long). */
const MAX_DURATION_TEXT = 4096;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/**
 * Go duration text -> seconds; null when Go's time.ParseDuration (src/time/format.go) refuses it or the duration is
 * negative. Its algorithm, step for step: one optional leading `+` or `-`, then `0` alone is zero ("+0", "-0"); each
 * part is digits with an optional fraction and a unit (ns, us, µs, μs, ms, s, m, h), summed in integer nanoseconds
 * (a fraction below 1 ns is truncated per part: "1.5ns" is 1 ns, "0.1ns" is 0); a sum past 2^63-1 ns is an error; no
 * whitespace anywhere. A `-` duration that comes to 0 ns ("-0ms", "-0.1ns") is zero, not negative.
 */
export function parseGoDuration(text: string): number | null {
  if (text.length > MAX_DURATION_TEXT) return null;
  let i = 0;
  let negative = false;
  if (text[0] === '-' || text[0] === '+') {
    negative = text[0] === '-';
    i = 1;
  }
  if (text.length === i + 1 && text[i] === '0') return 0;
  if (text.length === i) return null;
  let d = 0n;
  while (i < text.length) {
    if (!(text[i] === '.' || isDigit(text[i]))) return null;
    // leadingInt: digits before the point, an error past 2^63.
    let v = 0n;
    const intStart = i;
    for (; isDigit(text[i]); i++) {
      v = v * 10n + BigInt(text.charCodeAt(i) - 48);
      if (v > GO_MAX) return null;
    }
    const pre = i !== intStart;
    // leadingFraction: digits after the point, those past int64's precision ignored.
    let f = 0n;
    let scale = 1;
    let post = false;
    if (text[i] === '.') {
      i++;
      const fracStart = i;
      let overflow = false;
      for (; isDigit(text[i]); i++) {
        if (overflow) continue;
        const y = f * 10n + BigInt(text.charCodeAt(i) - 48);
        if (f > (GO_MAX - 1n) / 10n || y > GO_MAX) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = i !== fracStart;
    }
    if (!pre && !post) return null;
    // The unit: everything up to the next digit or point.
    const unitStart = i;
    while (i < text.length && !(text[i] === '.' || isDigit(text[i]))) i++;
    const unit = GO_UNIT_NANOS.get(text.slice(unitStart, i));
    if (unit === undefined) return null;
    if (v > GO_MAX / unit) return null;
    v *= unit;
    if (f > 0n) {
      // Go: v += uint64(float64(f) * (float64(unit) / scale)), in float64 as here.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > GO_MAX) return null;
    }
    d += v;
    if (d > GO_MAX) return null;
  }
  if (negative) return d === 0n ? 0 : null;
  if (d > GO_MAX - 1n) return null;
  return Number(d) / 1e9;
}

/** tc's netem tick: 64 ns (/proc/net/psched `000003e8 00000040 000f4240`, the same on every kernel with hrtimers). */
const TC_TICKS_PER_US = 1000 / 64;
/** The longest netem time tc 6.1 takes, in µs: its 32-bit tick count (tc_core_time2big) ends at 2^32 ticks of 64 ns. */
export const TC_MAX_NETEM_US = Math.ceil(2 ** 32 / TC_TICKS_PER_US) - 1;
const TC_TIME_UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1], ['s', 1e6], ['sec', 1e6], ['secs', 1e6], ['ms', 1e3], ['msec', 1e3], ['msecs', 1e3], ['us', 1], ['usec', 1], ['usecs', 1],
]);

/**
 * For a text Go's time.ParseDuration accepts (parseGoDuration): the error chaos-daemon's `tc` prints when handed it as
 * a netem latency or jitter, or null when it reads it. chaos-daemon passes the spec's text to tc unchanged
 * (convertNetemToArgs); the tc in its image (debian:bookworm-slim, iproute2 6.1, as on this machine:
 * test/intent/tc-durations.test.ts runs it) reads netem times with get_ticks (tc/q_netem.c):
 * - get_time: one number (strtod) and an optional unit, case-insensitive: s/sec/secs, ms/msec/msecs, us/usec/usecs,
 *   none for µs (`ns` came in a later release): Go's `ns`, `µs`, `m`, `h` and texts of several parts ("1m30s") fail
 *   with `Illegal "latency"`;
 * - into an unsigned int of µs (C's double-to-unsigned conversion: on x86-64 the low 32 bits of the integer part,
 *   which is what is modelled here; arm64 saturates instead), then 15.625 ticks per µs must fit in 32 bits: from
 *   274.877907 s on, `Illegal N time (too large)`, N the µs.
 * strtod's hexadecimal, infinity and NaN forms are not modelled: Go accepts none of them.
 */
export function tcNetemTimeError(text: string): string | null {
  const m = /^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([A-Za-z]*)$/.exec(text);
  const unit = m ? TC_TIME_UNITS.get(m[2]!.toLowerCase()) : undefined;
  if (!m || unit === undefined) return 'Illegal "latency"';
  const us = Number(BigInt.asUintN(32, BigInt(Math.trunc(Math.min(Number(m[1]) * unit, 2 ** 62)))));
  return us > TC_MAX_NETEM_US ? `Illegal ${us} time (too large)` : null;
}

const GO_ZERO_MS = Buffer.from('0ms', 'utf8');

/**
 * chaos-daemon's own check of a netem latency or jitter before it hands it to tc: convertNetemToArgs compares the
 * TEXT with "0ms" as Go compares strings, byte by byte, not as durations (chaos-mesh pkg/chaosdaemon/tc_server.go:426
 * `if netem.Time > "0ms"`, :428 `if netem.Jitter > "0ms"`, at 608b61e; the text is the spec's, passed through
 * unchanged by pkg/netem/convert.go FromDelay). A text that is not greater is left out of `tc qdisc add ... netem`:
 * any text starting with a character below '0' ('.', '+') or with '0' and then a character below 'm' ("0.5s",
 * "0.5ms", "00100ms"). True when chaos-daemon passes `text` on.
 */
export function passesChaosDaemonTimeCheck(text: string): boolean {
  return Buffer.compare(Buffer.from(text, 'utf8'), GO_ZERO_MS) > 0;
}

/**
 * A duration as a text that Go reads as that duration (rounded to 3 decimals), that passes chaos-daemon's comparison
 * with "0ms" and that its tc reads: `500ms`, `250us`, `90s` (tc wants `us`, and no `m` or `h`). Null below 1 µs
 * (tc 6.1 has no `ns`, and "0.5us" fails the comparison) and above tc's longest netem time (tcNetemTimeError): no
 * text gets such a delay through.
 */
export function passingDurationText(seconds: number): string | null {
  if (seconds * 1e6 > TC_MAX_NETEM_US) return null;
  // Rounded up past tc's longest time (274.8775-274.877906 s): rounded down instead.
  if (seconds >= 1) return Number(round(seconds)) * 1e6 > TC_MAX_NETEM_US ? `${Math.floor(seconds * 1000) / 1000}s` : `${round(seconds)}s`;
  if (seconds >= 1e-3) return `${round(seconds * 1e3)}ms`;
  if (seconds >= 1e-6) return `${round(seconds * 1e6)}us`;
  return null;
}

/** strconv.ParseFloat of a percentage (`25`, `0.5`, `1e1`) -> ratio; empty -> 0 (the CRD default "0"); null when invalid. */
export function parsePercent(text: string | undefined | null): number | null {
  if (text === undefined || text === null) return 0;
  const s = text.trim();
  if (s === '') return 0;
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n / 100 : null;
}

/** iproute2 tc/tc_util.c rate suffixes, in bits per second (matched case-insensitively). */
const RATE_SUFFIXES: readonly [string, number][] = [
  ['bit', 1],
  ['kibit', 1024],
  ['kbit', 1000],
  ['mibit', 1024 ** 2],
  ['mbit', 1e6],
  ['gibit', 1024 ** 3],
  ['gbit', 1e9],
  ['tibit', 1024 ** 4],
  ['tbit', 1e12],
  ['bps', 8],
  ['kibps', 8 * 1024],
  ['kbps', 8000],
  ['mibps', 8 * 1024 ** 2],
  ['mbps', 8e6],
  ['gibps', 8 * 1024 ** 3],
  ['gbps', 8e9],
  ['tibps', 8 * 1024 ** 4],
  ['tbps', 8e12],
];

/** tc rate text -> bytes per second (a bare number is bits per second); null when tc would refuse it. */
export function parseTcRate(text: string): number | null {
  const m = /^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  let bits = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  if (unit !== '') {
    const s = RATE_SUFFIXES.find(([name]) => name === unit);
    if (!s) return null;
    bits *= s[1];
  }
  const bytes = Math.trunc(bits / 8);
  return Number.isFinite(bytes) && bytes <= Number.MAX_SAFE_INTEGER ? bytes : null;
}

/** A value for sentences: seconds as ms/µs/s, ratios as %, rates as bytes/s. */
export function formatQuantity(field: string, v: number | null): string {
  if (v === null) return 'none';
  if (field.endsWith('Seconds')) {
    if (v === 0) return '0';
    if (v >= 1) return `${round(v)}s`;
    if (v >= 1e-3) return `${round(v * 1e3)}ms`;
    return `${round(v * 1e6)}µs`;
  }
  if (field.endsWith('BytesPerSecond')) return `${round(v)} B/s`;
  if (field.endsWith('Bytes')) return `${round(v)} B`;
  if (field === 'gap') return String(v);
  return `${round(v * 100)}%`;
}

function round(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}
