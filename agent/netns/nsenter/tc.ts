/**
 * tc's output as the tools reader gets it: the concatenated documents of one `tc -s -d -raw -j -batch -` process,
 * split and mapped to the commands that produced them, and the batch input itself. The per-document parsers live
 * next to this file (tc-qdisc.ts, tc-class.ts, tc-filter.ts; tc-json.ts reads tc's JSON, tc-units.ts its units)
 * and are re-exported here. Never throw: unreadable parts become ParseErrors.
 *
 * ParseError.line for JSON documents: the 1-based position of the object in the top-level array (index + 1);
 * 0 means the document itself (malformed JSON, not an array). For text (`class show` on iproute2 < 6.3 prints
 * text even with -j) it is the 1-based line number.
 *
 * Facts this relies on (iproute2 6.1 as shipped in Debian 12, checked on this machine, and iproute2 sources):
 * - `tc -batch` prints one document per command, in order, each followed by a newline; a failing command prints
 *   nothing on stdout and (without -force) stops the batch. `class show` with -j prints text on 6.1 and nothing
 *   at all when a device has no classes.
 * - `filter show dev X` alone shows only the root qdisc's filters; the ingress / clsact hooks and classes with their
 *   own filter block need `filter show dev X ingress|egress|parent P` (model/filter-parents.ts lists them), and tc
 *   then leaves the parent out of its output.
 */
import { ParseError } from '../../errors.js';
import type { FilterParent } from '../model/filter-parents.js';
import type { TcDump } from '../state.js';
import { MAX_ERROR_TEXT } from './lines.js';
import { parseTcClasses } from './tc-class.js';
import { parseTcFilters } from './tc-filter.js';
import { findJsonEnd } from './tc-json.js';
import { parseTcQdiscs } from './tc-qdisc.js';

export { parseTcClasses } from './tc-class.js';
export { parseTcFilters } from './tc-filter.js';
export { findJsonEnd, parseTcJson, type JsonValue } from './tc-json.js';
export { netemFromOptions, parseTcQdiscs, sfqFromOptions, tbfFromOptions } from './tc-qdisc.js';
export { parseTcRate, parseTcSize, parseTcTime } from './tc-units.js';

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
  /** Filters: the parent the command named (`ingress`, `egress`, `1:4`); none for the root qdisc's filters. */
  parent?: string;
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
      const r = parseTcFilters(seg.text, cmd.dev, cmd.parent);
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

/**
 * The first of the two batches that read a whole tc tree: per device, `qdisc show dev X` then `class show dev X`.
 * The qdisc documents (JSON) separate the class texts of iproute2 6.1, which would otherwise run together; the
 * second batch (tcFilterCommands) then asks for the filters of every parent those qdiscs and classes have.
 */
export function tcTreeCommands(devs: string[]): { commands: TcBatchCommand[]; input: string; rejected: string[] } {
  const commands: TcBatchCommand[] = [];
  const lines: string[] = [];
  const rejected: string[] = [];
  for (const d of devs) {
    if (!isValidInterfaceName(d)) {
      rejected.push(d);
      continue;
    }
    commands.push({ kind: 'qdisc', dev: d }, { kind: 'class', dev: d });
    lines.push(`qdisc show dev ${d}`, `class show dev ${d}`);
  }
  return { commands, input: lines.length ? `${lines.join('\n')}\n` : '', rejected };
}

/** `1:`, `1:4`, `ffff:fff2`: a handle a batch line may name. */
const HANDLE = /^[0-9a-f]{1,4}:[0-9a-f]{0,4}$/;

/**
 * The batch that reads the filters of every parent (model/filter-parents.ts, from a first batch's qdiscs and
 * classes): `filter show dev X ingress|egress|parent P`. Invalid names or handles are left out (`rejected`).
 */
export function tcFilterCommands(parents: FilterParent[]): { commands: TcBatchCommand[]; input: string; rejected: string[] } {
  const commands: TcBatchCommand[] = [];
  const lines: string[] = [];
  const rejected: string[] = [];
  for (const p of parents) {
    const hook = p.parent === 'ingress' || p.parent === 'egress';
    if (!isValidInterfaceName(p.interface) || (!hook && !HANDLE.test(p.parent))) {
      rejected.push(`${p.interface} ${p.parent}`);
      continue;
    }
    commands.push({ kind: 'filter', dev: p.interface, parent: p.parent });
    lines.push(`filter show dev ${p.interface} ${hook ? p.parent : `parent ${p.parent}`}`);
  }
  return { commands, input: lines.length ? `${lines.join('\n')}\n` : '', rejected };
}
