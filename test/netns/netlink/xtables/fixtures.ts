/** The captured legacy fixtures (test/fixtures/netlink/xtables) and a socket that answers from them. */
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { NetlinkError } from '../../../../agent/errors.js';
import type { IpFamily } from '../../../../agent/netns/model/iptables.js';
import { SO_GET_ENTRIES, SO_GET_INFO, type LegacySocket } from '../../../../agent/netns/netlink/xtables/read.js';

export interface Fixture {
  scenario: string;
  family: IpFamily;
  tables: { name: string; info: string; entries: string }[];
  sets: Record<string, string>;
  save: string;
}

export const DIR = new URL('../../../fixtures/netlink/xtables/', import.meta.url);
export const FIXTURES: [string, Fixture][] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as Fixture]);

export const ctxOf = (f: Fixture) => ({ setName: (i: number) => f.sets[String(i)] ?? null });

/** A socket that answers GET_INFO / GET_ENTRIES from a fixture, as the kernel does (exact size check included). */
export function fixtureSocket(f: Fixture, hooks: { onEntries?: (table: string, attempt: number) => number | null } = {}): LegacySocket & { asked: string[] } {
  const attempts = new Map<string, number>();
  const asked: string[] = [];
  return {
    asked,
    getsockopt(_op, _level, name, buf) {
      const table = buf.toString('utf8', 0, buf.indexOf(0));
      asked.push(`${name === SO_GET_INFO ? 'info' : 'entries'} ${table}`);
      const t = f.tables.find((x) => x.name === table);
      if (t === undefined) throw new NetlinkError('getsockopt', 'vanished', 'ENOENT', { errno: 2 });
      if (name === SO_GET_INFO) {
        Buffer.from(t.info, 'hex').copy(buf);
        return 84;
      }
      expect(name).toBe(SO_GET_ENTRIES);
      const entries = Buffer.from(t.entries, 'hex');
      const n = (attempts.get(table) ?? 0) + 1;
      attempts.set(table, n);
      const errno = hooks.onEntries?.(table, n) ?? null;
      if (errno !== null) throw new NetlinkError('getsockopt', 'spawn', `errno ${errno}`, { errno });
      if (buf.length !== 40 + entries.length || buf.readUInt32LE(32) !== entries.length) throw new NetlinkError('getsockopt', 'spawn', 'EINVAL', { errno: 22 });
      entries.copy(buf, 40);
      return buf.length;
    },
  };
}
