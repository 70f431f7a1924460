import { describe, expect, it } from 'vitest';
import { canonicalHandle, majorOf, QdiscTree, type Classifier } from '../../agent/chaos/tc-tree.js';
import { filteredLayout, netem, prio, qdisc, tbf } from './builders.js';

const feed = (cls: string, matchesNothing = false): Classifier => ({ cls, phrase: `traffic to ${cls}`, chaosLabel: 'TC-TABLES-0', annotation: '', matchesNothing });
/** The namespace holds CHAOS-INPUT / CHAOS-OUTPUT (chaos-daemon ran SetIptablesChains). */
const CM = { baseChains: true };

describe('tc tree', () => {
  it('canonicalises handles', () => {
    expect(canonicalHandle('0001:0004')).toBe('1:4');
    expect(canonicalHandle('1:')).toBe('1:0');
    expect(canonicalHandle('a:1F')).toBe('a:1f');
    expect(canonicalHandle('root')).toBeNull();
    expect(majorOf('ffff:')).toBe('ffff');
  });

  it("recognises Chaos Mesh's filtered prio exactly: >= 4 bands, default priomap, sfq on bands 1-3", () => {
    const chaos = [...filteredLayout(1, 'root', 2), netem({ handle: '5:', parent: '1:4' }, { delaySeconds: 0.01 })];
    const tree = new QdiscTree('eth0', chaos, [], CM);
    expect(tree.isChaosMeshPrio(chaos[0]!)).toBe(true);
    expect(chaos.map((q) => tree.isChaos(q))).toEqual([true, true, true, true, true]);

    const three = [prio({ handle: '1:', parent: 'root' }, 3), ...filteredLayout(1, 'root', 0).slice(1)];
    expect(new QdiscTree('eth0', three, [], CM).isChaosMeshPrio(three[0]!)).toBe(false);
    const twoSfq = filteredLayout(1, 'root', 1).slice(0, 3);
    expect(new QdiscTree('eth0', twoSfq, [], CM).isChaosMeshPrio(twoSfq[0]!)).toBe(false);
    const pfifo = [prio({ handle: '1:', parent: 'root' }, 4), ...[1, 2, 3].map((b) => qdisc('pfifo', { handle: `${b + 1}:`, parent: `1:${b}` }))];
    expect(new QdiscTree('eth0', pfifo, [], CM).isChaosMeshPrio(pfifo[0]!)).toBe(false);
  });

  it('a band the priomap never selects receives traffic only through a classifier that matches something', () => {
    const qs = [...filteredLayout(1, 'root', 1), tbf({ handle: '5:', parent: '1:4' }, { rateBytesPerSecond: 1000 })];
    const tbfQ = qs[4]!;
    expect(new QdiscTree('eth0', qs, [], CM).flow(tbfQ)).toMatchObject({ receives: false, gate: '1:4' });
    expect(new QdiscTree('eth0', qs, [feed('1:4')], CM).flow(tbfQ)).toMatchObject({ receives: true, gate: '1:4' });
    const empty = new QdiscTree('eth0', qs, [feed('1:4', true)], CM).flow(tbfQ);
    expect(empty.receives).toBe(false);
    expect(empty.empty.map((c) => c.cls)).toEqual(['1:4']);
    // sfq on band 2 is selected by the default priomap: it always receives.
    expect(new QdiscTree('eth0', qs, [], CM).flow(qs[2]!).receives).toBe(true);
  });

  it('tbf is chaos at the root, under chaos, or when a Chaos Mesh CLASSIFY rule feeds its class; foreign otherwise', () => {
    const htb = qdisc('htb', { handle: '1:', parent: 'root' });
    const leaf = tbf({ handle: '10:', parent: '1:10' }, {});
    expect(new QdiscTree('eth0', [htb, leaf], [], CM).isChaos(leaf)).toBe(false);
    expect(new QdiscTree('eth0', [htb, leaf], [feed('1:10')], CM).isChaos(leaf)).toBe(true);
    // A tc filter (chaosLabel null) is never Chaos Mesh's: chaos-daemon installs none.
    expect(new QdiscTree('eth0', [htb, leaf], [{ ...feed('1:10'), chaosLabel: null }], CM).isChaos(leaf)).toBe(false);
    // A CLASSIFY rule for another device (-o eth1) does not feed eth0's class.
    expect(new QdiscTree('eth0', [htb, leaf], [{ ...feed('1:10'), device: { name: 'eth1', negated: false } }], CM).isChaos(leaf)).toBe(false);
    expect(new QdiscTree('eth0', [htb, leaf], [{ ...feed('1:10'), device: { name: 'eth+', negated: false } }], CM).isChaos(leaf)).toBe(true);
    expect(new QdiscTree('eth0', [htb, leaf], [{ ...feed('1:10'), device: { name: 'eth0', negated: true } }], CM).isChaos(leaf)).toBe(false);
    const root = tbf({ handle: '1:', parent: 'root' }, {});
    expect(new QdiscTree('eth0', [root], [], CM).isChaos(root)).toBe(true);
  });

  it("tbf needs chaos-daemon's evidence: CHAOS-* chains in the namespace, and not a CNI bandwidth ifb", () => {
    const root = tbf({ handle: '1:', parent: 'root' }, {});
    const none = new QdiscTree('eth0', [root], [], { baseChains: false });
    expect(none.isChaos(root)).toBe(false);
    expect(none.foreignTbfReason()).toBe("not Chaos Mesh's: no CHAOS-INPUT/CHAOS-OUTPUT chains in this namespace (chaos-daemon creates them before any tc)");
    const ifbRoot = tbf({ iface: 'bwp1a2b3c4d5e6f', handle: '1:', parent: 'root' }, {});
    const ifb = new QdiscTree('bwp1a2b3c4d5e6f', [ifbRoot], [], CM);
    expect(ifb.isChaos(ifbRoot)).toBe(false);
    expect(ifb.foreignTbfReason()).toBe("the CNI bandwidth plugin's ifb (egress shaping of a pod), not Chaos Mesh's");
    // netem stays chaos whoever installed it.
    const n = netem({ handle: '1:', parent: 'root' }, { delaySeconds: 0.1 });
    expect(new QdiscTree('eth0', [n], [], { baseChains: false }).isChaos(n)).toBe(true);
  });
});
