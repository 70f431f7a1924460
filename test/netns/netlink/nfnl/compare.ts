/** The parts of the netlink reader's output the tools can show too, for differential comparisons. */
import type { IpsetDump } from '../../../../agent/netns/model/ipset.js';
import type { NftTable } from '../../../../agent/netns/model/nftables.js';

/** What `nft -j` shows too: no expressions, no chain counters, no devices (nft 1.0.6 leaves them out). */
export function comparableTables(tables: NftTable[]): NftTable[] {
  return tables.map((t) => ({ ...t, chains: t.chains.map((c) => ({ ...c, counters: null, devices: [], rules: c.rules.map(({ expressions: _, ...r }) => r) })) }));
}

/** What ipset save shows too (revision, references and opaque are netlink-only). */
export function comparableSets(d: IpsetDump): IpsetDump {
  return { sets: d.sets.map(({ revision: _r, references: _f, opaque: _o, ...s }) => s), errors: d.errors };
}
