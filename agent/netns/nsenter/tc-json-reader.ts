/**
 * The JSON reader under tc-json.ts: one value between two offsets of a text, keys tc prints more than once kept as
 * arrays of all their values (marked in DUPLICATE_ARRAYS), and in lenient mode the raw text tc prints inside an object
 * kept under INJECTED_TEXT_KEY. Throws JsonSyntaxError (or RangeError) at the first fault; tc-json.ts catches them.
 */
const MAX_DEPTH = 64;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Marks arrays built from repeated keys, so a third repeat appends instead of nesting. */
export const DUPLICATE_ARRAYS = new WeakSet<JsonValue[]>();

/** Key under which a lenient reader keeps text found where JSON should be (see tc-json.ts readArrayElements). */
export const INJECTED_TEXT_KEY = 'ematch';

export class JsonReader {
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
