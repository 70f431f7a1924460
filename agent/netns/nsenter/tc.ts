/**
 * Pure parsers for tc's JSON output (`tc -s -d -j qdisc show`, `filter show dev X`), for `class show`, and for
 * the concatenated output of one `tc -j -s -d -batch -` process. Never throw: unreadable parts become ParseErrors.
 *
 * ParseError.line for JSON documents: the 1-based position of the object in the top-level array (index + 1);
 * 0 means the document itself (malformed JSON, not an array). For text (`class show` on iproute2 < 6.3 prints
 * text even with -j) it is the 1-based line number.
 *
 * Facts this relies on (iproute2 6.1 as shipped in Debian 12, checked on this machine, and iproute2 sources):
 * - Statistics (-s) are top-level keys of each qdisc object: bytes, packets, drops, overlimits, requeues, backlog,
 *   qlen (newer class JSON nests them under "stats").
 * - tc prints some keys twice in one object: u32 `match` (once per key), tbf `mpu` (rate and peakrate). JSON.parse
 *   would keep only the last, so this module has its own reader: a key printed more than once becomes an array
 *   of all its values, in order, in the raw `options`.
 * - Rates are integers in bytes/s in JSON (tc_print_rate); sizes are bytes, or with -d strings like "32Kb/1"
 *   (sprint_size: b, Kb = 1024, Mb = 1024^2, `/cell` suffix). tbf `lat` is microseconds. netem (q_netem.c
 *   print_opt) prints times in seconds as floats ("delay": {"delay": 0.1, "jitter": 0.01, "correlation": 0.25})
 *   and percentages as ratios 0..1 (PRINT_PERCENT: value / UINT32_MAX), so those need no conversion.
 * - tbf JSON in 6.1 never carries peakrate, and `limit` only with -raw; when absent, limit is derived from
 *   `lat` exactly as tbf_print_opt computed lat (limit = lat * rate + burst), but only when no peakrate/mtu
 *   is present (with a peakrate the derivation would be ambiguous).
 * - `tc -batch` prints one document per command, in order, each followed by a newline; a failing command prints
 *   nothing on stdout and (without -force) stops the batch. `class show` with -j prints text on 6.1 and nothing
 *   at all when a device has no classes.
 */
import { ParseError } from '../../errors.js';
import { MAX_ERROR_TEXT } from './lines.js';
import type { NetemOptions, Qdisc, QdiscStats, TbfOptions, TcClass, TcDump, TcFilter } from '../state.js';

const MAX_DEPTH = 64;

// ---------------------------------------------------------------------------------------------------------------
// JSON reading (duplicate keys kept)

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
type JsonObject = { [k: string]: JsonValue };

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Marks arrays built from repeated keys, so a third repeat appends instead of nesting. */
const DUPLICATE_ARRAYS = new WeakSet<JsonValue[]>();

class JsonReader {
  pos: number;
  constructor(
    private readonly s: string,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  private ws(): void {
    while (this.pos < this.end) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 32 || c === 10 || c === 13 || c === 9) this.pos++;
      else break;
    }
  }

  private fail(msg: string): never {
    throw new JsonSyntaxError(msg, this.pos);
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    this.ws();
    if (this.pos >= this.end) this.fail('unexpected end');
    const c = this.s.charCodeAt(this.pos);
    if (c === 123) return this.object(depth);
    if (c === 91) return this.array(depth);
    if (c === 34) return this.string();
    if (c === 116) return this.literal('true', true);
    if (c === 102) return this.literal('false', false);
    if (c === 110) return this.literal('null', null);
    if (c === 45 || (c >= 48 && c <= 57)) return this.number();
    return this.fail(`unexpected character ${JSON.stringify(this.s[this.pos])}`);
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (this.s.startsWith(word, this.pos) && this.pos + word.length <= this.end) {
      this.pos += word.length;
      return v;
    }
    return this.fail('bad literal');
  }

  private number(): number {
    const start = this.pos;
    const s = this.s;
    if (s.charCodeAt(this.pos) === 45) this.pos++;
    const digits = (): number => {
      const d0 = this.pos;
      while (this.pos < this.end) {
        const c = s.charCodeAt(this.pos);
        if (c >= 48 && c <= 57) this.pos++;
        else break;
      }
      return this.pos - d0;
    };
    if (digits() === 0) this.fail('bad number');
    if (s.charCodeAt(this.pos) === 46) {
      this.pos++;
      if (digits() === 0) this.fail('bad number');
    }
    const e = s.charCodeAt(this.pos);
    if (e === 101 || e === 69) {
      this.pos++;
      const sign = s.charCodeAt(this.pos);
      if (sign === 43 || sign === 45) this.pos++;
      if (digits() === 0) this.fail('bad number');
    }
    return Number(s.slice(start, this.pos));
  }

  private string(): string {
    const s = this.s;
    this.pos++; // opening quote
    let out = '';
    let chunk = this.pos;
    while (this.pos < this.end) {
      const c = s.charCodeAt(this.pos);
      if (c === 34) {
        out += s.slice(chunk, this.pos);
        this.pos++;
        return out;
      }
      if (c === 92) {
        out += s.slice(chunk, this.pos);
        const e = s[this.pos + 1];
        this.pos += 2;
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = s.slice(this.pos, this.pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            this.pos += 4;
            break;
          }
          default:
            this.fail('bad escape');
        }
        chunk = this.pos;
        continue;
      }
      if (c < 32) this.fail('control character in string');
      this.pos++;
    }
    return this.fail('unterminated string');
  }

  private array(depth: number): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.s.charCodeAt(this.pos) === 93) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.pos);
      if (c === 44) {
        this.pos++;
        continue;
      }
      if (c === 93) {
        this.pos++;
        return out;
      }
      this.fail('expected , or ]');
    }
  }

  private object(depth: number): JsonObject {
    this.pos++;
    const out: JsonObject = Object.create(null) as JsonObject;
    this.ws();
    if (this.s.charCodeAt(this.pos) === 125) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 34) this.fail('expected a key');
      const key = this.string();
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 58) this.fail('expected :');
      this.pos++;
      const v = this.value(depth + 1);
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        const prev = out[key]!;
        if (Array.isArray(prev) && DUPLICATE_ARRAYS.has(prev)) {
          prev.push(v);
        } else {
          const arr: JsonValue[] = [prev, v];
          DUPLICATE_ARRAYS.add(arr);
          out[key] = arr;
        }
      } else {
        out[key] = v;
      }
      this.ws();
      const c = this.s.charCodeAt(this.pos);
      if (c === 44) {
        this.pos++;
        continue;
      }
      if (c === 125) {
        this.pos++;
        return out;
      }
      this.fail('expected , or }');
    }
  }

  finish(): void {
    this.ws();
    if (this.pos !== this.end) this.fail('trailing characters');
  }
}

/**
 * Parses a JSON text, keeping repeated object keys as arrays of their values (see the module comment).
 * Returns an error message instead of throwing.
 */
export function parseTcJson(text: string): { value: JsonValue; error: null } | { value: null; error: string } {
  try {
    const r = new JsonReader(text, 0, text.length);
    const value = r.value(0);
    r.finish();
    return { value, error: null };
  } catch (err) {
    if (err instanceof JsonSyntaxError) return { value: null, error: `${err.message} at offset ${err.offset}` };
    if (err instanceof RangeError) return { value: null, error: `JSON too deep: ${err.message}` };
    throw err;
  }
}

/**
 * Offset just past the JSON value (object or array) opening at `start`, found by bracket counting that skips
 * strings; -1 when it never closes. Used to isolate one array element (so one bad object never loses the others)
 * and to split concatenated documents.
 */
export function findJsonEnd(s: string, start: number, end = s.length): number {
  let depth = 0;
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 34) {
      i++;
      while (i < end) {
        const q = s.charCodeAt(i);
        if (q === 92) i += 2;
        else if (q === 34) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
    i++;
  }
  return -1;
}

/** The elements of a top-level JSON array, each parsed on its own. */
function readArrayElements(what: string, json: string): { items: { value: JsonValue; position: number }[]; errors: ParseError[] } {
  const items: { value: JsonValue; position: number }[] = [];
  const errors: ParseError[] = [];
  const s = json;
  let i = 0;
  const n = s.length;
  const skipWs = (): void => {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
  };
  skipWs();
  if (i >= n) return { items, errors }; // tc printed nothing: no objects
  if (s.charCodeAt(i) !== 91) {
    errors.push(new ParseError(what, 0, s.slice(i, i + MAX_ERROR_TEXT), 'not a JSON array'));
    return { items, errors };
  }
  i++;
  let position = 0;
  skipWs();
  if (s.charCodeAt(i) === 93) {
    i++;
    skipWs();
    if (i < n) errors.push(new ParseError(what, 0, s.slice(i, i + MAX_ERROR_TEXT), 'trailing characters after the array'));
    return { items, errors };
  }
  for (;;) {
    skipWs();
    position++;
    const elemStart = i;
    let elemEnd: number;
    const c = s.charCodeAt(i);
    if (c === 123 || c === 91) {
      elemEnd = findJsonEnd(s, i, n);
      if (elemEnd < 0) {
        errors.push(new ParseError(what, position, s.slice(elemStart, elemStart + MAX_ERROR_TEXT), 'object never closes (truncated output?)'));
        return { items, errors };
      }
    } else {
      // A scalar element: up to the next , or ] outside strings.
      let j = i;
      while (j < n && s.charCodeAt(j) !== 44 && s.charCodeAt(j) !== 93) j++;
      elemEnd = j;
    }
    const parsed = (() => {
      try {
        const r = new JsonReader(s, elemStart, elemEnd);
        const v = r.value(0);
        r.finish();
        return { v, err: null as string | null };
      } catch (err) {
        if (err instanceof JsonSyntaxError || err instanceof RangeError) return { v: null, err: err.message };
        throw err;
      }
    })();
    if (parsed.err !== null) {
      errors.push(new ParseError(what, position, s.slice(elemStart, Math.min(elemEnd, elemStart + MAX_ERROR_TEXT)), `malformed JSON: ${parsed.err}`));
    } else {
      items.push({ value: parsed.v, position });
    }
    i = elemEnd;
    skipWs();
    const sep = s.charCodeAt(i);
    if (sep === 44) {
      i++;
      continue;
    }
    if (sep === 93) {
      i++;
      skipWs();
      if (i < n) errors.push(new ParseError(what, 0, s.slice(i, i + MAX_ERROR_TEXT), 'trailing characters after the array'));
      return { items, errors };
    }
    errors.push(new ParseError(what, position, s.slice(i, i + MAX_ERROR_TEXT), i >= n ? 'array never closes (truncated output?)' : 'expected , or ] after an element'));
    return { items, errors };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Units

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

/** First value of a key tc may have printed twice (see module comment). */
function first(v: unknown): unknown {
  return Array.isArray(v) && DUPLICATE_ARRAYS.has(v as JsonValue[]) ? (v as JsonValue[])[0] : v;
}

function num(v: unknown): number | undefined {
  const x = first(v);
  if (typeof x === 'number' && Number.isFinite(x)) return x;
  if (typeof x === 'string' && /^-?\d+(\.\d+)?$/.test(x)) return Number(x);
  return undefined;
}

function str(v: unknown): string | undefined {
  const x = first(v);
  if (typeof x === 'string') return x;
  if (typeof x === 'number') return String(x);
  return undefined;
}

/** Errors in line order (stable: same-line errors keep the order they were found in). */
function byLine(errors: ParseError[]): ParseError[] {
  return errors.sort((a, b) => a.line - b.line);
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A plain (prototype-carrying) copy for the public `options` field; the reader's objects have no prototype. */
function plain(v: JsonValue): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (isObject(v)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) o[k] = plain(v[k]!);
    return o;
  }
  return v;
}

function setIf<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}

// ---------------------------------------------------------------------------------------------------------------
// Qdiscs

const STAT_KEYS = ['bytes', 'packets', 'drops', 'overlimits', 'requeues', 'backlog', 'qlen'] as const;

function readStats(o: JsonObject): QdiscStats | null {
  const src = isObject(o.stats) ? o.stats : o;
  let any = false;
  const st: QdiscStats = { bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 };
  for (const k of STAT_KEYS) {
    const v = k === 'backlog' ? parseTcSize(src[k]) : num(src[k]);
    if (v !== undefined) {
      st[k] = v;
      any = true;
    }
  }
  return any ? st : null;
}

/** netem options object (q_netem.c netem_print_opt, JSON branch) -> base units. */
export function netemFromOptions(o: Record<string, unknown>): NetemOptions {
  const n: NetemOptions = {};
  setIf(n, 'limit', num(o.limit));
  const delay = first(o.delay);
  if (isObject(delay)) {
    // Seconds already; older iproute2 printed strings like "100.0ms".
    setIf(n, 'delaySeconds', parseTcTime(delay.delay, 1));
    setIf(n, 'jitterSeconds', parseTcTime(delay.jitter, 1));
    setIf(n, 'delayCorrelation', num(delay.correlation));
  }
  const lossRandom = first(o['loss-random']);
  if (isObject(lossRandom)) {
    setIf(n, 'loss', num(lossRandom.loss));
    setIf(n, 'lossCorrelation', num(lossRandom.correlation));
  }
  const dup = first(o.duplicate);
  if (isObject(dup)) {
    setIf(n, 'duplicate', num(dup.duplicate));
    setIf(n, 'duplicateCorrelation', num(dup.correlation));
  }
  const reorder = first(o.reorder);
  if (isObject(reorder)) {
    setIf(n, 'reorder', num(reorder.reorder));
    setIf(n, 'reorderCorrelation', num(reorder.correlation));
  }
  const corrupt = first(o.corrupt);
  if (isObject(corrupt)) {
    setIf(n, 'corrupt', num(corrupt.corrupt));
    setIf(n, 'corruptCorrelation', num(corrupt.correlation));
  }
  const rate = first(o.rate);
  if (isObject(rate)) setIf(n, 'rateBytesPerSecond', parseTcRate(rate.rate));
  const gap = num(o.gap);
  if (gap !== undefined && gap > 0) n.gap = gap;
  const ecn = first(o.ecn);
  if (typeof ecn === 'boolean') n.ecn = ecn;
  if (o.slot !== undefined) n.slot = o.slot;
  return n;
}

/** tbf options object (q_tbf.c tbf_print_opt) -> base units. */
export function tbfFromOptions(o: Record<string, unknown>): TbfOptions {
  const t: TbfOptions = {};
  setIf(t, 'rateBytesPerSecond', parseTcRate(o.rate));
  setIf(t, 'burstBytes', parseTcSize(o.burst));
  setIf(t, 'peakrateBytesPerSecond', parseTcRate(o.peakrate));
  // -d prints "mtu":"1600b/1", without -d "minburst":1600; both only when a peakrate is set.
  setIf(t, 'mtuBytes', parseTcSize(o.mtu ?? o.minburst));
  // lat: microseconds as a number (6.1), or a time string.
  setIf(t, 'latencySeconds', parseTcTime(o.lat ?? o.latency, 1e6));
  const limit = parseTcSize(o.limit);
  if (limit !== undefined) {
    t.limitBytes = limit;
  } else if (
    t.latencySeconds !== undefined &&
    t.rateBytesPerSecond !== undefined &&
    t.burstBytes !== undefined &&
    t.peakrateBytesPerSecond === undefined &&
    t.mtuBytes === undefined
  ) {
    // tbf_print_opt: lat = limit / rate - burst / rate  =>  limit = lat * rate + burst (exact to the byte).
    t.limitBytes = Math.round(t.latencySeconds * t.rateBytesPerSecond + t.burstBytes);
  }
  return t;
}

function qdiscFromObject(o: JsonObject, dev: string): Qdisc | string {
  const kind = str(o.kind);
  if (kind === undefined) return 'object has no "kind"';
  const handle = str(o.handle) ?? '';
  const root = first(o.root) === true;
  const rawParent = str(o.parent);
  let parent: string;
  if (root) parent = 'root';
  else if (rawParent === 'ffff:fff1' || kind === 'ingress' || kind === 'clsact') parent = 'ingress';
  else parent = rawParent ?? '';
  const optionsJson = isObject(o.options) ? o.options : (Object.create(null) as JsonObject);
  const options = plain(optionsJson) as Record<string, unknown>;
  const q: Qdisc = {
    interface: str(o.dev) ?? dev,
    kind,
    handle,
    parent,
    root,
    options,
    stats: readStats(o),
  };
  if (kind === 'netem') q.netem = netemFromOptions(optionsJson);
  else if (kind === 'tbf') q.tbf = tbfFromOptions(optionsJson);
  else if (kind === 'prio' || kind === 'pfifo_fast') {
    const bands = num(optionsJson.bands);
    const pm = optionsJson.priomap;
    const priomap = Array.isArray(pm) ? pm.map((x) => num(x)).filter((x): x is number => x !== undefined) : [];
    if (bands !== undefined) q.prio = { bands, priomap };
  } else if (kind === 'htb') {
    const htb: { defaultClass?: string; r2q?: number } = {};
    setIf(htb, 'r2q', num(optionsJson.r2q));
    const def = str(optionsJson.default);
    if (def !== undefined) {
      // tc prints the default minor class id as hex ("0x10" = class 1:10 under handle 1:).
      const minor = def.replace(/^0x/i, '');
      const major = handle.endsWith(':') ? handle.slice(0, -1) : handle.split(':')[0] ?? '';
      htb.defaultClass = `${major}:${minor}`;
    }
    q.htb = htb;
  }
  return q;
}

/**
 * `tc [-s] [-d] -j qdisc show [dev X]` -> qdiscs. `dev` names the interface when tc left "dev" out (it does
 * when the command named one). Malformed JSON -> one ParseError (line 0) and no qdiscs; one bad object -> a
 * ParseError at its position and the others are kept.
 */
export function parseTcQdiscs(json: string, dev = ''): { qdiscs: Qdisc[]; errors: ParseError[] } {
  const what = 'tc qdisc show';
  const { items, errors } = readArrayElements(what, json);
  const qdiscs: Qdisc[] = [];
  for (const { value, position } of items) {
    if (!isObject(value)) {
      errors.push(new ParseError(what, position, JSON.stringify(value).slice(0, MAX_ERROR_TEXT), 'element is not an object'));
      continue;
    }
    const q = qdiscFromObject(value, dev);
    if (typeof q === 'string') errors.push(new ParseError(what, position, JSON.stringify(plain(value)).slice(0, MAX_ERROR_TEXT), q));
    else qdiscs.push(q);
  }
  return { qdiscs, errors: byLine(errors) };
}

// ---------------------------------------------------------------------------------------------------------------
// Classes

const CLASS_KNOWN_KEYS = new Set(['class', 'kind', 'handle', 'dev', 'root', 'parent', 'leaf', 'stats', 'deleted']);

function classFromObject(o: JsonObject, dev: string): TcClass | string {
  const kind = str(o.class) ?? str(o.kind);
  if (kind === undefined) return 'object has no "class"';
  const options: Record<string, unknown> = {};
  const src = isObject(o.options) ? o.options : o;
  for (const k of Object.keys(src)) if (!CLASS_KNOWN_KEYS.has(k) || src !== o) options[k] = plain(src[k]!);
  const c: TcClass = {
    interface: str(o.dev) ?? dev,
    kind,
    handle: str(o.handle) ?? '',
    parent: first(o.root) === true ? 'root' : (str(o.parent) ?? ''),
    options,
    stats: readStats(o),
  };
  setIf(c, 'rateBytesPerSecond', parseTcRate(src.rate));
  setIf(c, 'ceilBytesPerSecond', parseTcRate(src.ceil));
  return c;
}

/** Text `class show` (iproute2 6.1 ignores -j for classes): `class htb 1:10 parent 1:1 leaf 10: prio 0 rate 10Mbit ...`. */
function parseClassText(what: string, text: string, dev: string): { classes: TcClass[]; errors: ParseError[] } {
  const classes: TcClass[] = [];
  const errors: ParseError[] = [];
  const lines = text.split('\n');
  let current: TcClass | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const line = raw.trim();
    if (line.length === 0) continue;
    const words = line.split(/\s+/);
    if (words[0] === 'class') {
      const kind = words[1];
      const handle = words[2];
      if (kind === undefined || handle === undefined) {
        errors.push(new ParseError(what, i + 1, raw.slice(0, MAX_ERROR_TEXT), 'class line without kind and handle'));
        current = null;
        continue;
      }
      let parent = '';
      const options: Record<string, unknown> = {};
      let j = 3;
      if (words[j] === 'root') {
        parent = 'root';
        j++;
      } else if (words[j] === 'parent' && words[j + 1] !== undefined) {
        parent = words[j + 1]!;
        j += 2;
      }
      if (words[j] === 'leaf' && words[j + 1] !== undefined) {
        options.leaf = words[j + 1];
        j += 2;
      }
      for (; j < words.length; j += 2) {
        const k = words[j]!;
        const v = words[j + 1] ?? true;
        const prev = options[k];
        if (prev === undefined) options[k] = v;
        else options[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      current = { interface: dev, kind, handle, parent, options, stats: null };
      const rate = parseTcRate(Array.isArray(options.rate) ? options.rate[0] : options.rate);
      const ceil = parseTcRate(Array.isArray(options.ceil) ? options.ceil[0] : options.ceil);
      setIf(current, 'rateBytesPerSecond', rate);
      setIf(current, 'ceilBytesPerSecond', ceil);
      classes.push(current);
      continue;
    }
    if (current === null) {
      errors.push(new ParseError(what, i + 1, raw.slice(0, MAX_ERROR_TEXT), 'statistics line before any class line'));
      continue;
    }
    // " Sent 426 bytes 5 pkt (dropped 0, overlimits 0 requeues 0)"
    const sent = /^Sent (\d+) bytes (\d+) pkts? \(dropped (\d+), overlimits (\d+) requeues (\d+)\)/.exec(line);
    if (sent !== null) {
      const st = current.stats ?? { bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 };
      st.bytes = Number(sent[1]);
      st.packets = Number(sent[2]);
      st.drops = Number(sent[3]);
      st.overlimits = Number(sent[4]);
      st.requeues = Number(sent[5]);
      current.stats = st;
      continue;
    }
    // " backlog 0b 0p requeues 0"
    const backlog = /^backlog (\S+) (\d+)p requeues (\d+)/.exec(line);
    if (backlog !== null && current.stats !== null) {
      current.stats.backlog = parseTcSize(backlog[1]) ?? 0;
      current.stats.qlen = Number(backlog[2]);
      continue;
    }
    // Qdisc-specific xstats (htb: lended/borrowed/giants, tokens/ctokens): kept raw.
    const xs = (current.options.xstats as string[] | undefined) ?? [];
    xs.push(line);
    current.options.xstats = xs;
  }
  return { classes, errors };
}

/**
 * `tc [-s] [-d] -j class show dev X` -> classes of `dev`. Accepts the JSON newer iproute2 prints and the text
 * 6.1 prints (-j is ignored there); empty output means no classes.
 */
export function parseTcClasses(text: string, dev: string): { classes: TcClass[]; errors: ParseError[] } {
  const what = 'tc class show';
  const t = text.trimStart();
  if (t.length === 0) return { classes: [], errors: [] };
  if (t.charCodeAt(0) !== 91) return parseClassText(what, text, dev);
  const { items, errors } = readArrayElements(what, text);
  const classes: TcClass[] = [];
  for (const { value, position } of items) {
    if (!isObject(value)) {
      errors.push(new ParseError(what, position, JSON.stringify(value).slice(0, MAX_ERROR_TEXT), 'element is not an object'));
      continue;
    }
    const c = classFromObject(value, dev);
    if (typeof c === 'string') errors.push(new ParseError(what, position, JSON.stringify(plain(value)).slice(0, MAX_ERROR_TEXT), c));
    else classes.push(c);
  }
  return { classes, errors: byLine(errors) };
}

// ---------------------------------------------------------------------------------------------------------------
// Filters

/**
 * `tc [-s] [-d] -j filter show dev X [parent P]` -> filters of `dev`. tc prints, per (pref, kind), a header
 * object without "options" and then one object per filter element (u32 also prints its hash-table node,
 * `"fh":"800:"`); header objects are skipped, every object with options is a filter. `flowid` comes from
 * options.flowid (u32, bpf, fw, basic...) or options.classid.
 */
export function parseTcFilters(json: string, dev: string): { filters: TcFilter[]; errors: ParseError[] } {
  const what = 'tc filter show';
  const { items, errors } = readArrayElements(what, json);
  const filters: TcFilter[] = [];
  for (const { value, position } of items) {
    if (!isObject(value)) {
      errors.push(new ParseError(what, position, JSON.stringify(value).slice(0, MAX_ERROR_TEXT), 'element is not an object'));
      continue;
    }
    const kind = str(value.kind);
    if (kind === undefined) {
      errors.push(new ParseError(what, position, JSON.stringify(plain(value)).slice(0, MAX_ERROR_TEXT), 'object has no "kind"'));
      continue;
    }
    if (!isObject(value.options)) continue;
    const o = value.options;
    filters.push({
      interface: str(value.dev) ?? dev,
      kind,
      parent: str(value.parent) ?? '',
      protocol: str(value.protocol) ?? null,
      pref: num(value.pref) ?? null,
      handle: str(o.fh) ?? str(o.handle) ?? null,
      flowid: str(o.flowid) ?? str(o.classid) ?? null,
      options: plain(o) as Record<string, unknown>,
    });
  }
  return { filters, errors: byLine(errors) };
}

// ---------------------------------------------------------------------------------------------------------------
// Batch

export interface TcBatchSegment {
  kind: 'json' | 'text';
  text: string;
  /** 1-based line of the segment's first character in the batch output. */
  line: number;
}

/**
 * Splits the stdout of `tc -j ... -batch -` into its documents: each top-level JSON array (found by bracket
 * counting that skips strings) is one `json` segment; any non-blank text between them (6.1's text `class show`)
 * is one `text` segment. An array that never closes ends the output as a `json` segment (its parse will report it).
 */
export function splitTcBatchOutput(out: string): TcBatchSegment[] {
  const segs: TcBatchSegment[] = [];
  const n = out.length;
  let i = 0;
  let line = 1;
  let textStart = -1;
  let textLine = 1;
  const flushText = (end: number): void => {
    if (textStart >= 0) {
      const t = out.slice(textStart, end);
      if (t.trim().length > 0) segs.push({ kind: 'text', text: t, line: textLine });
      textStart = -1;
    }
  };
  let atLineStart = true;
  while (i < n) {
    const c = out.charCodeAt(i);
    if (c === 91 /* [ */ && atLineStart) {
      flushText(i);
      const end = findJsonEnd(out, i, n);
      const stop = end < 0 ? n : end;
      segs.push({ kind: 'json', text: out.slice(i, stop), line });
      for (let k = i; k < stop; k++) if (out.charCodeAt(k) === 10) line++;
      i = stop;
      atLineStart = false;
      continue;
    }
    if (textStart < 0 && c !== 10 && c !== 32 && c !== 9 && c !== 13) {
      textStart = i;
      textLine = line;
    }
    if (c === 10) {
      line++;
      atLineStart = true;
    } else if (c !== 32 && c !== 9 && c !== 13) {
      atLineStart = false;
    }
    i++;
  }
  flushText(n);
  return segs;
}

export interface TcBatchCommand {
  kind: 'qdisc' | 'class' | 'filter';
  /** The device the command named (`class show dev eth0`); empty for `qdisc show` of every device. */
  dev: string;
}

/** A Linux interface name tc can be asked about in a batch line: 1-15 bytes, no whitespace, `/` or `:`. */
export function isValidInterfaceName(name: string): boolean {
  return name.length > 0 && name.length <= 15 && name !== '.' && name !== '..' && /^[^\s/:"\\]+$/.test(name);
}

/**
 * The batch input for `tc -s -d -j -batch -` that reads `devs`: `qdisc show`, then `class show` + `filter show`
 * per device. Names that are not valid interface names are left out (and returned in `rejected`), so a batch
 * line can never be built from something else.
 */
export function tcBatchCommands(devs: string[]): { commands: TcBatchCommand[]; input: string; rejected: string[] } {
  const commands: TcBatchCommand[] = [{ kind: 'qdisc', dev: '' }];
  const lines = ['qdisc show'];
  const rejected: string[] = [];
  for (const d of devs) {
    if (!isValidInterfaceName(d)) {
      rejected.push(d);
      continue;
    }
    commands.push({ kind: 'class', dev: d }, { kind: 'filter', dev: d });
    lines.push(`class show dev ${d}`, `filter show dev ${d}`);
  }
  return { commands, input: `${lines.join('\n')}\n`, rejected };
}

/**
 * Parses the stdout of one `tc -j -s -d -batch -` run of `commands` (in order) into one TcDump.
 * Documents map to commands in order. A `class` command takes the next segment if it is text (6.1) or, when the
 * output holds one JSON document per command (newer iproute2), the next JSON document; otherwise it printed
 * nothing (no classes). Commands left without a document (tc stopped at a failing command) get a ParseError
 * (line 0) naming them; what was read before is kept. Error lines inside a document are relative to it.
 */
export function parseTcBatch(out: string, commands: TcBatchCommand[]): TcDump {
  const dump: TcDump = { qdiscs: [], classes: [], filters: [], errors: [] };
  const segs = splitTcBatchOutput(out);
  const jsonCount = segs.filter((s) => s.kind === 'json').length;
  const classesAreJson = jsonCount === commands.length && !segs.some((s) => s.kind === 'text');
  let k = 0;
  for (let ci = 0; ci < commands.length; ci++) {
    const cmd = commands[ci]!;
    const label = `${cmd.kind} show${cmd.dev ? ` dev ${cmd.dev}` : ''}`;
    const seg = segs[k];
    if (cmd.kind === 'class') {
      if (seg !== undefined && (seg.kind === 'text' || classesAreJson)) {
        k++;
        const r = parseTcClasses(seg.text, cmd.dev);
        dump.classes.push(...r.classes);
        dump.errors.push(...r.errors);
      }
      continue;
    }
    if (seg === undefined) {
      dump.errors.push(new ParseError('tc batch', 0, label, `no output for command ${ci + 1} (${label}): tc stopped before it or it failed`));
      continue;
    }
    if (seg.kind !== 'json') {
      dump.errors.push(new ParseError('tc batch', seg.line, seg.text.slice(0, MAX_ERROR_TEXT), `expected JSON for command ${ci + 1} (${label})`));
      k++;
      ci--; // retry this command with the next segment
      continue;
    }
    k++;
    if (cmd.kind === 'qdisc') {
      const r = parseTcQdiscs(seg.text, cmd.dev);
      dump.qdiscs.push(...r.qdiscs);
      dump.errors.push(...r.errors);
    } else {
      const r = parseTcFilters(seg.text, cmd.dev);
      dump.filters.push(...r.filters);
      dump.errors.push(...r.errors);
    }
  }
  for (; k < segs.length; k++) {
    const seg = segs[k]!;
    dump.errors.push(new ParseError('tc batch', seg.line, seg.text.slice(0, MAX_ERROR_TEXT), 'output left over after the last command'));
  }
  return dump;
}
