/**
 * `tc -s -d -raw -j filter show dev X [parent P | ingress | egress]` -> filters with the model's typed parts,
 * filled as the netlink decoders fill them (agent/netns/netlink/tc/filter.ts):
 * - tc prints, per (pref, protocol), a header object without "options" and then one object per filter element (u32
 *   also prints its hash-table node, `"fh":"800:"`); header objects are skipped, every object with options is a
 *   filter;
 * - the parent is left out when the command named it (and `dev` likewise): the caller passes both; clsact hooks
 *   print as `"ingress": true` / `"egress": true`;
 * - handles: u32 `fh` (with -raw tc appends `[80000800]`, dropped here), bpf `0x1`, basic `1`; flowid from
 *   `flowid` (or `classid`);
 * - u32: `match` objects (printed once per key: all kept), `ht_divisor`, `key_ht` / `bkt`, `link`, `input_dev`,
 *   `fwmark_value` / `fwmark_mask`; bpf: `bpf_name`, `direct-action`, `prog.id`, the tag, `bytecode.length`;
 * - basic: tc writes the ematch tree as plain text inside the JSON object (m_ematch.c uses fprintf even with -j): the
 *   lenient reader keeps it under `ematch` and tc-ematch.ts reads it.
 * Never throws.
 */
import { ParseError } from '../../errors.js';
import type { TcFilter, U32Key } from '../state.js';
import { MAX_ERROR_TEXT } from './lines.js';
import { parseEmatchText } from './tc-ematch.js';
import { INJECTED_TEXT_KEY, allValues, byLine, first, isObject, num, plain, readArrayElements, str, type JsonObject } from './tc-json.js';

const RAW_SUFFIX = /\[[0-9a-f]{8}\]$/;

function u32Part(o: JsonObject): NonNullable<TcFilter['u32']> {
  const keys: U32Key[] = [];
  for (const m of allValues(o.match)) {
    if (!isObject(m)) continue;
    const value = str(m.value);
    const mask = str(m.mask);
    keys.push({
      value: value === undefined ? 0 : parseInt(value, 16),
      mask: mask === undefined ? 0 : parseInt(mask, 16),
      offset: num(m.off) ?? 0,
      nexthdr: str(m.offmask) === 'nexthdr+',
    });
  }
  const u: NonNullable<TcFilter['u32']> = { keys };
  const divisor = num(o.ht_divisor);
  if (divisor !== undefined) u.divisor = divisor;
  else {
    const ht = str(o.key_ht);
    const bkt = str(o.bkt);
    if (ht !== undefined) u.hashTable = ht;
    if (bkt !== undefined) u.bucket = bkt;
  }
  const link = str(o.link);
  if (link !== undefined) u.link = link.replace(RAW_SUFFIX, '');
  const dev = str(o.input_dev);
  if (dev !== undefined) u.inputDevice = dev;
  const mv = str(o.fwmark_value);
  if (mv !== undefined) u.mark = { value: Number(mv), mask: Number(str(o.fwmark_mask) ?? '0') };
  return u;
}

function bpfPart(o: JsonObject): NonNullable<TcFilter['bpf']> {
  const prog = first(o.prog);
  const bytecode = first(o.bytecode);
  return {
    name: str(o.bpf_name) ?? null,
    directAction: first(o['direct-action']) === true,
    id: isObject(prog) ? (num(prog.id) ?? null) : null,
    tag: (isObject(prog) ? str(prog.tag) : undefined) ?? str(o.tag) ?? null,
    bytecodeLength: isObject(bytecode) ? (num(bytecode.length) ?? null) : null,
  };
}

function filterFromObject(value: JsonObject, dev: string, parent: string | undefined): TcFilter | null {
  const kind = str(value.kind)!;
  if (!isObject(value.options)) return null;
  const o = value.options;
  let p = str(value.parent);
  if (p === undefined) {
    if (first(value.ingress) === true) p = 'ingress';
    else if (first(value.egress) === true) p = 'egress';
    else if (first(value.root) === true) p = 'root';
    else p = parent ?? '';
  }
  const chain = num(value.chain);
  const f: TcFilter = {
    interface: str(value.dev) ?? dev,
    kind,
    parent: p,
    protocol: str(value.protocol) ?? null,
    pref: num(value.pref) ?? null,
    handle: (str(o.fh) ?? str(o.handle))?.replace(RAW_SUFFIX, '') ?? null,
    flowid: str(o.flowid) ?? str(o.classid) ?? null,
    options: plain(o) as Record<string, unknown>,
    chain: chain ?? null,
    matchSets: [],
    actions: allValues(o.actions).flatMap((a) => (Array.isArray(a) ? a : [a])).flatMap((a) => (isObject(a) && str(a.kind) !== undefined ? [str(a.kind)!] : [])),
  };
  if (kind === 'u32') f.u32 = u32Part(o);
  else if (kind === 'bpf') f.bpf = bpfPart(o);
  else if (kind === 'basic') {
    const text = str(o[INJECTED_TEXT_KEY]);
    const parsed = text === undefined ? null : parseEmatchText(text);
    f.basic = { ematches: parsed?.ematches ?? [], ematchText: parsed === null || parsed.text === '' ? null : parsed.text };
    f.matchSets = parsed?.sets ?? [];
  }
  return f;
}

/** Filters of one `filter show` document; `dev` and `parent` are what the command named (tc then omits them). */
export function parseTcFilters(json: string, dev: string, parent?: string): { filters: TcFilter[]; errors: ParseError[] } {
  const what = 'tc filter show';
  const { items, errors } = readArrayElements(what, json, true);
  const filters: TcFilter[] = [];
  for (const { value, position } of items) {
    if (!isObject(value)) {
      errors.push(new ParseError(what, position, JSON.stringify(value).slice(0, MAX_ERROR_TEXT), 'element is not an object'));
      continue;
    }
    if (str(value.kind) === undefined) {
      errors.push(new ParseError(what, position, JSON.stringify(plain(value)).slice(0, MAX_ERROR_TEXT), 'object has no "kind"'));
      continue;
    }
    const f = filterFromObject(value, dev, parent);
    if (f !== null) filters.push(f);
  }
  return { filters, errors: byLine(errors) };
}
