/**
 * Native nftables: every table that is not one of iptables-nft's, with its chains (kernel order) and rules
 * (kernel order, every expression decoded). Pure.
 */
import { isXtablesTable, type NftChain, type NftExpr, type NftRule, type NftTable } from '../../model/nftables.js';
import type { NftRuleset } from './nft-dump.js';

export function nativeTables(rs: Pick<NftRuleset, 'tables' | 'chains' | 'rules'>): NftTable[] {
  const out: NftTable[] = [];
  const chainsByKey = new Map<string, NftChain>();
  const key = (family: string, table: string, chain = ''): string => `${family}\0${table}\0${chain}`;
  const tables = new Map<string, NftTable>();
  for (const t of rs.tables) {
    if (isXtablesTable(t.family, t.name)) continue;
    const table: NftTable = { family: t.family, name: t.name, handle: t.handle, chains: [] };
    tables.set(key(t.family, t.name), table);
    out.push(table);
  }
  for (const c of rs.chains) {
    const table = tables.get(key(c.family, c.table));
    if (table === undefined) continue;
    const base = c.hooknum !== null;
    const chain: NftChain = {
      name: c.name,
      handle: c.handle,
      type: base ? c.type : null,
      hook: c.hook,
      priority: c.priority,
      policy: base ? (c.policy === 0 ? 'drop' : 'accept') : null,
      devices: c.devices,
      counters: c.counters,
      rules: [],
    };
    table.chains.push(chain);
    chainsByKey.set(key(c.family, c.table, c.name), chain);
  }
  for (const r of rs.rules) {
    const chain = chainsByKey.get(key(r.family, r.table, r.chain));
    if (chain === undefined) continue;
    const rule: NftRule = { handle: r.handle, comment: r.comment, counters: firstCounter(r.expressions), expressions: r.expressions };
    chain.rules.push(rule);
  }
  return out;
}

function firstCounter(exprs: NftExpr[]): NftRule['counters'] {
  for (const e of exprs) if (e.kind === 'counter') return { packets: e.packets, bytes: e.bytes };
  return null;
}
