/**
 * Pure parser for `ipset save` (same format as `ipset list -o save`):
 *   create NAME TYPE [OPTION [VALUE]]...
 *   add NAME ELEMENT [OPTION [VALUE]]...
 * Text in, typed sets out; an unreadable line (unknown command, `add` to a set never created, bad quoting)
 * becomes a ParseError with its 1-based line number and the parse goes on. Never throws.
 */
import { memberFields, setFields } from './ipset-fields.js';
import { CappedErrors, forEachContentLine } from './lines.js';
import type { Ipset, IpsetDump } from '../state.js';

const WHAT = 'ipset save';

/** Creation options that take no value (ipset(8): comment, counters, skbinfo, forceadd; bitmap/list flags). */
const FLAG_OPTIONS = new Set(['comment', 'counters', 'skbinfo', 'forceadd', 'nomatch', 'bucketsize-auto']);

/** Splits on spaces, honouring "double quotes" (ipset quotes comments) with \" escapes. Null when a quote is unterminated. */
function splitWords(s: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9) {
      i++;
      continue;
    }
    let w = '';
    while (i < n && s.charCodeAt(i) !== 32 && s.charCodeAt(i) !== 9) {
      if (s.charCodeAt(i) === 34) {
        i++;
        let closed = false;
        while (i < n) {
          if (s.charCodeAt(i) === 92 && i + 1 < n) {
            w += s[i + 1];
            i += 2;
            continue;
          }
          if (s.charCodeAt(i) === 34) {
            closed = true;
            i++;
            break;
          }
          w += s[i];
          i++;
        }
        if (!closed) return null;
        continue;
      }
      w += s[i];
      i++;
    }
    out.push(w);
  }
  return out;
}

/** `family inet hashsize 1024 comment` -> { family: 'inet', hashsize: '1024', comment: true }. */
export function parseIpsetOptions(words: string[]): Record<string, string | true> {
  const opts: Record<string, string | true> = {};
  for (let i = 0; i < words.length; i++) {
    const k = words[i]!;
    const v = words[i + 1];
    if (FLAG_OPTIONS.has(k) || v === undefined) {
      opts[k] = true;
    } else {
      opts[k] = v;
      i++;
    }
  }
  return opts;
}

export function parseIpsetSave(text: string): IpsetDump {
  const dump: IpsetDump = { sets: [], errors: [] };
  const byName = new Map<string, Ipset>();
  const errors = new CappedErrors(WHAT, dump.errors);
  const fail = (line: number, lineText: string, message: string): void => errors.add(line, lineText, message);

  errors.finish(forEachContentLine(text, readLine));
  return dump;

  function readLine(trimmed: string, raw: string, lineNo: number): void {
    const sp1 = trimmed.indexOf(' ');
    const cmd = sp1 < 0 ? trimmed : trimmed.slice(0, sp1);
    if (cmd !== 'create' && cmd !== 'add' && cmd !== '-N' && cmd !== '-A') {
      fail(lineNo, raw, `unknown command ${cmd.slice(0, 32)}`);
      return;
    }
    const afterCmd = sp1 < 0 ? '' : trimmed.slice(sp1 + 1).trimStart();
    const sp2 = afterCmd.indexOf(' ');
    const name = sp2 < 0 ? afterCmd : afterCmd.slice(0, sp2);
    const rest = sp2 < 0 ? '' : afterCmd.slice(sp2 + 1).trim();
    if (name.length === 0) {
      fail(lineNo, raw, `${cmd} without a set name`);
      return;
    }
    if (cmd === 'create' || cmd === '-N') {
      const words = splitWords(rest);
      if (words === null) {
        fail(lineNo, raw, 'unterminated quote');
        return;
      }
      const type = words[0];
      if (type === undefined) {
        fail(lineNo, raw, `create ${name} without a type`);
        return;
      }
      if (byName.has(name)) {
        fail(lineNo, raw, `set ${name} created twice`);
        return;
      }
      const optionsText = rest.slice(type.length).trim();
      const options = parseIpsetOptions(words.slice(1));
      const set: Ipset = { name, type, optionsText, options, members: [], ...setFields(type, options) };
      byName.set(name, set);
      dump.sets.push(set);
      return;
    }
    // add NAME ELEM [opts]
    const set = byName.get(name);
    if (set === undefined) {
      fail(lineNo, raw, `add to unknown set ${name}`);
      return;
    }
    const sp3 = rest.indexOf(' ');
    const value = sp3 < 0 ? rest : rest.slice(0, sp3);
    if (value.length === 0) {
      fail(lineNo, raw, `add to ${name} without an element`);
      return;
    }
    const options = sp3 < 0 ? '' : rest.slice(sp3 + 1).trim();
    const words = options.length > 0 ? splitWords(options) : [];
    if (words === null) fail(lineNo, raw, 'unterminated quote in member options');
    set.members.push({ value, options, ...memberFields(set.type, value, words ?? []) });
  }
}

/** Members summed over every set (what chaos-daemon exports as chaos_daemon_ipset_members). */
export function ipsetMemberCount(dump: IpsetDump): number {
  let total = 0;
  for (const s of dump.sets) total += s.members.length;
  return total;
}
