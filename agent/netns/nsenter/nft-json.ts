/**
 * Pure parser for `nft -j list ruleset` (nftables 1.0.x JSON, libnftables-json(5)) into the native nftables model,
 * at the level both readers express identically: tables (family, name, handle), chains (name, handle, type, hook,
 * priority, policy), rules (handle, comment, the first counter expression's packets and bytes). What only the
 * netlink reader has: decoded expressions, base chain counters (nft does not print them) and chain devices (nft
 * 1.0.6 leaves `dev` out of its JSON; it is read when present). Sets, maps, flowtables and objects are not part of
 * the model. iptables-nft's own tables (ip / ip6 filter, nat, mangle, raw, security) are left out: the iptables
 * reader shows them. Never throws: unreadable input or objects become ParseErrors (line 1: JSON has no lines).
 */
import { ParseError } from '../../errors.js';
import { isXtablesTable, type NftChain, type NftFamily, type NftRule, type NftTable } from '../model/nftables.js';

const WHAT = 'nft -j list ruleset';
const FAMILIES = new Set<NftFamily>(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const MAX_ERRORS = 100;

export interface NftJsonDump {
  tables: NftTable[];
  errors: ParseError[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, k: string): string | null => (typeof o[k] === 'string' ? (o[k] as string) : null);
const int = (o: Obj, k: string): number | null => (typeof o[k] === 'number' && Number.isInteger(o[k]) ? (o[k] as number) : null);

export function parseNftJson(text: string): NftJsonDump {
  const out: NftJsonDump = { tables: [], errors: [] };
  const fail = (message: string): void => {
    if (out.errors.length < MAX_ERRORS) out.errors.push(new ParseError(WHAT, 1, '', message));
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail(`not JSON: ${(err as Error).message}`);
    return out;
  }
  if (!isObj(doc) || !Array.isArray(doc.nftables)) {
    fail('no "nftables" array');
    return out;
  }
  const tables = new Map<string, NftTable>();
  const chains = new Map<string, NftChain>();
  const key = (family: string, table: string, chain = ''): string => `${family}\0${table}\0${chain}`;
  for (const item of doc.nftables as unknown[]) {
    if (!isObj(item)) {
      fail('an element of "nftables" is not an object');
      continue;
    }
    const kind = Object.keys(item)[0];
    const o = kind === undefined ? undefined : item[kind];
    if (!isObj(o)) continue;
    const family = str(o, 'family') as NftFamily | null;
    if (kind === 'metainfo' || !['table', 'chain', 'rule'].includes(kind!)) continue;
    if (family === null || !FAMILIES.has(family)) {
      fail(`${kind} with unknown family ${String(o.family)}`);
      continue;
    }
    if (kind === 'table') {
      const name = str(o, 'name');
      const handle = int(o, 'handle');
      if (name === null || handle === null) {
        fail('table without name or handle');
        continue;
      }
      if (isXtablesTable(family, name)) continue;
      const t: NftTable = { family, name, handle, chains: [] };
      tables.set(key(family, name), t);
      out.tables.push(t);
    } else if (kind === 'chain') {
      const table = tables.get(key(family, str(o, 'table') ?? ''));
      if (table === undefined) continue;
      const c = chainOf(o);
      if (c === null) {
        fail(`chain without name or handle in table ${table.name}`);
        continue;
      }
      table.chains.push(c);
      chains.set(key(family, table.name, c.name), c);
    } else {
      const chain = chains.get(key(family, str(o, 'table') ?? '', str(o, 'chain') ?? ''));
      if (chain === undefined) continue;
      const handle = int(o, 'handle');
      if (handle === null) {
        fail(`rule without handle in chain ${chain.name}`);
        continue;
      }
      chain.rules.push({ handle, comment: str(o, 'comment'), counters: firstCounter(o.expr) });
    }
  }
  return out;
}

function chainOf(o: Obj): NftChain | null {
  const name = str(o, 'name');
  const handle = int(o, 'handle');
  if (name === null || handle === null) return null;
  const hook = str(o, 'hook');
  const policy = str(o, 'policy');
  const dev = o.dev;
  const devices = typeof dev === 'string' ? [dev] : Array.isArray(dev) ? dev.filter((d): d is string => typeof d === 'string') : [];
  return {
    name,
    handle,
    type: hook === null ? null : str(o, 'type'),
    hook,
    priority: hook === null ? null : int(o, 'prio'),
    policy: hook === null ? null : policy === 'drop' ? 'drop' : 'accept',
    devices: devices.sort(),
    counters: null,
    rules: [],
  };
}

/** The first `{"counter": {"packets", "bytes"}}` of a rule's expressions (a named counter reference is not one). */
function firstCounter(expr: unknown): NftRule['counters'] {
  if (!Array.isArray(expr)) return null;
  for (const e of expr) {
    if (!isObj(e) || !isObj(e.counter)) continue;
    const packets = int(e.counter, 'packets');
    const bytes = int(e.counter, 'bytes');
    if (packets !== null && bytes !== null) return { packets, bytes };
  }
  return null;
}
