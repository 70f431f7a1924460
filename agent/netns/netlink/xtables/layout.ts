/**
 * The chain layout of an entry table, as libiptc builds it for iptables-save (libiptc/libiptc.c cache_add_entry,
 * __iptcc_p_add_chain, __iptcc_p_del_policy): a hook entry point starts a built-in chain, an ERROR target starts a
 * user chain named by its data, the last entry of every chain is removed from its rules (a built-in chain's policy
 * and counters, a user chain's RETURN), the table's final ERROR entry ends it. Built-in chains keep table order;
 * user chains are kept sorted by name (strcmp), as libiptc inserts them. Pure.
 */
import { DecodeError } from '../../../errors.js';
import { cString } from '../xt/format.js';
import type { Entry, TableInfo } from './entries.js';
import { NF_INET_NUMHOOKS } from './entries.js';

const HOOK_NAMES = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];
export const ERROR_TARGET = 'ERROR';
export const STANDARD_TARGET = '';
/** Data bytes of a standard target (ALIGN(sizeof(struct xt_standard_target)) - 32): int verdict + padding. */
export const STANDARD_TARGET_DATA = 8;

export interface Chain {
  name: string;
  /** Hook number + 1 for a built-in chain, 0 for a user chain (libiptc's hooknum). */
  hooknum: number;
  /** Offset of the chain's first entry (its ERROR head for a user chain) and of its last (policy/RETURN) entry. */
  headOffset: number;
  footOffset: number;
  rules: Entry[];
  /** Verdict of the removed last entry: the policy of a built-in chain. */
  verdict: number;
  packets: number;
  bytes: number;
}

/** The int verdict of a standard target entry. */
export function standardVerdict(e: Entry): number {
  if (e.target.data.length !== STANDARD_TARGET_DATA) {
    throw new DecodeError('xt_standard_target', e.offset, `target size ${e.target.data.length + 32}, libiptc requires 40`);
  }
  return e.target.data.readInt32LE(0);
}

function hookOf(offset: number, info: Pick<TableInfo, 'validHooks' | 'hookEntry'>): number {
  for (let i = 0; i < NF_INET_NUMHOOKS; i++) {
    if (info.validHooks & (1 << i) && info.hookEntry[i] === offset) return i + 1;
  }
  return 0;
}

/** strcmp of the UTF-8 bytes (ASCII names, the usual case, compare as code units without encoding). */
function byteCompare(a: string, b: string): number {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(a) && /^[\x00-\x7f]*$/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Chains in the order iptables-save prints them. */
export function chainLayout(entries: Entry[], info: Pick<TableInfo, 'validHooks' | 'hookEntry' | 'size'>): Chain[] {
  const chains: Chain[] = [];
  let cur: Chain | null = null;

  const closeChain = (): void => {
    if (cur === null) return;
    const last = cur.rules.pop();
    if (last === undefined) throw new DecodeError('ipt_entry', cur.headOffset, `chain ${cur.name} has no closing entry`);
    cur.verdict = last.target.data.length >= 4 ? last.target.data.readInt32LE(0) : 0;
    cur.packets = last.packets;
    cur.bytes = last.bytes;
    cur.footOffset = last.offset;
  };

  const addChain = (c: Chain): void => {
    closeChain();
    const tail = chains[chains.length - 1];
    if (c.hooknum !== 0 || tail === undefined || tail.hooknum !== 0 || byteCompare(c.name, tail.name) > 0) {
      chains.push(c);
    } else {
      const at = chains.findIndex((x) => x.hooknum === 0 && byteCompare(c.name, x.name) <= 0);
      chains.splice(at < 0 ? chains.length : at, 0, c);
    }
    cur = c;
  };

  const newChain = (name: string, hooknum: number, offset: number): Chain => ({
    name, hooknum, headOffset: offset, footOffset: offset, rules: [], verdict: 0, packets: 0, bytes: 0,
  });

  for (const e of entries) {
    if (e.offset + e.nextOffset === info.size) {
      closeChain();
      cur = null;
      continue;
    }
    if (e.target.name === ERROR_TARGET) {
      const name = cString(e.target.data, 0, e.target.data.length);
      if (name === null) throw new DecodeError('xt_error_target', e.offset, 'chain name has no terminating NUL');
      addChain(newChain(name, 0, e.offset));
      continue;
    }
    const hook = hookOf(e.offset, info);
    if (hook !== 0) addChain(newChain(HOOK_NAMES[hook - 1]!, hook, e.offset));
    const c = cur as Chain | null;
    if (c === null) throw new DecodeError('ipt_entry', e.offset, 'a rule outside any chain');
    c.rules.push(e);
  }
  if (cur !== null) throw new DecodeError('ipt_entry', info.size, 'the table has no closing ERROR entry');
  return chains;
}

/** Finds the chain whose entries span an offset (jump verdicts), as iptcc_find_chain_by_offset does. */
export class ChainFinder {
  private readonly byOffset: Chain[];
  constructor(chains: Chain[]) {
    this.byOffset = [...chains].sort((a, b) => a.headOffset - b.headOffset);
  }

  at(offset: number): Chain | null {
    let lo = 0;
    let hi = this.byOffset.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.byOffset[mid]!;
      if (offset < c.headOffset) hi = mid - 1;
      else if (offset > c.footOffset) lo = mid + 1;
      else return c;
    }
    return null;
  }
}
