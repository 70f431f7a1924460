/** Reads one namespace's legacy iptables both ways: iptables-legacy-save -c parsed, and readLegacy over getsockopt. */
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { SetIndex } from '../../../../agent/netns/netlink/xt/set-index.js';
import { parseTableNames, readLegacy, type LegacyRead } from '../../../../agent/netns/netlink/xtables/read.js';
import type { IpFamily, IptablesDump } from '../../../../agent/netns/model/iptables.js';
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
