/**
 * tc's JSON, read the way tc writes it: a JSON reader that keeps keys tc prints more than once (u32 `match`, tbf
 * `mpu`) as arrays of all their values (JSON.parse would keep the last), array elements parsed one by one (one bad
 * object never loses the others), and the small typed accessors the tc parsers share. Pure; never throws on input.
 */
import { ParseError } from '../../errors.js';
import { MAX_ERROR_TEXT } from './lines.js';

const MAX_DEPTH = 64;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

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

/** Key under which a lenient reader keeps text found where JSON should be (see readArrayElements). */
export const INJECTED_TEXT_KEY = 'ematch';

class JsonReader {
  pos: number;
  constructor(
    private readonly s: string,
    start: number,
    private readonly end: number,
    private readonly lenient = false,
  ) {
    this.pos = start;
  }

  /**
   * Lenient mode: raw text where a key or a `,`/`}` is expected (tc prints a basic filter's ematch tree as plain
   * text inside the JSON object: m_ematch.c writes with fprintf). It runs to the next `}` or `,"` outside double
   * quotes, and is kept, whitespace collapsed, under INJECTED_TEXT_KEY.
   */
  private injected(out: JsonObject): void {
    const start = this.pos;
    let quoted = false;
    while (this.pos < this.end) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 34) quoted = !quoted;
      else if (!quoted && c === 125) break;
      else if (!quoted && c === 44 && /^,\s*"/.test(this.s.slice(this.pos, this.pos + 8))) break;
      this.pos++;
    }
    const text = this.s.slice(start, this.pos).replace(/\s+/g, ' ').trim();
    const prev = out[INJECTED_TEXT_KEY];
    out[INJECTED_TEXT_KEY] = typeof prev === 'string' ? `${prev} ${text}` : text;
  }

  /** After a member (or at the start of an object): true when the object goes on with another member. */
  private more(out: JsonObject): boolean {
    this.ws();
    let c = this.s.charCodeAt(this.pos);
    if (this.lenient && c !== 44 && c !== 125 && c !== 34) {
      this.injected(out);
      c = this.s.charCodeAt(this.pos);
    }
    if (c === 44) {
      this.pos++;
      return true;
    }
    if (c === 125) {
      this.pos++;
      return false;
    }
    return this.fail('expected , or }');
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
      if (this.lenient && this.s.charCodeAt(this.pos) !== 34) {
        if (this.more(out)) continue;
        return out;
      }
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
      if (!this.more(out)) return out;
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
export function readArrayElements(what: string, json: string, lenient = false): { items: { value: JsonValue; position: number }[]; errors: ParseError[] } {
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
        const r = new JsonReader(s, elemStart, elemEnd, lenient);
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

/** First value of a key tc may have printed twice (see module comment). */
export function first(v: unknown): unknown {
  return Array.isArray(v) && DUPLICATE_ARRAYS.has(v as JsonValue[]) ? (v as JsonValue[])[0] : v;
}

export function num(v: unknown): number | undefined {
  const x = first(v);
  if (typeof x === 'number' && Number.isFinite(x)) return x;
  if (typeof x === 'string' && /^-?\d+(\.\d+)?$/.test(x)) return Number(x);
  return undefined;
}

export function str(v: unknown): string | undefined {
  const x = first(v);
  if (typeof x === 'string') return x;
  if (typeof x === 'number') return String(x);
  return undefined;
}

/** Errors in line order (stable: same-line errors keep the order they were found in). */
export function byLine(errors: ParseError[]): ParseError[] {
  return errors.sort((a, b) => a.line - b.line);
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A plain (prototype-carrying) copy for the public `options` field; the reader's objects have no prototype. */
export function plain(v: JsonValue): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (isObject(v)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) o[k] = plain(v[k]!);
    return o;
  }
  return v;
}

export function setIf<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}


/** Every value of a key tc may have printed several times (an array built from repeats), or the one value. */
export function allValues(v: unknown): unknown[] {
  if (v === undefined) return [];
  return Array.isArray(v) && DUPLICATE_ARRAYS.has(v as JsonValue[]) ? (v as JsonValue[]) : [v];
}
