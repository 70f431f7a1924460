import { describe, expect, it } from 'vitest';
import { buildTableGraph, isUnconditional, liveRules, reachableChains, subgraph } from '../../agent/chaos/iptables-graph.js';
import { iptables } from './builders.js';
import { FILTER_HEAD } from './samples.js';

describe('iptables jump graph', () => {
  const dump = iptables(`${FILTER_HEAD}
:A - [0:0]
:B - [0:0]
:C - [0:0]
:D - [0:0]
:E - [0:0]
-A INPUT -j A
-A A -g B
-A B -j RETURN
-A B -j C
-A OUTPUT -p tcp -j ACCEPT
-A OUTPUT -j E
-A D -j A
COMMIT
`);

  it('follows -j and -g from built-in chains and skips shadowed jumps', () => {
    expect([...reachableChains(dump.tables[0]!)].sort()).toEqual(['A', 'B', 'E', 'FORWARD', 'INPUT', 'OUTPUT']);
  });

  it('counts live rules, records referrers with liveness, and walks subgraphs of reachable chains only', () => {
    const g = buildTableGraph(dump.tables[0]!);
    expect(g.liveCount.get('B')).toBe(1);
    expect(liveRules(g, 'B').map((r) => r.text)).toEqual(['-j RETURN']);
    expect(liveRules(g, 'D')).toEqual([]);
    expect(g.referrers.get('C')).toEqual([{ from: 'B', live: false }]);
    expect(g.referrers.get('A')).toEqual([
      { from: 'INPUT', live: true },
      { from: 'D', live: false },
    ]);
    expect([...subgraph(g, ['A', 'D'])].sort()).toEqual(['A', 'B']);
  });

  it('treats a comment-only prefix as unconditional', () => {
    const rules = iptables(`${FILTER_HEAD}
-A INPUT -m comment --comment "allow all" -j ACCEPT
-A INPUT -p tcp -j ACCEPT
COMMIT
`).tables[0]!.chains[0]!.rules;
    expect(rules.map(isUnconditional)).toEqual([true, false]);
  });
});
