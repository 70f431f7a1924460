/**
 * tc's output as the tools reader gets it: the concatenated documents of one `tc -s -d -raw -j -batch -` process,
 * split and mapped to the commands that produced them (tc-commands.ts builds the commands and the batch input:
 * names the batch reader would mangle go to tc processes of their own). The per-document parsers live
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
import type { TcDump } from '../state.js';
import { MAX_ERROR_TEXT } from './lines.js';
import { parseTcClasses } from './tc-class.js';
import { tcCommandLabel, type TcBatchCommand } from './tc-commands.js';
import { parseTcFilters } from './tc-filter.js';
import { findJsonEnd } from './tc-json.js';
import { parseTcQdiscs } from './tc-qdisc.js';

export { parseTcClasses } from './tc-class.js';
export {
  isBatchSafeInterfaceName,
  isValidInterfaceName,
  tcArgv,
  tcBatchCommands,
  tcCommandLabel,
  tcFilterCommands,
  tcTreeCommands,
  TC_BATCH_ARGV,
  type TcBatchCommand,
  type TcCommandPlan,
} from './tc-commands.js';
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

const emptyDump = (): TcDump => ({ qdiscs: [], classes: [], filters: [], errors: [] });

/** The dumps of `parts` one after the other, in order. */
export function concatTcDumps(parts: readonly TcDump[]): TcDump {
  const d = emptyDump();
  for (const p of parts) {
    d.qdiscs.push(...p.qdiscs);
    d.classes.push(...p.classes);
    d.filters.push(...p.filters);
    d.errors.push(...p.errors);
  }
  return d;
}

/**
 * Parses the stdout of one `tc -j -s -d -batch -` run of `commands` (in order): one TcDump per command (`pieces`,
 * what that command printed and the errors about it) and the errors about output left over after the last one.
 * Documents map to commands in order. A `class` command takes the next segment if it is text (6.1) or, when the
 * output holds one JSON document per command (newer iproute2), the next JSON document; otherwise it printed
 * nothing (no classes). Commands left without a document (tc stopped at a failing command) get a ParseError
 * (line 0) naming them; what was read before is kept. Error lines inside a document are relative to it.
 * A tc run of one command (tcArgv) is read the same way, as a batch of that command.
 */
export function parseTcBatchPieces(out: string, commands: readonly TcBatchCommand[]): { pieces: TcDump[]; leftover: ParseError[] } {
  const pieces = commands.map(emptyDump);
  const segs = splitTcBatchOutput(out);
  const jsonCount = segs.filter((s) => s.kind === 'json').length;
  const classesAreJson = jsonCount === commands.length && !segs.some((s) => s.kind === 'text');
  let k = 0;
  for (let ci = 0; ci < commands.length; ci++) {
    const cmd = commands[ci]!;
    const dump = pieces[ci]!;
    const label = tcCommandLabel(cmd);
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
  const leftover: ParseError[] = [];
  for (; k < segs.length; k++) {
    const seg = segs[k]!;
    leftover.push(new ParseError('tc batch', seg.line, seg.text.slice(0, MAX_ERROR_TEXT), 'output left over after the last command'));
  }
  return { pieces, leftover };
}

/** parseTcBatchPieces as one TcDump: the commands' pieces in order, then the leftover errors. */
export function parseTcBatch(out: string, commands: readonly TcBatchCommand[]): TcDump {
  const { pieces, leftover } = parseTcBatchPieces(out, commands);
  const dump = concatTcDumps(pieces);
  dump.errors.push(...leftover);
  return dump;
}
