/**
 * The flag value parsers of config.ts: durations, sizes, booleans, whole numbers, listen addresses and runtime
 * endpoints. Pure; each throws a UsageError naming the flag (or variable) and the text as given.
 */
import { UsageError } from './errors.js';

export const DEFAULT_PORT = 9766;

const DUR = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
export function parseDuration(flag: string, v: string): number {
  const m = DUR.exec(v.trim());
  if (!m) throw new UsageError(`--${flag}: invalid duration "${v}" (examples: 500ms, 2s, 1m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  // Checked after rounding: "0.4ms" would otherwise become a 0 ms deadline or interval.
  const rounded = Math.round(ms);
  if (!(rounded > 0)) throw new UsageError(`--${flag}: duration must be positive (at least 1ms), got "${v}"`);
  // Every duration ends up in a Node timer, which holds at most 2^31-1 ms and fires after 1 ms past that; 596h
  // leaves 31 minutes for what a deadline adds to it (a read's grace).
  if (rounded > MAX_DURATION_MS) throw new UsageError(`--${flag}: must be at most 596h (Node's timers hold no more), got "${v}"`);
  return rounded;
}

/** 596h: a Node timer holds 2^31-1 ms (596h31m23.647s); longer ones fire after 1 ms (TimeoutOverflowWarning). */
const MAX_DURATION_MS = 596 * 3_600_000;

const BYTES = /^(\d+)(B|KiB|MiB|GiB|K|M|G)?$/i;
export function parseBytes(flag: string, v: string): number {
  const m = BYTES.exec(v.trim());
  if (!m) throw new UsageError(`--${flag}: invalid size "${v}" (examples: 65536, 64KiB, 16MiB)`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const mult = unit.startsWith('g') ? 1 << 30 : unit.startsWith('m') ? 1 << 20 : unit.startsWith('k') ? 1024 : 1;
  const n = Number(m[1]) * mult;
  if (n < 1024) throw new UsageError(`--${flag}: must be at least 1KiB, got "${v}"`);
  return n;
}

export function parseBool(flag: string, v: string): boolean {
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new UsageError(`--${flag}: expected true or false, got "${v}"`);
}

export function parseInt10(flag: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`--${flag}: expected a whole number, got "${v}"`);
  const n = Number(v);
  // The text as typed: Number() of 20 digits is 100000000000000000000.
  if (n < min) throw new UsageError(`--${flag}: must be at least ${min}, got "${v}"`);
  if (n > max) throw new UsageError(`--${flag}: must be at most ${max}, got "${v}"`);
  return n;
}

export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535) throw new UsageError(`--listen: expected HOST:PORT (e.g. 0.0.0.0:${DEFAULT_PORT} or [::]:${DEFAULT_PORT}), got "${v}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/**
 * Normalise and check a runtime endpoint URL; bare absolute paths are accepted as unix:// URLs. `source` names where
 * the value came from in the error: a flag (`--docker-endpoint`) or a variable (`DOCKER_HOST`).
 */
export function normaliseEndpoint(source: string, v: string): string {
  const s = v.trim();
  if (s.startsWith('/')) return `unix://${s}`;
  if (/^unix:\/\/\/[^\0]+$/.test(s)) return s;
  throw new UsageError(`${source}: only unix:// endpoints with an absolute path are supported, got "${v}"`);
}
