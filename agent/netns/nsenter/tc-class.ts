/**
 * `tc -s -d -raw -j class show dev X` -> classes: the JSON newer iproute2 prints, or the text iproute2 6.1 prints
 * even with -j (`class htb 1:10 parent 1:1 leaf 10: prio 0 rate 10Mbit ceil ...`, statistics lines after it).
 * htb's rate and ceil in bytes/s are the typed fields (the netlink reader fills them from the 64-bit rates);
 * everything else stays in `options`. Never throws.
 */
import { ParseError } from '../../errors.js';
import type { TcClass } from '../state.js';
import { MAX_ERROR_TEXT } from './lines.js';
import { readStats } from './tc-qdisc.js';
import { byLine, first, isObject, plain, readArrayElements, setIf, str, type JsonObject } from './tc-json.js';
import { parseTcRate, parseTcSize } from './tc-units.js';

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
