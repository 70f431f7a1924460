import { statSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { NFPROTO_UNSPEC, encodeNfGen, nfnlType } from '../../../../agent/netns/netlink/nfnl/nfgen.js';
import { ipsetSource, nftablesSource } from '../../../../agent/netns/netlink/nfnl/source-readers.js';
import { readNamespace } from '../../../../agent/netns/netlink/read-namespace.js';
import { NETLINK_SOURCES } from '../../../../agent/netns/netlink/sources.js';
import { createNetnsReader } from '../../../../agent/netns/read.js';
import { ChaosMeshReplay } from '../../../helpers/chaos-mesh.js';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll } from '../../../helpers/netns.js';
import { applyIpsetCorpus, applyNativeNft } from '../../../helpers/nft-corpus.js';
import { comparableSets, comparableTables } from './compare.js';
import { alignTimeouts } from './read-both.js';

describeIntegration('nftables and ipset as sources of the namespace read, netlink vs tools reader', { root: true, commands: ['nsenter', 'ip', 'nft', 'ipset', 'iptables-nft'] }, () => {
  afterAll(destroyAll);

  it('nfnetlink answers EINVAL for a subsystem the kernel does not have (what the readers take as nothing to read)', async () => {
    const ns = await createNetns('nfs');
    const { value: nl } = withNetns(ns.path, null, (inside) => inside.netfilter());
    try {
      // Subsystem 15 is unassigned (uapi nfnetlink.h: NFNL_SUBSYS_COUNT is 13 on this kernel).
      expect(() => nl.request('probe', nfnlType(15, 1), encodeNfGen(NFPROTO_UNSPEC), { maxBytes: 4096, deadline: performance.now() + 1000 }))
        .toThrow(expect.objectContaining({ errno: 22 }));
    } finally {
      nl.close();
    }
  });

  it('fill NetnsState.iptables (nft backend), .nftables and .ipsets the same way, every source complete', async () => {
    expect(NETLINK_SOURCES).toEqual(expect.arrayContaining([nftablesSource, ipsetSource]));
    const ns = await createNetns('nfs');
    // eth0 down inside the namespace: no traffic moves a counter between the two reads.
    await ns.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    const pid = await ns.startHolder();
    await new ChaosMeshReplay(ns, 'nft').partition({ experiment: 'state-level', direction: 'to', cidrs: ['10.244.2.0/24'] });
    await applyNativeNft(ns);
    await applyIpsetCorpus(ns);
    const inode = statSync(ns.path).ino;

    const netlink = readNamespace({ path: ns.path, inode, maxSourceBytes: 2 << 20, budgetMs: 5000 }, [nftablesSource, ipsetSource]);
    const reader = createNetnsReader({
      reader: 'nsenter', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 2 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc',
    });
    try {
      const tools = await reader.read({ path: ns.path, inode, pid });
      const mine = ['iptables-nft-ipv4', 'iptables-nft-ipv6', 'nftables', 'ipset'];
      const status = (s: typeof tools) => s.sources!.filter((x) => mine.includes(x.source)).map((x) => [x.source, x.status]).sort();
      expect(status(netlink)).toEqual([['ipset', 'complete'], ['iptables-nft-ipv4', 'complete'], ['iptables-nft-ipv6', 'complete'], ['nftables', 'complete']]);
      expect(status(tools)).toEqual(status(netlink));
      expect(netlink.iptables.filter((d) => d.backend === 'nft')).toEqual(tools.iptables.filter((d) => d.backend === 'nft'));
      expect(netlink.nftables!.map((t) => `${t.family} ${t.name}`)).toEqual(['inet chaos_native', 'bridge br_native', 'netdev nd_native', 'ip chaos_ip4', 'arp arp_t']);
      expect(comparableTables(netlink.nftables!)).toEqual(tools.nftables);
      alignTimeouts(netlink.ipsets, tools.ipsets);
      expect(comparableSets(netlink.ipsets)).toEqual(tools.ipsets);
      expect(netlink.notes).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});
