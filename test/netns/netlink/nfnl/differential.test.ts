import { afterAll, describe, expect, it } from 'vitest';
import type { IpFamily } from '../../../../agent/netns/model/iptables.js';
import { ChaosMeshReplay } from '../../../helpers/chaos-mesh.js';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../../helpers/netns.js';
import { applyIpsetCorpus, applyNativeNft, applyNftForms } from '../../../helpers/nft-corpus.js';
import { scenarios } from '../xtables/corpus.js';
import { comparableSets, comparableTables } from './compare.js';
import { alignCounters, alignTimeouts, dumpOf, readNetlink, readTools } from './read-both.js';

const COMMANDS = ['ip', 'iptables-nft-save', 'ip6tables-nft-save', 'iptables-legacy', 'nft', 'ipset', 'tc'];

/** Reads both ways and asserts the netlink read equals the tools' in every source: IPv4, IPv6, native, ipsets. */
async function expectSameBothWays(ns: TestNetns, families: IpFamily[] = ['ipv4', 'ipv6']): Promise<{ rules: number }> {
  const netlink = readNetlink(ns.path);
  const tools = await readTools(ns);
  expect(netlink.nft.sources.map((s) => s.status)).toEqual(['complete', 'complete', 'complete']);
  expect(netlink.ipset.source).toEqual({ source: 'ipset', status: 'complete' });
  expect(netlink.nft.opaqueRules, tools.text).toBe(0);
  let rules = 0;
  for (const family of families) {
    const mine = dumpOf(netlink.nft, family);
    expect(tools.iptables[family].errors).toEqual([]);
    alignCounters(mine, tools.iptables[family]);
    expect(mine, tools.text).toEqual(tools.iptables[family]);
    rules += mine.tables.flatMap((t) => t.chains.flatMap((c) => c.rules)).length;
  }
  expect(comparableTables(netlink.nft.native)).toEqual(tools.native);
  alignTimeouts(netlink.ipset.ipsets, tools.ipsets);
  expect(comparableSets(netlink.ipset.ipsets)).toEqual(tools.ipsets);
  return { rules };
}

describeIntegration('nftables + ipset over nfnetlink equal the tools on real namespaces', { root: true, commands: COMMANDS }, () => {
  afterAll(destroyAll);

  describe('the legacy reader\'s corpus replayed through iptables-nft', () => {
    for (const s of scenarios('nft')) {
      it(s.name, async () => {
        const ns = await createNetns('nfd');
        try {
          await ns.addPodInterface({ addr: '10.244.1.7/24', addr6: 'fd00:10:244:1::7/64' });
          await s.apply(ns);
          const { rules } = await expectSameBothWays(ns, s.families);
          expect(rules).toBeGreaterThan(0);
        } finally {
          await ns.destroy();
        }
      });
    }
  });

  it('Chaos Mesh bandwidth without a target, then recovery (CHAOS-* chains, no ipsets)', async () => {
    const ns = await createNetns('nfd');
    try {
      await ns.addPodInterface({ addr: '10.244.1.8/24' });
      const cm = new ChaosMeshReplay(ns, 'nft');
      await cm.bandwidth({ rate: 1000000, burst: 10000, limit: 20000 });
      expect((await expectSameBothWays(ns, ['ipv4'])).rules).toBe(2);
      await cm.recover();
      expect((await expectSameBothWays(ns, ['ipv4'])).rules).toBe(2);
    } finally {
      await ns.destroy();
    }
  });

  it('native forms of iptables-nft (v4, v6) and native nft tables of every family', async () => {
    const ns = await createNetns('nfd');
    try {
      // The netdev table hooks eth0: a veth kept down inside the namespace, so no packet moves its counter between
      // the two reads (nft -j has no chain counters to align by, and these rule counters must be equal).
      await ns.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
      await applyNftForms(ns);
      await applyNativeNft(ns);
      expect((await expectSameBothWays(ns)).rules).toBe(30);
    } finally {
      await ns.destroy();
    }
  });

  it('ipsets of every type, option and member form', async () => {
    const ns = await createNetns('nfd');
    try {
      await applyIpsetCorpus(ns);
      await expectSameBothWays(ns);
      const sets = readNetlink(ns.path).ipset.ipsets.sets;
      expect(sets.map((s) => s.type)).toContain('hash:net,iface');
      expect(sets.reduce((n, s) => n + s.members.length, 0)).toBe(28);
    } finally {
      await ns.destroy();
    }
  });

  it('tables iptables-nft only partly owns: a foreign base chain is left out with a note; a native rule is opaque', async () => {
    const ns = await createNetns('nfd');
    try {
      await ns.exec(['iptables-nft', '-A', 'INPUT', '-s', '10.1.2.3', '-j', 'DROP']);
      await ns.exec(['nft', 'add', 'chain', 'ip', 'filter', 'extra', '{ type filter hook input priority 10 ; }']);
      await ns.exec(['nft', 'add', 'rule', 'ip', 'filter', 'extra', 'counter', 'accept']);
      const { stdout } = await ns.exec(['iptables-nft-save']);
      expect(stdout).toContain("# Table `filter' contains incompatible base-chains, use 'nft' tool to list them.");
      const netlink = readNetlink(ns.path);
      const tools = await readTools(ns);
      expect(netlink.nft.iptables[0]).toEqual(tools.iptables.ipv4);
      expect(netlink.nft.notes).toEqual(['ip filter: base chains iptables-nft does not show (not its own hook, priority or type): extra']);

      // A rule iptables-nft cannot read makes iptables-nft-save skip the whole table; the netlink read keeps it, opaque.
      await ns.exec(['nft', 'add', 'rule', 'ip', 'filter', 'INPUT', 'ct', 'state', 'established', 'accept']);
      expect((await ns.exec(['iptables-nft-save'])).stdout).toContain("# Table `filter' is incompatible, use 'nft' tool.");
      const again = readNetlink(ns.path);
      expect((await readTools(ns)).iptables.ipv4.tables).toEqual([]);
      expect(again.nft.opaqueRules).toBe(1);
      const input = again.nft.iptables[0]!.tables[0]!.chains.find((c) => c.name === 'INPUT')!;
      expect(input.rules.map((r) => [r.text, r.opaque])).toEqual([
        ['-s 10.1.2.3/32 -j DROP', undefined],
        ['-j ACCEPT', ['expression ct (not an iptables-nft expression)', 'cmp on a register holding nothing']],
      ]);
    } finally {
      await ns.destroy();
    }
  });

  it('both backends present: the nft read is unaffected and matches iptables-nft-save (which warns)', async () => {
    const ns = await createNetns('nfd');
    try {
      await ns.addPodInterface({ addr: '10.244.1.10/24' });
      await new ChaosMeshReplay(ns, 'nft').partition({ experiment: 'both-backends', direction: 'to', cidrs: ['10.244.9.0/24'] });
      await ns.exec(['iptables-legacy', '-w', '-A', 'INPUT', '-s', '10.9.9.9', '-j', 'DROP']);
      const { stderr } = await ns.exec(['iptables-nft-save', '-c']);
      expect(stderr).toContain('# Warning: iptables-legacy tables present, use iptables-legacy-save to see them');
      expect((await expectSameBothWays(ns, ['ipv4'])).rules).toBe(4);
    } finally {
      await ns.destroy();
    }
  });
});
