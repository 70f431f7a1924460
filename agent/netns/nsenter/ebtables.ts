/**
 * Pure parser for ebtables listings, both shapes the tools print (text in, typed dump out, never throws; a line it
 * cannot read becomes a ParseError and the parse goes on):
 * - `ebtables-legacy -t nat -L --Lc` (ebtables 2.0.x list_em()):
 *     Bridge table: nat
 *     Bridge chain: PREROUTING, entries: 1, policy: ACCEPT
 *     -i eth0 -j dnat --to-dst 2:42:ac:11:0:2 --dnat-target ACCEPT, pcnt = 3 -- bcnt = 180
 *   (ebtables-nft -L prints the same with ` , pcnt`; several tables may be concatenated.)
 * - `ebtables-nft-save -c` (iptables 1.8 xtables-save, bridge family):
 *     *nat
 *     :PREROUTING ACCEPT
 *     [3:180] -A PREROUTING -i eth0 -j dnat --to-dst 02:42:ac:11:00:02 --dnat-target ACCEPT
 *   and `ebtables-legacy-save`'s `-A CHAIN ... -c P B` suffix form.
 */
import type { ParseError } from '../../errors.js';
import type { EbtablesBackend, EbtablesChain, EbtablesDump, EbtablesRule, EbtablesTable } from '../state.js';
import { CappedErrors, forEachContentLine } from './lines.js';

const WHAT = 'ebtables';
const BASE_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING', 'BROUTING']);
const FIELDS: Record<string, EbtablesRule['negated'][number]> = {
  '-i': 'inInterface',
  '--in-interface': 'inInterface',
  '--in-if': 'inInterface',
  '-o': 'outInterface',
  '--out-interface': 'outInterface',
  '--out-if': 'outInterface',
  '--logical-in': 'logicalIn',
  '--logical-out': 'logicalOut',
  '-p': 'protocol',
  '--protocol': 'protocol',
};

/** Rule text (after `-A CHAIN `, counters removed) -> structured rule. */
export function parseEbtablesRule(text: string, counters: EbtablesRule['counters']): EbtablesRule {
  const words = text.trim().split(/\s+/).filter((w) => w.length > 0);
  const rule: EbtablesRule = {
    text: words.join(' '),
    counters,
    inInterface: null,
    outInterface: null,
    logicalIn: null,
    logicalOut: null,
    protocol: null,
    negated: [],
    target: null,
    targetOptions: '',
    targetArgs: {},
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-j' || w === '--jump') {
      rule.target = words[i + 1] ?? null;
      const rest = words.slice(i + 2);
      rule.targetOptions = rest.join(' ');
      for (let k = 0; k < rest.length; k++) {
        if (rest[k]!.startsWith('--') && k + 1 < rest.length && !rest[k + 1]!.startsWith('--')) rule.targetArgs[rest[k]!] = rest[++k]!;
      }
      break;
    }
    const field = Object.prototype.hasOwnProperty.call(FIELDS, w) ? FIELDS[w]! : undefined;
    if (field === undefined) continue;
    // `! -i eth0` (nft, newer legacy) or `-i ! eth0` (ebtables 2.0 listing order).
    let negated = i > 0 && words[i - 1] === '!';
    let v = words[i + 1];
    if (v === '!') {
      negated = true;
      v = words[i + 2];
      i++;
    }
    if (v === undefined) continue;
    i++;
    rule[field] = v;
    if (negated) rule.negated.push(field);
  }
  return rule;
}

const LIST_TABLE = /^Bridge table: (\S+)$/;
const LIST_CHAIN = /^Bridge chain: ([^,\s]+), entries: \d+, policy: (\S+)$/;
const LIST_COUNTERS = /\s*, pcnt = (\d+) -- bcnt = (\d+)$/;
const SAVE_COUNTERS = /^\[(\d+):(\d+)\]\s+/;
const SUFFIX_COUNTERS = /\s+-c (\d+) (\d+)$/;

export function parseEbtables(text: string, backend: EbtablesBackend): EbtablesDump {
  const errors: ParseError[] = [];
  const capped = new CappedErrors(WHAT, errors);
  const tables: EbtablesTable[] = [];
  let table: EbtablesTable | null = null;
  let chain: EbtablesChain | null = null;
  const chainOf = (name: string): EbtablesChain | null => {
    if (table === null) return null;
    let c = table.chains.find((x) => x.name === name);
    if (c === undefined) {
      c = { name, policy: BASE_CHAINS.has(name) ? 'ACCEPT' : 'RETURN', builtin: BASE_CHAINS.has(name), rules: [] };
      table.chains.push(c);
    }
    return c;
  };
  const openTable = (name: string): void => {
    table = tables.find((t) => t.name === name) ?? null;
    if (table === null) {
      table = { name, chains: [] };
      tables.push(table);
    }
    chain = null;
  };
  const last = forEachContentLine(text, (line, raw, no) => {
    let m: RegExpExecArray | null;
    if ((m = LIST_TABLE.exec(line)) !== null) return openTable(m[1]!);
    if (line.startsWith('*') && /^\*\S+$/.test(line)) return openTable(line.slice(1));
    if (line === 'COMMIT') return;
    if ((m = LIST_CHAIN.exec(line)) !== null || (m = /^:(\S+) (\S+)$/.exec(line)) !== null) {
      const c = chainOf(m[1]!);
      if (c === null) return capped.add(no, raw, 'chain before any table');
      c.policy = m[2]!;
      chain = c;
      return;
    }
    let body = line;
    let counters: EbtablesRule['counters'] = null;
    if ((m = SAVE_COUNTERS.exec(body)) !== null) {
      counters = { packets: Number(m[1]), bytes: Number(m[2]) };
      body = body.slice(m[0].length);
    }
    let target: EbtablesChain | null = chain;
    if (body.startsWith('-A ')) {
      const sp = body.indexOf(' ', 3);
      const name = sp < 0 ? body.slice(3) : body.slice(3, sp);
      target = chainOf(name);
      body = sp < 0 ? '' : body.slice(sp + 1);
      if ((m = SUFFIX_COUNTERS.exec(body)) !== null) {
        counters = { packets: Number(m[1]), bytes: Number(m[2]) };
        body = body.slice(0, m.index);
      }
    } else if ((m = LIST_COUNTERS.exec(body)) !== null) {
      counters = { packets: Number(m[1]), bytes: Number(m[2]) };
      body = body.slice(0, m.index);
    } else if (counters === null && chain === null) {
      return capped.add(no, raw, 'not a table, chain or rule line');
    }
    if (target === null) return capped.add(no, raw, 'rule outside a chain');
    target.rules.push(parseEbtablesRule(body, counters));
  });
  capped.finish(last);
  return { backend, tables, errors };
}
