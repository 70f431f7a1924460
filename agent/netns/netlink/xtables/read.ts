/**
 * Legacy iptables of one namespace over getsockopt, the way iptables-legacy-save reads it (libiptc TC_INIT): for each
 * table listed in /proc/net/ip_tables_names (ip6_tables_names), IPT_SO_GET_INFO then IPT_SO_GET_ENTRIES on a raw
 * socket opened inside the namespace (IP6T_* on an IPv6 one). Only listed tables are asked: asking for another one
 * would load and instantiate it. Synchronous, bounded: the entry blob of each table is sized by GET_INFO and a
 * table that would take the family past `maxBytes` is not fetched (the source is then `truncated`); the deadline is
 * checked between tables.
 */
import { DecodeError, NetlinkError } from '../../../errors.js';
import { parseRuleText } from '../../nsenter/iptables.js';
import type { IpFamily, IptablesChain, IptablesDump, IptablesRule, IptablesTable } from '../../model/iptables.js';
import type { SourceName, SourceStatus } from '../../state.js';
import { Errno, SOL_IP, SOL_IPV6 } from '../libc.js';
import type { RawSocket } from '../raw-socket.js';
import type { XtContext } from '../xt/types.js';
import { decodeEntries, decodeGetInfo, GET_ENTRIES_HEADER, GETINFO_SIZE, XT_TABLE_MAXNAMELEN, type TableInfo } from './entries.js';
import { ChainFinder, chainLayout } from './layout.js';
import { renderEntry, verdictName } from './render.js';

/** IPT_SO_GET_INFO / IP6T_SO_GET_INFO and GET_ENTRIES (IPT_BASE_CTL 64). */
export const SO_GET_INFO = 64;
export const SO_GET_ENTRIES = 65;
const ATTEMPTS = 3;

export interface LegacyLimits {
  /** Entry-table bytes fetched at most for this family (all tables together). */
  maxBytes: number;
  /** performance.now() time after which no further table is asked. */
  deadline: number;
}

export interface LegacyRead {
  /** Null when no table is listed (the module is not loaded or nothing ever used it): the backend is omitted. */
  dump: IptablesDump | null;
  source: SourceStatus;
  /** Rules with at least one opaque part (in `auto`, > 0 means: read this namespace through the tools). */
  opaqueRules: number;
  /** Sentences for NetnsState.notes (a table gone between the listing and the read, ...). */
  notes: string[];
}

/** The getsockopt a legacy read needs (RawSocket satisfies it). */
export type LegacySocket = Pick<RawSocket, 'getsockopt'>;

function sourceName(family: IpFamily): SourceName {
  return family === 'ipv4' ? 'iptables-legacy-ipv4' : 'iptables-legacy-ipv6';
}

function nameBuffer(size: number, table: string): Buffer {
  const buf = Buffer.alloc(size);
  buf.write(table, 0, XT_TABLE_MAXNAMELEN - 1, 'utf8');
  return buf;
}

/**
 * GET_INFO then GET_ENTRIES of one table, retried when the table changed in between (EAGAIN). Null: the table is
 * gone; 'over': its entry table is larger than `budget` bytes (not fetched). Throws NetlinkError / DecodeError.
 */
export function fetchTable(raw: LegacySocket, family: IpFamily, table: string, budget: number): { info: TableInfo; infoBytes: Buffer; entries: Buffer } | null | 'over' {
  const level = family === 'ipv4' ? SOL_IP : SOL_IPV6;
  for (let attempt = 1; ; attempt++) {
    const infoBuf = nameBuffer(GETINFO_SIZE, table);
    try {
      raw.getsockopt(`GET_INFO ${table}`, level, SO_GET_INFO, infoBuf);
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === Errno.ENOENT) return null;
      throw err;
    }
    const info = decodeGetInfo(infoBuf);
    if (GET_ENTRIES_HEADER + info.size > budget) return 'over';
    const buf = nameBuffer(GET_ENTRIES_HEADER + info.size, table);
    buf.writeUInt32LE(info.size, XT_TABLE_MAXNAMELEN);
    try {
      raw.getsockopt(`GET_ENTRIES ${table}`, level, SO_GET_ENTRIES, buf);
      return { info, infoBytes: infoBuf, entries: buf.subarray(GET_ENTRIES_HEADER) };
    } catch (err) {
      if (!(err instanceof NetlinkError)) throw err;
      if (err.errno === Errno.ENOENT) return null;
      if (err.errno !== Errno.EAGAIN || attempt >= ATTEMPTS) throw err;
    }
  }
}

/** One table's chains from its GET_INFO and entry table. Pure; throws DecodeError. */
export function decodeTable(name: string, info: TableInfo, entries: Buffer, family: IpFamily, ctx: XtContext): { table: IptablesTable; opaqueRules: number } {
  const chains = chainLayout(decodeEntries(entries, family), { ...info, size: entries.length });
  const finder = new ChainFinder(chains);
  let opaqueRules = 0;
  const out: IptablesChain[] = chains.map((c) => {
    const builtin = c.hooknum !== 0;
    const rules: IptablesRule[] = c.rules.map((e) => {
      const { text, opaque } = renderEntry(e, family, finder, ctx);
      const { rule } = parseRuleText(text);
      rule.counters = { packets: e.packets, bytes: e.bytes };
      if (opaque.length > 0) {
        rule.opaque = opaque;
        opaqueRules++;
      }
      return rule;
    });
    let policy: string | null = null;
    if (builtin) {
      policy = verdictName(c.verdict);
      if (policy === null) throw new DecodeError('ipt_entry', c.footOffset, `chain ${c.name}: policy verdict ${c.verdict} has no name`);
    }
    const counters = builtin ? { packets: c.packets, bytes: c.bytes } : { packets: 0, bytes: 0 };
    return { name: c.name, policy, builtin, counters, rules };
  });
  return { table: { name, chains: out }, opaqueRules };
}

/**
 * Reads every listed table of one family. Never throws for kernel refusals or bad bytes: they end up in `source`
 * (failed with the reason, the tables read before kept). Throws only what the caller must see (programming errors).
 */
export function readLegacy(raw: LegacySocket, family: IpFamily, tableNames: string[], ctx: XtContext, limits: LegacyLimits): LegacyRead {
  const source: SourceStatus = { source: sourceName(family), status: 'complete' };
  const notes: string[] = [];
  if (tableNames.length === 0) return { dump: null, source, opaqueRules: 0, notes };
  const dump: IptablesDump = { backend: 'legacy', family, tables: [], errors: [] };
  let used = 0;
  let opaqueRules = 0;
  for (const name of tableNames) {
    if (performance.now() > limits.deadline) {
      Object.assign(source, { status: 'truncated', reason: 'timeout', message: `deadline passed before table ${name}` });
      break;
    }
    try {
      const fetched = fetchTable(raw, family, name, limits.maxBytes - used);
      if (fetched === null) {
        notes.push(`legacy ${family} table ${name} was listed but is gone`);
        continue;
      }
      if (fetched === 'over') {
        Object.assign(source, { status: 'truncated', reason: 'output_limit', message: `table ${name} does not fit the ${limits.maxBytes}-byte cap` });
        break;
      }
      used += GET_ENTRIES_HEADER + fetched.entries.length;
      const t = decodeTable(name, fetched.info, fetched.entries, family, ctx);
      dump.tables.push(t.table);
      opaqueRules += t.opaqueRules;
    } catch (err) {
      if (err instanceof DecodeError) {
        Object.assign(source, { status: 'failed', reason: 'parse', message: `table ${name}: ${err.message}` });
      } else if (err instanceof NetlinkError) {
        Object.assign(source, { status: 'failed', reason: err.reason, message: `table ${name}: ${err.message}` });
      } else {
        throw err;
      }
      break;
    }
  }
  return { dump, source, opaqueRules, notes };
}
