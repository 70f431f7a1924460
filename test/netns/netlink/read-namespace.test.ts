/**
 * readNamespace's sockets (read-namespace.ts openHandles, socket.ts NetlinkSocket.shared): links and tc share one
 * NETLINK_ROUTE fd, nftables and ipset one NETLINK_NETFILTER fd. A source cut at its byte cap leaves the rest of its
 * answer queued on that fd; the other source must still be read whole, on a fresh fd of the same namespace. And the
 * nf_tables read asks no chain or rule dump of a namespace without tables (nft-dump.ts).
 */
import { statSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { currentNetnsInode } from '../../../agent/netns/netlink/enter.js';
import { readNamespace, readNamespaceTaped, type NetlinkJob } from '../../../agent/netns/netlink/read-namespace.js';
import { NFNL_SUBSYS_NFTABLES, nfnlType } from '../../../agent/netns/netlink/nfnl/nfgen.js';
import { NFT_MSG_GETCHAIN, NFT_MSG_GETGEN, NFT_MSG_GETRULE, NFT_MSG_GETTABLE } from '../../../agent/netns/netlink/nfnl/nft-gen.js';
import { NETLINK_SOURCES } from '../../../agent/netns/netlink/sources.js';
import { decodeScript } from '../../../agent/netns/netlink/tape.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';

const job = (path: string, maxSourceBytes: number): NetlinkJob => ({ path, inode: statSync(path).ino, maxSourceBytes, budgetMs: 5000 });
const status = (s: ReturnType<typeof readNamespace>, source: string) => s.sources?.find((x) => x.source === source);

describeIntegration('readNamespace sockets shared by two sources', { root: true, commands: ['ip', 'tc', 'ipset', 'nft'] }, () => {
  afterAll(destroyAll);

  it('a source cut at its byte cap costs no other: links cut, tc whole; nftables cut, ipset whole (fresh fds of the same namespace)', async () => {
    const ns = await createNetns('nlshare');
    await ns.addPodInterface({ addr: '10.83.0.2/24' });
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'limit', '32kbit']);
    const rules = Array.from({ length: 60 }, (_, i) => `add rule inet cut out ip daddr 10.${i}.0.1 counter drop`);
    await ns.exec(['nft', '-f', '-'], { input: `add table inet cut\nadd chain inet cut out { type filter hook output priority 0; }\n${rules.join('\n')}\n` });
    await ns.exec(['ipset', 'create', 'share-s', 'hash:ip']);
    await ns.exec(['ipset', 'add', 'share-s', '10.1.2.3']);
    const home = currentNetnsInode();

    const full = readNamespace(job(ns.path, 4 << 20), NETLINK_SOURCES);
    expect(['links', 'tc', 'nftables', 'ipset'].map((s) => status(full, s)?.status)).toEqual(['complete', 'complete', 'complete', 'complete']);
    const qdiscs = (st: typeof full) => st.tc.qdiscs.map((q) => `${q.kind} ${q.handle} ${q.parent}`);
    expect(qdiscs(full)).toEqual(['noqueue 0: root', expect.stringMatching(/^tbf [0-9a-f]+: root$/)]);
    expect(JSON.stringify(full.ipsets)).toContain('10.1.2.3');

    // 1500 bytes: less than the first link message (lo, with its per-family blocks) and than the nf_tables rules,
    // more than the qdiscs and the one set.
    const small = readNamespace(job(ns.path, 1500), NETLINK_SOURCES);
    expect(status(small, 'links')).toMatchObject({ status: 'truncated', reason: 'output_limit' });
    expect(status(small, 'nftables')).toMatchObject({ status: 'truncated', reason: 'output_limit' });
    expect([status(small, 'tc'), status(small, 'ipset')]).toEqual([
      { source: 'tc', status: 'complete' },
      { source: 'ipset', status: 'complete' },
    ]);
    // tc names interfaces from the links it got (here none past the cut: ifN, no class dump for an unknown link).
    expect(qdiscs(small)).toEqual(qdiscs(full));
    expect(small.ipsets).toEqual(full.ipsets);
    expect(currentNetnsInode()).toBe(home);

    // A cut read keeps no tape (its state depends on more than the answers).
    const taped = readNamespaceTaped(job(ns.path, 1500), NETLINK_SOURCES, null);
    expect(taped.unchanged === false && taped.tape).toBeNull();
  });

  it('nf_tables: no table, no chain or rule dump nor second generation asked (on the tape too); with a table, all', async () => {
    const ns = await createNetns('nlshare');
    const nftSteps = (): number[] => {
      const r = readNamespaceTaped(job(ns.path, 4 << 20), NETLINK_SOURCES, null);
      expect(r.unchanged).toBe(false);
      const types = [NFT_MSG_GETGEN, NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETRULE].map((t) => nfnlType(NFNL_SUBSYS_NFTABLES, t));
      return decodeScript(r.unchanged ? new Uint8Array() : r.tape!).steps.flatMap((s) => (s.kind === 'netlink' && types.includes(s.type) ? [types.indexOf(s.type)] : []));
    };
    expect(nftSteps()).toEqual([0, 1]);
    expect(readNamespace(job(ns.path, 4 << 20), NETLINK_SOURCES).nftables).toEqual([]);
    await ns.exec(['nft', 'add table inet t; add chain inet t c; add rule inet t c counter accept']);
    expect(nftSteps()).toEqual([0, 1, 2, 3, 0]);
    expect(JSON.stringify(readNamespace(job(ns.path, 4 << 20), NETLINK_SOURCES).nftables)).toContain('counter');
  });
});
