import { describe, expect, it } from 'vitest';
import { canonicalHandle, majorOf, QdiscTree, type Classifier } from '../../agent/chaos/tc-tree.js';
import { filteredLayout, netem, prio, qdisc, tbf } from './builders.js';

const feed = (cls: string, matchesNothing = false): Classifier => ({ cls, phrase: `traffic to ${cls}`, chaosLabel: 'TC-TABLES-0', annotation: '', matchesNothing });

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
    const tree = new QdiscTree('eth0', chaos, []);
    expect(tree.isChaosMeshPrio(chaos[0]!)).toBe(true);
    expect(chaos.map((q) => tree.isChaos(q))).toEqual([true, true, true, true, true]);

    const three = [prio({ handle: '1:', parent: 'root' }, 3), ...filteredLayout(1, 'root', 0).slice(1)];
    expect(new QdiscTree('eth0', three, []).isChaosMeshPrio(three[0]!)).toBe(false);
    const twoSfq = filteredLayout(1, 'root', 1).slice(0, 3);
    expect(new QdiscTree('eth0', twoSfq, []).isChaosMeshPrio(twoSfq[0]!)).toBe(false);
    const pfifo = [prio({ handle: '1:', parent: 'root' }, 4), ...[1, 2, 3].map((b) => qdisc('pfifo', { handle: `${b + 1}:`, parent: `1:${b}` }))];
    expect(new QdiscTree('eth0', pfifo, []).isChaosMeshPrio(pfifo[0]!)).toBe(false);
  });

  it('a band the priomap never selects receives traffic only through a classifier that matches something', () => {
    const qs = [...filteredLayout(1, 'root', 1), tbf({ handle: '5:', parent: '1:4' }, { rateBytesPerSecond: 1000 })];
    const tbfQ = qs[4]!;
    expect(new QdiscTree('eth0', qs, []).flow(tbfQ)).toMatchObject({ receives: false, gate: '1:4' });
    expect(new QdiscTree('eth0', qs, [feed('1:4')]).flow(tbfQ)).toMatchObject({ receives: true, gate: '1:4' });
    const empty = new QdiscTree('eth0', qs, [feed('1:4', true)]).flow(tbfQ);
    expect(empty.receives).toBe(false);
    expect(empty.empty.map((c) => c.cls)).toEqual(['1:4']);
    // sfq on band 2 is selected by the default priomap: it always receives.
    expect(new QdiscTree('eth0', qs, []).flow(qs[2]!).receives).toBe(true);
  });

  it('tbf is chaos at the root, under chaos, or when classified; foreign otherwise', () => {
    const htb = qdisc('htb', { handle: '1:', parent: 'root' });
    const leaf = tbf({ handle: '10:', parent: '1:10' }, {});
    expect(new QdiscTree('eth0', [htb, leaf], []).isChaos(leaf)).toBe(false);
    expect(new QdiscTree('eth0', [htb, leaf], [feed('1:10')]).isChaos(leaf)).toBe(true);
    const root = tbf({ handle: '1:', parent: 'root' }, {});
    expect(new QdiscTree('eth0', [root], []).isChaos(root)).toBe(true);
  });
});
