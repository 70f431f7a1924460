/**
 * Shared plumbing of the line-oriented parsers (iptables-save, ipset save): a single-pass line walk and a
 * capped ParseError list, so one pathological dump cannot produce unbounded error objects.
 */
import { ParseError } from '../../errors.js';

export const MAX_ERRORS = 100;
export const MAX_ERROR_TEXT = 256;

/**
 * Calls `fn(trimmed, raw, lineNo)` for every line that is neither blank nor a `#` comment. `raw` has its trailing
 * CR removed; `lineNo` is 1-based. Returns the number of the last line.
 */
export function forEachContentLine(text: string, fn: (trimmed: string, raw: string, lineNo: number) => void): number {
  let pos = 0;
  let lineNo = 0;
  const n = text.length;
  while (pos <= n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    let line = text.slice(pos, eol);
    pos = eol + 1;
    lineNo++;
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    const trimmed = line.trim();
    if (trimmed.length > 0 && trimmed.charCodeAt(0) !== 35 /* # */) fn(trimmed, line, lineNo);
    if (eol === n) break;
  }
  return lineNo;
}

/** Appends ParseErrors to `into` up to MAX_ERRORS, then counts the rest and reports them in one final error. */
export class CappedErrors {
  private dropped = 0;
  constructor(
    private readonly what: string,
    private readonly into: ParseError[],
  ) {}

  add(line: number, lineText: string, message: string): void {
    if (this.into.length < MAX_ERRORS) this.into.push(new ParseError(this.what, line, lineText.slice(0, MAX_ERROR_TEXT), message));
    else this.dropped++;
  }

  /** Call once at the end of the input. */
  finish(lastLine: number): void {
    if (this.dropped > 0) this.into.push(new ParseError(this.what, lastLine, '', `${this.dropped} more unreadable lines not listed`));
  }
}
