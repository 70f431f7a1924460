/**
 * tc's printed units back to base units: sizes (sprint_size: `1600b`, `32Kb`, `1.5Mb`, `/cell` suffix) to bytes,
 * rates (`10Mbit`, `100kbps`, or bytes/s numbers in JSON) to bytes/s, times (`50ms`, or numbers in a given unit) to
 * seconds. Pure.
 */
import { first } from './tc-json.js';

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 * 1024, mb: 1024 * 1024, g: 1024 ** 3, gb: 1024 ** 3 };

/** tc size (sprint_size: `1600b`, `32Kb`, `1.5Mb`, optionally `/cell`) or a plain number -> bytes. */
export function parseTcSize(v: unknown): number | undefined {
  const x = first(v);
  if (typeof x === 'number') return Number.isFinite(x) ? x : undefined;
  if (typeof x !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)(?:\/\d+)?$/.exec(x.trim());
  if (m === null) return undefined;
  const unit = m[2]!.toLowerCase();
  const mult = unit === '' ? 1 : SIZE_UNITS[unit];
  if (mult === undefined) return undefined;
  return Math.round(Number(m[1]) * mult);
}

const RATE_PREFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, ti: 1024 ** 4 };

/** tc rate -> bytes/s. Numbers are already bytes/s (JSON); strings like `10Mbit`, `1.5Kibit` (bits), `100kbps` (bytes). */
export function parseTcRate(v: unknown): number | undefined {
  const x = first(v);
  if (typeof x === 'number') return Number.isFinite(x) ? x : undefined;
  if (typeof x !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)([kmgtKMGT]i?)?(bit|bps)$/.exec(x.trim());
  if (m === null) return undefined;
  const mult = RATE_PREFIX[(m[2] ?? '').toLowerCase()];
  if (mult === undefined) return undefined;
  const n = Number(m[1]) * mult;
  return m[3] === 'bit' ? n / 8 : n;
}

/** Divisors from a tc time unit to seconds (dividing keeps 50000 us == 0.05 s exact, multiplying by 1e-6 does not). */
const TIME_DIVISORS: Record<string, number> = { s: 1, sec: 1, secs: 1, ms: 1e3, msec: 1e3, msecs: 1e3, us: 1e6, usec: 1e6, usecs: 1e6, ns: 1e9, nsec: 1e9, nsecs: 1e9 };

/** tc time string (`50ms`, `1.5s`, `100us`) -> seconds; a bare number is in units of 1/`numberDivisor` s (1e6: usec). */
export function parseTcTime(v: unknown, numberDivisor: number): number | undefined {
  const x = first(v);
  if (typeof x === 'number') return Number.isFinite(x) ? x / numberDivisor : undefined;
  if (typeof x !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(x.trim());
  if (m === null) return undefined;
  const div = m[2] === '' ? numberDivisor : TIME_DIVISORS[m[2]!];
  return div === undefined ? undefined : Number(m[1]) / div;
}
