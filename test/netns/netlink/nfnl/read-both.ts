/**
 * Reads one namespace's nftables and ipsets both ways: over nfnetlink (readNftables + readIpset, sockets opened
 * inside, set names resolved through SO_IP_SET as iptables-save does), and through the tools (iptables-nft-save -c,
 * ip6tables-nft-save -c, nft -j list ruleset, ipset save), the netlink read first.
 */
import type { IpFamily, IptablesDump } from '../../../../agent/netns/model/iptables.js';
import type { IpsetDump } from '../../../../agent/netns/model/ipset.js';
import type { NftTable } from '../../../../agent/netns/model/nftables.js';
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { readIpset, type IpsetRead } from '../../../../agent/netns/netlink/nfnl/ipset.js';
import { readNftables, type NftablesRead } from '../../../../agent/netns/netlink/nfnl/read-nftables.js';
import { SetIndex } from '../../../../agent/netns/netlink/xt/set-index.js';
import { parseIpsetSave } from '../../../../agent/netns/nsenter/ipset.js';
import { parseIptablesSave } from '../../../../agent/netns/nsenter/iptables.js';
import { parseNftJson } from '../../../../agent/netns/nsenter/nft-json.js';
import type { TestNetns } from '../../../helpers/netns.js';

export const LIMITS = (maxBytes = 16 << 20): { maxBytes: number; deadline: number } => ({ maxBytes, deadline: performance.now() + 5000 });

export interface NetlinkRead {
  nft: NftablesRead;
  ipset: IpsetRead;
}

export function readNetlink(path: string, maxBytes?: number): NetlinkRead {
  return withNetns(path, null, (inside) => {
    const nl = inside.netfilter();
    const raw = inside.raw('ipv4');
    try {
      const sets = new SetIndex(raw);
      return { nft: readNftables(nl, LIMITS(maxBytes), { setName: (i) => sets.name(i) }), ipset: readIpset(nl, LIMITS(maxBytes)) };
    } finally {
      nl.close();
      raw.close();
    }
  }).value;
}

export interface ToolsRead {
  iptables: Record<IpFamily, IptablesDump>;
  /** Raw outputs, for failure messages. */
  text: string;
  native: NftTable[];
  ipsets: IpsetDump;
}

export async function readTools(ns: Pick<TestNetns, 'exec'>): Promise<ToolsRead> {
  const v4 = await ns.exec(['iptables-nft-save', '-c']);
  const v6 = await ns.exec(['ip6tables-nft-save', '-c']);
  const json = parseNftJson((await ns.exec(['nft', '-j', 'list', 'ruleset'])).stdout);
  if (json.errors.length > 0) throw new Error(`nft -j: ${json.errors.map((e) => e.message).join('; ')}`);
  return {
    iptables: { ipv4: parseIptablesSave(v4.stdout, 'nft', 'ipv4'), ipv6: parseIptablesSave(v6.stdout, 'nft', 'ipv6') },
    text: `${v4.stdout}${v4.stderr}${v6.stdout}${v6.stderr}`,
    native: json.tables,
    ipsets: parseIpsetSave((await ns.exec(['ipset', 'save'])).stdout),
  };
}

/** The netlink dump of a family, or the empty dump the tools parser gives when that family has no table. */
export function dumpOf(read: NftablesRead, family: IpFamily): IptablesDump {
  return read.iptables.find((d) => d.family === family) ?? { backend: 'nft', family, tables: [], errors: [] };
}

/**
 * Counters read later can only be higher (traffic between the reads): checks that, then copies the tools' counters
 * onto the netlink dump so the rest compares exactly.
 */
export function alignCounters(netlink: IptablesDump, tools: IptablesDump): void {
  for (const t of netlink.tables) {
    const tt = tools.tables.find((x) => x.name === t.name);
    for (const c of t.chains) {
      const tc = tt?.chains.find((x) => x.name === c.name);
      if (tc === undefined) continue;
      const lift = (a: { packets: number; bytes: number } | null, b: { packets: number; bytes: number } | null) => {
        if (a === null || b === null || b.packets < a.packets || b.bytes < a.bytes) return a;
        return { ...b };
      };
      c.counters = lift(c.counters, tc.counters);
      c.rules.forEach((r, i) => {
        const tr = tc.rules[i];
        if (tr !== undefined && tr.text === r.text) r.counters = lift(r.counters, tr.counters);
      });
    }
  }
}

/** Member timeouts read later may be lower (seconds pass between the two reads, more on a busy machine): align them
 * when the tools' value is at most 10 s below. */
export function alignTimeouts(netlink: IpsetDump, tools: IpsetDump): void {
  netlink.sets.forEach((s, i) => {
    const ts = tools.sets[i];
    s.members.forEach((m, j) => {
      const tm = ts?.members[j];
      if (tm === undefined || m.timeout == null || tm.timeout == null || tm.value !== m.value) return;
      if (m.timeout - tm.timeout >= 0 && m.timeout - tm.timeout <= 10) {
        m.timeout = tm.timeout;
        m.options = tm.options;
      }
    });
  });
}
