/**
 * Two NetworkChaos of the same name in different namespaces reaching one pod: Chaos Mesh names their chains and
 * ipsets after the name alone (controllers/podnetworkchaos/netutils/len.go CompressName, called with
 * networkchaos.Name), so the pod's PodNetworkChaos holds two entries of each name, and chaos-daemon applies both onto
 * one chain and one set: the last one wins. The other entry's mismatch says which experiment it collides with.
 * Literal kernel state (iptables-save / ipset save text through the production parsers) against intent normalised
 * from Chaos Mesh-shaped objects.
 */
import { describe, expect, it } from 'vitest';
import { kernelArtefacts, type QdiscArtefact } from '../../agent/intent/artefacts.js';
import { matchIptables } from '../../agent/intent/match-iptables.js';
import { matchTc } from '../../agent/intent/match-tc.js';
import { collidingSources } from '../../agent/intent/name-collision.js';
import { normalisePodNetworkChaos } from '../../agent/intent/normalise.js';
import { chainName, ipsetName } from '../helpers/chaos-mesh.js';
import { partitionEntries, podNetworkChaos } from '../helpers/chaos-mesh-crds.js';
import { ipsets, iptables, state, tbf } from '../chaos/builders.js';
import { FILTER_HEAD } from '../chaos/samples.js';

const EXP = 'web-partition';
const CHAIN = chainName('OUTPUT', EXP);
const NET = ipsetName(EXP, 'net_tgt');
const NETPORT = ipsetName(EXP, 'netport_tgt');
const SET = ipsetName(EXP, 'set_tgt');
const TAIL = "Chaos Mesh names chains and ipsets after the experiment's name, not its namespace, and chaos-daemon applies both entries onto one chain or set (the last one wins)";

/** What chaos-daemon leaves after applying shop's entries, then other's: other's member, other's device. */
function kernel(device: string, member: string) {
  const chains = `${FILTER_HEAD}
:CHAOS-INPUT - [0:0]
:CHAOS-OUTPUT - [0:0]
:${CHAIN} - [0:0]
-A INPUT -j CHAOS-INPUT
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -j ${CHAIN}
-A ${CHAIN} -o ${device} -m set --match-set ${SET} dst,dst -j DROP
COMMIT
`;
  const sets = [
    `create ${NET} hash:net family inet hashsize 1024 maxelem 65536`,
    `add ${NET} ${member}`,
    `create ${NETPORT} hash:net,port family inet hashsize 1024 maxelem 65536`,
    `create ${SET} list:set size 8`,
    `add ${SET} ${NET}`,
    `add ${SET} ${NETPORT}`,
  ].join('\n');
  return kernelArtefacts(state({ iptables: [iptables(chains, 'legacy')], ipsets: ipsets(sets) }));
}

/** shop/web-partition and other/web-partition both partition pod shop/web: their entries appended in that order. */
function bothIntent(otherDevice = 'eth0') {
  const shop = partitionEntries('shop', EXP, ['10.9.9.9']);
  const other = partitionEntries('other', EXP, ['10.8.8.8'], { device: otherDevice });
  return normalisePodNetworkChaos(podNetworkChaos('shop', 'web', {
    ipsets: [...shop.ipsets, ...other.ipsets],
    iptables: [...shop.iptables, ...other.iptables],
  }))!;
}

describe('chain and ipset names shared by experiments of the same name in different namespaces', () => {
  it("the overwritten ipset's mismatch names the experiment it collides with; the winner is present", () => {
    const entries = matchIptables(bothIntent(), null, kernel('eth0', '10.8.8.8')).filter((e) => e.name === NET);
    expect(entries.map((e) => [e.state, e.owners])).toEqual([['mismatch', ['shop/web-partition']], ['present', ['other/web-partition']]]);
    expect(entries[0]!.detail).toBe(`ipset ${NET}: missing member 10.9.9.9; unexpected member 10.8.8.8; the name ${NET} collides with experiment ${EXP} in namespace other: ${TAIL}`);
    expect(entries[1]!.detail).toBe(`ipset ${NET} (hash:net, 1 member), as specified`);
  });

  it("the chain rewritten for the other experiment's device says so too", () => {
    const chains = matchIptables(bothIntent('eth1'), null, kernel('eth1', '10.8.8.8')).filter((e) => e.name === CHAIN);
    expect(chains.map((e) => e.state)).toEqual(['mismatch', 'present']);
    expect(chains[0]!.detail).toBe(
      `${CHAIN}: no DROP rule on eth0 for ipset ${SET} (spec: output chain on eth0 dropping ipset ${SET}); the name ${CHAIN} collides with experiment ${EXP} in namespace other: ${TAIL}`,
    );
  });

  it('a tcs entry filtering on a shared ipset says so in its mismatch too', () => {
    const tcSet = ipsetName(EXP, 'set_batgt');
    const tc = (ns: string, rate: string) => ({ type: 'bandwidth', source: `${ns}/${EXP}`, device: 'eth0', ipset: tcSet, bandwidth: { rate, limit: 64000, buffer: 32000 } });
    const set = (ns: string) => ({ name: tcSet, ipsetType: 'list:set', setNames: [], source: `${ns}/${EXP}` });
    const intent = normalisePodNetworkChaos(podNetworkChaos('shop', 'web', { ipsets: [set('shop'), set('other')], tcs: [tc('shop', '1mbit'), tc('other', '2mbit')] }))!;
    const qdisc = (handle: string, rateBytesPerSecond: number): QdiscArtefact => ({
      type: 'qdisc', role: 'tbf', position: `eth0 tbf ${handle} (parent 1:4)`, filterSets: [tcSet],
      qdisc: tbf({ handle, parent: '1:4' }, { rateBytesPerSecond, burstBytes: 32000, limitBytes: 64000 }),
    });
    const [shop, other] = matchTc(intent, { chains: [], ipsets: [], qdiscs: [qdisc('5:', 250_000), qdisc('6:', 500_000)] });
    // other's 2mbit is 250000 B/s: it takes 5: as specified; shop's is left with 6:.
    expect([shop!.state, other!.state]).toEqual(['mismatch', 'present']);
    expect(shop!.detail).toBe(
      `eth0 tbf 6: (parent 1:4): rateBytesPerSecond 500000 B/s in the kernel, 125000 B/s in the spec (spec: bandwidth rate 1mbit limit 64000 buffer 32000 for ipset ${tcSet}); ` +
        `the name ${tcSet} collides with experiment ${EXP} in namespace other: ${TAIL}`,
    );
  });

  it('a mismatch of one experiment alone names no collision', () => {
    const alone = normalisePodNetworkChaos(podNetworkChaos('shop', 'web', partitionEntries('shop', EXP, ['10.9.9.9'])))!;
    const net = matchIptables(alone, null, kernel('eth0', '10.8.8.8')).find((e) => e.name === NET)!;
    expect(net.detail).toBe(`ipset ${NET}: missing member 10.9.9.9; unexpected member 10.8.8.8`);
    expect(collidingSources(NET, 'shop/web-partition', alone)).toEqual([]);
    expect(collidingSources(NET, 'shop/web-partition', bothIntent())).toEqual(['other/web-partition']);
    expect(collidingSources(NET, 'shop/web-partition', null)).toEqual([]);
  });
});
