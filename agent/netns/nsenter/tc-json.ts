/**
 * tc's JSON, read the way tc writes it: a JSON reader that keeps keys tc prints more than once (u32 `match`, tbf
 * `mpu`) as arrays of all their values (JSON.parse would keep the last), array elements parsed one by one (one bad
 * object never loses the others), and the small typed accessors the tc parsers share. Pure; never throws on input.
 * The reader itself is tc-json-reader.ts.
 */
import { ParseError } from '../../errors.js';
import { MAX_ERROR_TEXT } from './lines.js';
import { DUPLICATE_ARRAYS, JsonReader, JsonSyntaxError, type JsonObject, type JsonValue } from './tc-json-reader.js';

export { INJECTED_TEXT_KEY, type JsonObject, type JsonValue } from './tc-json-reader.js';

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
