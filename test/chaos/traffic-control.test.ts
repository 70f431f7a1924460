import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import type { Qdisc } from '../../agent/netns/state.js';
import { filter, filteredLayout, ipsets, iptables, listSet, netem, netSet, prio, qdisc, state, tbf, tcState } from './builders.js';
import { BASE_FINDINGS, chaosDaemonState, FILTER_HEAD, SET, qdiscsOf } from './samples.js';

describe('fingerprint: traffic control', () => {
  it("reports a root tbf in a namespace chaos-daemon set up (CHAOS-INPUT/OUTPUT) as bandwidth", () => {
    const r = fingerprint(
      chaosDaemonState({ tc: tcState([tbf({ handle: '1:', parent: 'root' }, { rateBytesPerSecond: 125_000, burstBytes: 10_240, limitBytes: 20_480 })]) }),
    );
    expect(r).toEqual({
      verdict: 'active',
      kinds: ['bandwidth'],
      findings: ['eth0 root tbf limits rate to 1Mbit/s (burst 10KiB, limit 20KiB)', ...BASE_FINDINGS],
      details: [
        {
          level: 'active',
          kind: 'bandwidth',
          kinds: ['bandwidth'],
          message: 'eth0 root tbf limits rate to 1Mbit/s (burst 10KiB, limit 20KiB)',
        },
        ...BASE_FINDINGS.map((message) => ({ level: 'scaffolding', kind: null, message })),
      ],
    });
  });

  it('derives every netem kind from its fields, in human units', () => {
    const all = netem(
      { handle: '1:', parent: 'root' },
      {
        limit: 1000,
        delaySeconds: 0.1,
        jitterSeconds: 0.01,
        delayCorrelation: 0.25,
        loss: 0.05,
        lossCorrelation: 0.1,
        duplicate: 0.01,
        corrupt: 0.005,
        reorder: 0.25,
        reorderCorrelation: 0.5,
        gap: 5,
      },
    );
    const r = fingerprint(state({ tc: tcState([all]) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['corrupt', 'delay', 'duplicate', 'loss', 'reorder']);
    expect(r.findings).toEqual([
      'eth0 root netem delays 100ms ±10ms (25% correlation), loses 5% (10% correlation), duplicates 1%, ' +
        'corrupts 0.5%, reorders 25% (50% correlation), gap 5',
    ]);
    expect(r.details[0]!.kinds).toEqual(['delay', 'loss', 'duplicate', 'corrupt', 'reorder']);
  });

  it.each([
    [{ delaySeconds: 0.1, jitterSeconds: 0.01, delayCorrelation: 0.25, loss: 0.05 }, ['delay', 'loss'], 'delays 100ms ±10ms (25% correlation), loses 5%'],
    [{ jitterSeconds: 0.0005 }, ['delay'], 'delays 0ms ±500us'],
    [{ delaySeconds: 1.5 }, ['delay'], 'delays 1.5s'],
    [{ loss: 1 }, ['loss'], 'loses 100%'],
    [{ duplicate: 0.2 }, ['duplicate'], 'duplicates 20%'],
    [{ corrupt: 0.03, corruptCorrelation: 0.5 }, ['corrupt'], 'corrupts 3% (50% correlation)'],
    [{ delaySeconds: 0.01, reorder: 0.3 }, ['delay', 'reorder'], 'delays 10ms, reorders 30%'],
    [{ rateBytesPerSecond: 1_000_000, limit: 100 }, ['bandwidth'], 'limits rate to 8Mbit/s'],
    [{ delaySeconds: 0.02, rateBytesPerSecond: 125 }, ['bandwidth', 'delay'], 'delays 20ms, limits rate to 1Kbit/s'],
  ] as const)('netem %o -> %o', (opts, kinds, text) => {
    const r = fingerprint(state({ tc: tcState([netem({ handle: '1:', parent: 'root' }, opts)]) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(kinds);
    expect(r.findings).toEqual([`eth0 root netem ${text}`]);
  });

  it('calls a netem without any effect scaffolding', () => {
    const r = fingerprint(state({ tc: tcState([netem({ handle: '1:', parent: 'root' }, { limit: 1000, loss: 0 })]) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual(['eth0 root netem changes nothing (no delay, loss, duplicate, corrupt, reorder or rate)']);
  });

  it('reports a chained netem -> tbf (1: then 2:) on any interface', () => {
    const r = fingerprint(
      chaosDaemonState({
        tc: tcState([
          netem({ iface: 'net1', handle: '1:', parent: 'root' }, { delaySeconds: 0.05 }),
          tbf({ iface: 'net1', handle: '2:', parent: '1:' }, { rateBytesPerSecond: 125_000, burstBytes: 10_240 }),
          netem({ handle: '1:', parent: 'root' }, { loss: 0.5 }),
          tbf({ handle: '2:', parent: '1:1' }, { rateBytesPerSecond: 12_500_000, peakrateBytesPerSecond: 25_000_000 }),
        ]),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['bandwidth', 'delay', 'loss']);
    expect(r.findings).toEqual([
      'net1 root netem delays 50ms',
      'net1 tbf 2: (parent 1:) limits rate to 1Mbit/s (burst 10KiB)',
      'eth0 root netem loses 50%',
      'eth0 tbf 2: (parent 1:1) limits rate to 100Mbit/s (peakrate 200Mbit/s)',
      ...BASE_FINDINGS,
    ]);
  });

  it('reports a tbf outside Chaos Mesh layouts as foreign, but every netem as chaos', () => {
    const r = fingerprint(
      chaosDaemonState({
        tc: tcState([
          qdisc('htb', { handle: '1:', parent: 'root' }),
          tbf({ handle: '10:', parent: '1:10' }, { rateBytesPerSecond: 125_000 }),
          netem({ handle: '20:', parent: '1:20' }, { delaySeconds: 0.2 }),
        ]),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['delay']);
    expect(r.findings).toEqual(['eth0 netem 20: (parent 1:20) delays 200ms', ...BASE_FINDINGS]);
    expect(r.details.filter((d) => d.level === 'foreign').map((d) => d.message)).toEqual([
      'foreign: eth0 root htb',
      "foreign: eth0 tbf 10: (parent 1:10) limits rate to 1Mbit/s, outside Chaos Mesh's layout",
    ]);
  });

  const TC_SET = `set_${SET}_netgt`;
  const TC_SETS = [netSet(`net_${SET}_netgt`, 2), listSet(TC_SET, [`net_${SET}_netgt`])].join('\n');
  const tcTables = (jump: boolean): string => `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:TC-TABLES-0 - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
${jump ? '-A CHAOS-OUTPUT -j TC-TABLES-0\n' : ''}-A TC-TABLES-0 -m set --match-set ${TC_SET} dst -j CLASSIFY --set-class 0001:0004
COMMIT
`;
  const filtered = (): Qdisc[] => [
    ...filteredLayout(1, 'root', 1),
    netem({ handle: '5:', parent: '1:4' }, { delaySeconds: 0.05 }),
  ];

  it('filtered layout (prio + sfq + netem) with a reachable TC-TABLES rule is active', () => {
    const r = fingerprint(state({ iptables: [iptables(tcTables(true))], ipsets: ipsets(TC_SETS), tc: tcState(filtered()) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['delay']);
    expect(r.findings).toEqual([
      `eth0 netem 5: (parent 1:4) delays 50ms for traffic to ipset ${TC_SET} (list:set of 1 set, 2 members), classified by TC-TABLES-0`,
    ]);
    expect(r.details.filter((d) => d.level === 'foreign')).toEqual([]);
  });

  it('filtered layout whose TC-TABLES chain nothing reaches is scaffolding', () => {
    const r = fingerprint(state({ iptables: [iptables(tcTables(false))], ipsets: ipsets(TC_SETS), tc: tcState(filtered()) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.kinds).toEqual([]);
    expect(r.findings).toEqual([
      'CHAOS-OUTPUT is empty (jumped to from OUTPUT)',
      'TC-TABLES-0 holds 1 rule but nothing jumps to it',
      "eth0 root prio in Chaos Mesh's filtered layout (4 bands, sfq on bands 1-3) carries no active netem or tbf",
      'eth0 netem 5: (parent 1:4) delays 50ms, but nothing reachable classifies traffic into 1:4',
      `2 Chaos Mesh ipsets no reachable rule uses: net_${SET}_netgt (hash:net, 2 members), ${TC_SET} (list:set of 1 set, 2 members)`,
    ]);
  });

  it('global netem chained into the filtered layout: the global part is active, the idle band is not', () => {
    // Chaos Mesh's example: root 1: netem, prio 2: (parent 1:), sfq 3: 4: 5:, filtered tbf 6: at 2:4.
    const qdiscs = [
      netem({ handle: '1:', parent: 'root' }, { delaySeconds: 0.05 }),
      ...filteredLayout(2, '1:', 1),
      tbf({ handle: '6:', parent: '2:4' }, { rateBytesPerSecond: 125_000 }),
    ];
    const r = fingerprint(chaosDaemonState({ tc: tcState(qdiscs) }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['delay']);
    expect(r.findings).toEqual([
      'eth0 root netem delays 50ms',
      ...BASE_FINDINGS,
      "eth0 prio 2: (parent 1:) in Chaos Mesh's filtered layout (4 bands, sfq on bands 1-3) carries no active netem or tbf",
      'eth0 tbf 6: (parent 2:4) limits rate to 1Mbit/s, but nothing reachable classifies traffic into 2:4',
    ]);
  });

  it('a tc filter that sends traffic to the band activates it', () => {
    const r = fingerprint(
      state({ tc: tcState(filtered(), [filter('eth0', '1:', '1:4')]) }),
    );
    expect(r.verdict).toBe('active');
    expect(r.findings).toEqual(['eth0 netem 5: (parent 1:4) delays 50ms for traffic a u32 filter on eth0 sends to 1:4']);
  });

  it('a reachable TC-TABLES rule classifying into a class without netem/tbf is scaffolding', () => {
    const r = fingerprint(state({ iptables: [iptables(tcTables(true))], ipsets: ipsets(TC_SETS), tc: tcState(filteredLayout(1, 'root', 1)) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      "eth0 root prio in Chaos Mesh's filtered layout (4 bands, sfq on bands 1-3) carries no active netem or tbf",
      'TC-TABLES-0 classifies traffic into 1:4, but no netem or tbf qdisc sits under 1:4',
    ]);
  });
});

describe('fingerprint: prio exactness (this kernel has no prio/netem/sfq: tc JSON fixtures from iproute2 print code)', () => {
  it('a default 3-band prio is foreign, not scaffolding: clean', () => {
    const r = fingerprint(state({ tc: tcState(qdiscsOf('tc/prio-3band-default-qdisc.json')) }));
    expect(r.verdict).toBe('clean');
    expect(r.findings).toEqual([]);
    expect(r.details.map((d) => d.message)).toEqual([
      "foreign: eth0 root prio (3 bands), not Chaos Mesh's filtered layout (3+N bands, sfq on bands 1-3)",
    ]);
  });

  it("a 3-band prio with another tool's netem: the netem changes traffic (active delay), the prio stays foreign", () => {
    const before = fingerprint(state({ tc: tcState(qdiscsOf('tc/prio-3band-netem-qdisc.json')) }));
    expect(before.verdict).toBe('active');
    expect(before.kinds).toEqual(['delay']);
    expect(before.findings).toEqual(['eth0 netem 30: (parent 1:3) delays 100ms']);
    expect(before.details.filter((d) => d.level === 'foreign').map((d) => d.message)).toEqual([
      "foreign: eth0 root prio (3 bands), not Chaos Mesh's filtered layout (3+N bands, sfq on bands 1-3)",
      'foreign: eth0 sfq 10: (parent 1:1)',
      'foreign: eth0 sfq 20: (parent 1:2)',
    ]);
    // That tool removes its netem: what is left is foreign, never Chaos Mesh scaffolding.
    const after = fingerprint(state({ tc: tcState(qdiscsOf('tc/prio-3band-netem-qdisc.json').filter((q) => q.kind !== 'netem')) }));
    expect(after.verdict).toBe('clean');
    expect(after.findings).toEqual([]);
  });

  it("Chaos Mesh's filtered prio fixture: active before recovery; recovery (root deleted, TC-TABLES-0 left) is scaffolding", () => {
    const tcSet = `set_${SET}_netgt`;
    const sets = ipsets([netSet(`net_${SET}_netgt`, 2), listSet(tcSet, [`net_${SET}_netgt`])].join('\n'));
    const chains = (jump: boolean): string => `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:TC-TABLES-0 - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
${jump ? '-A CHAOS-OUTPUT -j TC-TABLES-0\n' : ''}-A TC-TABLES-0 -o eth0 -m set --match-set ${tcSet} dst -j CLASSIFY --set-class 0001:0004
COMMIT
`;
    const before = fingerprint(state({ iptables: [iptables(chains(true))], ipsets: sets, tc: tcState(qdiscsOf('tc/prio-sfq-netem-filtered-qdisc.json')) }));
    expect(before.verdict).toBe('active');
    expect(before.kinds).toEqual(['delay']);
    expect(before.findings[0]).toBe(
      `eth0 netem 5: (parent 1:4) delays 300ms ±50ms (50% correlation) for eth0 traffic to ipset ${tcSet} (list:set of 1 set, 2 members), classified by TC-TABLES-0`,
    );
    const after = fingerprint(state({ iptables: [iptables(chains(false))], ipsets: sets, tc: tcState([]) }));
    expect(after.verdict).toBe('scaffolding');
    expect(after.findings).toEqual([
      'CHAOS-OUTPUT is empty (jumped to from OUTPUT)',
      'TC-TABLES-0 holds 1 rule but nothing jumps to it',
      `2 Chaos Mesh ipsets no reachable rule uses: net_${SET}_netgt (hash:net, 2 members), ${tcSet} (list:set of 1 set, 2 members)`,
    ]);
  });

  it('a 4-band prio without sfq on bands 1-3, or with another priomap, is not Chaos Mesh\'s', () => {
    const noSfq: Qdisc[] = [prio({ handle: '1:', parent: 'root' }, 4), netem({ handle: '5:', parent: '1:4' }, { delaySeconds: 0.05 })];
    const r = fingerprint(state({ tc: tcState(noSfq) }));
    expect(r.details.map((d) => [d.level, d.message])).toEqual([
      ['scaffolding', 'eth0 netem 5: (parent 1:4) delays 50ms, but nothing reachable classifies traffic into 1:4'],
      ['foreign', "foreign: eth0 root prio (4 bands), not Chaos Mesh's filtered layout (3+N bands, sfq on bands 1-3)"],
    ]);
    const otherMap = [prio({ handle: '1:', parent: 'root' }, 4, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), ...filteredLayout(1, 'root', 1).slice(1)];
    const r2 = fingerprint(state({ tc: tcState(otherMap) }));
    expect(r2.verdict).toBe('clean');
  });

  it('a CLASSIFY rule matching an empty set feeds nothing: the band\'s netem is scaffolding and says why', () => {
    const tcSet = `set_${SET}_netgt`;
    const sets = ipsets([`create net_${SET}_netgt hash:net family inet hashsize 1024 maxelem 65536`, listSet(tcSet, [`net_${SET}_netgt`])].join('\n'));
    const text = `${FILTER_HEAD}
:CHAOS-OUTPUT - [0:0]
:TC-TABLES-0 - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -j TC-TABLES-0
-A TC-TABLES-0 -m set --match-set ${tcSet} dst -j CLASSIFY --set-class 1:4
COMMIT
`;
    const qdiscs = [...filteredLayout(1, 'root', 1), netem({ handle: '5:', parent: '1:4' }, { loss: 0.5 })];
    const r = fingerprint(state({ iptables: [iptables(text)], ipsets: sets, tc: tcState(qdiscs) }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      "eth0 root prio in Chaos Mesh's filtered layout (4 bands, sfq on bands 1-3) carries no active netem or tbf",
      'eth0 netem 5: (parent 1:4) loses 50%, but the only rules classifying traffic into 1:4 match an empty set (TC-TABLES-0): nothing reaches it now',
    ]);
  });
});
