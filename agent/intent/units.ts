/**
 * The value syntaxes of Chaos Mesh's specs, read into base units exactly as the tools that consume them do.
 * Pure and total: every function returns a value (a number or null for the readers), never throws.
 * - durations (DelaySpec latency/jitter): Go's time.ParseDuration units ns, us/µs, ms, s, m, h (sequences such
 *   as `1m30s` too); chaos-daemon hands them to `tc ... netem delay <latency> <jitter>` unchanged.
 * - percentages (loss, correlation, ...: `webhook:"FloatStr"`): strconv.ParseFloat, then tc's `loss 25.000000`,
 *   i.e. a percent: returned as a ratio 0..1.
 * - rates (BandwidthSpec.rate, RateSpec.rate): handed to tc unchanged, so iproute2's get_rate() decides: a
 *   number and an optional case-insensitive unit; a bare number is bits per second; `bps` is BYTES per second.
 *   Returned in bytes per second, truncated as tc truncates.
 */

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

const DURATION_NANOS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 };

/**
 * Go duration text -> seconds; null when invalid or negative. The sign as Go's time.ParseDuration (src/time/format.go)
 * takes it: one optional leading `+` or `-`, then `0` alone is zero ("+0", "-0"), and a `-` duration that comes to
 * 0 ns in Go's integer nanoseconds (each part's fraction truncated: "-0ms", "-0.1ns") is zero, not negative.
 */
export function parseGoDuration(text: string): number | null {
  let s = text.trim();
  if (s.length > 64) return null;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let total = 0;
  /** Go's whole nanoseconds, only to tell "-0..." (zero) from a negative duration. */
  let nanos = 0;
  let pos = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) return null;
    const value = Number(m[1]);
    total += value * DURATION_UNITS[m[2]!]!;
    nanos += Math.trunc(value * DURATION_NANOS[m[2]!]!);
    pos = DURATION_PART.lastIndex;
  }
  if (!Number.isFinite(total)) return null;
  if (negative) return nanos === 0 ? 0 : null;
  return total;
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

/** A duration as a Go duration text that passes chaos-daemon's check and tc reads: `500ms`, `250us` (no µ: tc wants `us`). */
export function passingDurationText(seconds: number): string {
  if (seconds >= 1) return `${round(seconds)}s`;
  if (seconds >= 1e-3) return `${round(seconds * 1e3)}ms`;
  if (seconds >= 1e-6) return `${round(seconds * 1e6)}us`;
  return `${round(seconds * 1e9)}ns`;
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
