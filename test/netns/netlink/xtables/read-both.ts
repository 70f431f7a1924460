/** Reads one namespace's legacy iptables both ways: iptables-legacy-save -c parsed, and readLegacy over getsockopt. */
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { SetIndex } from '../../../../agent/netns/netlink/xt/set-index.js';
import { readLegacy, type LegacyRead } from '../../../../agent/netns/netlink/xtables/read.js';
import { parseTableNames } from '../../../../agent/netns/netlink/read-namespace.js';
import type { Counters, IpFamily, IptablesDump } from '../../../../agent/netns/model/iptables.js';
import { parseIptablesSave } from '../../../../agent/netns/nsenter/iptables.js';
import type { TestNetns } from '../../../helpers/netns.js';

export const LIMITS = (): { maxBytes: number; deadline: number } => ({ maxBytes: 16 << 20, deadline: performance.now() + 5000 });

/** The netlink read (sockets opened inside, closed after). */
export function readNetlink(path: string, family: IpFamily, limits = LIMITS()): LegacyRead {
  return withNetns(path, null, (inside) => {
    const raw4 = inside.raw('ipv4');
    const raw = family === 'ipv4' ? raw4 : inside.raw('ipv6');
    try {
      const names = parseTableNames(inside.procNet(family === 'ipv4' ? 'ip_tables_names' : 'ip6_tables_names'));
      const sets = new SetIndex(raw4);
      return readLegacy(raw, family, names, { setName: (i) => sets.name(i) }, limits);
    } finally {
      raw.close();
      raw4.close();
    }
  }).value;
}

export async function readTools(ns: Pick<TestNetns, 'exec'>, family: IpFamily): Promise<{ dump: IptablesDump; text: string }> {
  const { stdout } = await ns.exec([family === 'ipv4' ? 'iptables-legacy-save' : 'ip6tables-legacy-save', '-c']);
  return { dump: parseIptablesSave(stdout, 'legacy', family), text: stdout };
}

export async function readBoth(ns: TestNetns, family: IpFamily): Promise<{ netlink: LegacyRead; tools: IptablesDump; text: string }> {
  const netlink = readNetlink(ns.path, family);
  const { dump, text } = await readTools(ns, family);
  return { netlink, tools: dump, text };
}

const MAX_TRAFFIC_PACKETS = 50;

/**
 * The two reads are equal except for counters, which may only have grown by the traffic between them (the netlink
 * read comes first): same tables, chains, order, policies, rule texts and structured fields.
 */
export function sameDumpModuloTraffic(netlink: IptablesDump | null, tools: IptablesDump): string[] {
  const problems: string[] = [];
  if (netlink === null) return tools.tables.length === 0 ? [] : ['netlink read no tables'];
  const strip = (d: IptablesDump): unknown =>
    JSON.parse(JSON.stringify(d, (k, v: unknown) => (k === 'counters' ? null : v)));
  if (JSON.stringify(strip(netlink)) !== JSON.stringify(strip(tools))) problems.push('dumps differ beyond counters');
  netlink.tables.forEach((t, ti) =>
    t.chains.forEach((c, ci) => {
      const tc = tools.tables[ti]?.chains[ci];
      type Pair = [Counters | null, Counters | null | undefined, string];
      const pairs: Pair[] = [[c.counters, tc?.counters, `${t.name}/${c.name}`], ...c.rules.map((r, ri): Pair => [r.counters, tc?.rules[ri]?.counters, `${t.name}/${c.name}#${ri + 1}`])];
      for (const [a, b, where] of pairs) {
        if (a === null || b === null || b === undefined) continue;
        const dp = b.packets - a.packets;
        if (dp < 0 || b.bytes < a.bytes || dp > MAX_TRAFFIC_PACKETS) problems.push(`${where}: counters ${a.packets}:${a.bytes} then ${b.packets}:${b.bytes}`);
      }
    }),
  );
  return problems;
}
