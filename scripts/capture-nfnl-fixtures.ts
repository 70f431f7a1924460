/**
 * Captures the nfnetlink fixtures of test/fixtures/netlink/{nft,ipset}/ (run as root on the test machine):
 *   npx tsc -p tsconfig.json && node dist/scripts/capture-nfnl-fixtures.js test/fixtures/netlink
 * For each scenario it builds a throwaway namespace with the real tools, records the kernel's answers to
 * NFT_MSG_GETGEN / GETTABLE / GETCHAIN / GETRULE and IPSET_CMD_PROTOCOL / IPSET_CMD_LIST (one message per line:
 * `<nlmsg type> <nlmsg flags> <payload hex>`), the ipset index -> name map iptables-save would use, and what the tools
 * print for the same state (iptables-nft-save -c, ip6tables-nft-save -c, nft -j list ruleset, ipset save), then
 * deletes the namespace.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withNetns } from '../agent/netns/netlink/enter.js';
import type { NlMessage } from '../agent/netns/netlink/nlmsg.js';
import type { NetlinkSocket } from '../agent/netns/netlink/socket.js';
import { IPSET_CMD_LIST, IPSET_CMD_PROTOCOL } from '../agent/netns/netlink/nfnl/ipset.js';
import { NFNL_SUBSYS_IPSET, NFNL_SUBSYS_NFTABLES, NFPROTO_IPV4, NFPROTO_UNSPEC, encodeAttr, encodeNfGen, nfnlType } from '../agent/netns/netlink/nfnl/nfgen.js';
import { NFT_MSG_GETCHAIN, NFT_MSG_GETGEN, NFT_MSG_GETRULE, NFT_MSG_GETTABLE } from '../agent/netns/netlink/nfnl/nft-gen.js';
import { SetIndex } from '../agent/netns/netlink/xt/set-index.js';
import { ChaosMeshReplay } from '../test/helpers/chaos-mesh.js';
import { createNetns, destroyAll, type TestNetns } from '../test/helpers/netns.js';
import { applyIpsetCorpus, applyNativeNft, applyNftForms } from '../test/helpers/nft-corpus.js';

const limits = () => ({ maxBytes: 1 << 24, deadline: performance.now() + 5000 });

function lines(messages: NlMessage[]): string {
  return messages.map((m) => `${m.type} ${m.flags} ${m.payload.toString('hex')}`).join('\n') + '\n';
}

function nftDumps(sock: NetlinkSocket): Record<string, NlMessage[]> {
  const t = (msg: number) => nfnlType(NFNL_SUBSYS_NFTABLES, msg);
  const all = encodeNfGen(NFPROTO_UNSPEC);
  return {
    gen: sock.request('GETGEN', t(NFT_MSG_GETGEN), all, limits()).messages,
    tables: sock.dump('GETTABLE', t(NFT_MSG_GETTABLE), all, limits()).messages,
    chains: sock.dump('GETCHAIN', t(NFT_MSG_GETCHAIN), all, limits()).messages,
    rules: sock.dump('GETRULE', t(NFT_MSG_GETRULE), all, limits()).messages,
  };
}

function ipsetDumps(sock: NetlinkSocket): Record<string, NlMessage[]> {
  const t = (cmd: number) => nfnlType(NFNL_SUBSYS_IPSET, cmd);
  const proto = encodeNfGen(NFPROTO_IPV4, encodeAttr(1, Buffer.from([7])));
  return {
    protocol: sock.request('PROTOCOL', t(IPSET_CMD_PROTOCOL), proto, limits()).messages,
    list: sock.dump('LIST', t(IPSET_CMD_LIST), proto, limits()).messages,
  };
}

async function capture(dir: string, name: string, ns: TestNetns, what: { nft: boolean; ipset: boolean }): Promise<void> {
  const { value } = withNetns(ns.path, null, (inside) => ({ nl: inside.netfilter(), raw: inside.raw('ipv4') }));
  try {
    if (what.nft) {
      for (const [k, msgs] of Object.entries(nftDumps(value.nl))) writeFileSync(join(dir, 'nft', `${name}.${k}.nlmsg`), lines(msgs));
      const index = new SetIndex(value.raw);
      const names: Record<number, string> = {};
      for (let i = 0; i < 64; i++) {
        const n = index.name(i);
        if (n !== null) names[i] = n;
      }
      writeFileSync(join(dir, 'nft', `${name}.setindex.json`), `${JSON.stringify(names)}\n`);
      writeFileSync(join(dir, 'nft', `${name}.iptables-nft-save.txt`), (await ns.exec(['iptables-nft-save', '-c'])).stdout + '\n');
      writeFileSync(join(dir, 'nft', `${name}.ip6tables-nft-save.txt`), (await ns.exec(['ip6tables-nft-save', '-c'])).stdout + '\n');
      writeFileSync(join(dir, 'nft', `${name}.nft.json`), (await ns.exec(['nft', '-j', 'list', 'ruleset'])).stdout + '\n');
    }
    if (what.ipset) {
      for (const [k, msgs] of Object.entries(ipsetDumps(value.nl))) writeFileSync(join(dir, 'ipset', `${name}.${k}.nlmsg`), lines(msgs));
      writeFileSync(join(dir, 'ipset', `${name}.save.txt`), (await ns.exec(['ipset', 'save'])).stdout + '\n');
    }
  } finally {
    value.nl.close();
    value.raw.close();
  }
}

async function main(): Promise<void> {
  const dir = process.argv[2] ?? 'test/fixtures/netlink';
  mkdirSync(join(dir, 'nft'), { recursive: true });
  mkdirSync(join(dir, 'ipset'), { recursive: true });
  try {
    // Chaos Mesh in the nft backend: partition (ipsets + match-set DROP), TC-TABLES CLASSIFY, HTTPChaos in mangle.
    const chaos = await createNetns('nfx');
    await chaos.addPodInterface({ addr: '10.78.0.2/24' });
    const r = new ChaosMeshReplay(chaos, 'nft');
    await r.partition({ experiment: 'web-partition', direction: 'to', cidrs: ['10.244.2.3', '10.96.0.0/16'], cidrPorts: ['10.244.3.0/24,tcp:8080'] });
    await r.filteredBandwidth({ experiment: 'api-bandwidth', cidrs: ['10.244.5.0/24'], rate: 1000000, burst: 10000, limit: 20000 });
    await r.httpChaos({ port: 80, proxyPort: 58080 });
    await capture(dir, 'chaos-mesh', chaos, { nft: true, ipset: true });
    // The forms iptables-nft translates natively (IPv4 and IPv6) and native tables of every family.
    // Its eth0 is one end of a veth pair kept down inside the namespace: no packet moves a counter between the
    // netlink dump and the tools' read.
    const corpus = await createNetns('nfx');
    await corpus.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    await applyNftForms(corpus);
    await applyNativeNft(corpus);
    await capture(dir, 'corpus', corpus, { nft: true, ipset: false });
    // ipsets of every type with options and member forms.
    const sets = await createNetns('nfx');
    await applyIpsetCorpus(sets);
    await capture(dir, 'corpus', sets, { nft: false, ipset: true });
  } finally {
    await destroyAll();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 1;
});
