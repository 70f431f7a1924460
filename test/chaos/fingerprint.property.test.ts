/** Property test: the fingerprint never throws on arbitrary well-typed states, and the report's invariants hold. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import type { Address, EbtablesDump, IptablesChain, IptablesDump, IptablesRule, Link, NetnsState, Qdisc, Route } from '../../agent/netns/state.js';
import { parseEbtablesRule } from '../../agent/netns/nsenter/ebtables.js';
import { filter, state, tcState } from './builders.js';
import { EXP, SET, SRC, TGT } from './samples.js';


const chainNames = fc.constantFrom(
  'INPUT', 'OUTPUT', 'PREROUTING', 'CHAOS-INPUT', 'CHAOS-OUTPUT', `INPUT/${EXP}`, `OUTPUT/${EXP}`, 'TC-TABLES-0',
  'TC-TABLES-1', 'DIVERT', 'CHAOS_PROXY_PREROUTING', 'KUBE-SERVICES', 'CNI-x', 'X',
);
const setNames = fc.constantFrom(TGT, SRC, `net_${SET}_tgt`, 'KUBE-SET', 'missing', `${TGT}old`);
const targets = fc.oneof(
  chainNames,
  fc.constantFrom('ACCEPT', 'DROP', 'REJECT', 'RETURN', 'CLASSIFY', 'TPROXY', 'MARK'),
  fc.constant(null),
);
const handles = fc.constantFrom('1:', '2:', '3:', '5:', '1:4', '2:4', '1:1', 'ffff:', 'zz', '');
const ratio = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(0), fc.double());

const ruleArb: fc.Arbitrary<IptablesRule> = fc
  .record({
    target: targets,
    goto: fc.boolean(),
    conditional: fc.boolean(),
    iface: fc.option(fc.constantFrom('eth0', 'lo')),
    sets: fc.array(fc.record({ name: setNames, flags: fc.constantFrom('src', 'dst', 'dst,dst', ''), negated: fc.boolean() }), {
      maxLength: 2,
    }),
    dport: fc.option(fc.constantFrom('80', '80:90', '1,2')),
    cls: fc.constantFrom('--set-class 1:4', '--set-class 2:4', '--on-port 1 --tproxy-mark 0x1', '', '--set-class zz'),
  })
  .map((r) => ({
    text: `${r.conditional ? '-p tcp ' : ''}${r.target === null ? '' : `${r.goto ? '-g' : '-j'} ${r.target} ${r.cls}`}`,
    counters: null,
    target: r.target,
    goto: r.goto,
    targetOptions: r.cls,
    inInterface: null,
    outInterface: r.iface,
    protocol: r.conditional ? 'tcp' : null,
    source: null,
    destination: null,
    dport: r.dport,
    sport: null,
    matchSets: r.sets,
    comment: null,
    modules: r.sets.length > 0 ? ['set'] : [],
  }));

const chainArb: fc.Arbitrary<IptablesChain> = fc
  .record({ name: chainNames, builtin: fc.boolean(), rules: fc.array(ruleArb, { maxLength: 4 }) })
  .map((c) => ({ name: c.name, policy: c.builtin ? 'ACCEPT' : null, builtin: c.builtin, counters: null, rules: c.rules }));

const dumpArb: fc.Arbitrary<IptablesDump> = fc.record({
  backend: fc.constantFrom('legacy' as const, 'nft' as const),
  family: fc.constantFrom('ipv4' as const, 'ipv6' as const),
  tables: fc.array(fc.record({ name: fc.constantFrom('filter', 'mangle', 'nat'), chains: fc.array(chainArb, { maxLength: 6 }) }), {
    maxLength: 3,
  }),
  errors: fc.constant([]),
});

const qdiscArb: fc.Arbitrary<Qdisc> = fc
  .record({
    iface: fc.constantFrom('eth0', 'lo'),
    kind: fc.constantFrom('netem', 'tbf', 'prio', 'sfq', 'htb', 'noqueue'),
    handle: handles,
    parent: fc.oneof(fc.constant('root'), handles),
    delay: ratio,
    loss: ratio,
    rate: fc.option(fc.double()),
    priomap: fc.oneof(fc.constant<number[]>([1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]), fc.array(fc.integer({ min: -1, max: 5 }))),
  })
  .map((q) => ({
    interface: q.iface,
    kind: q.kind,
    handle: q.handle,
    parent: q.parent,
    root: q.parent === 'root',
    options: {},
    netem: q.kind === 'netem' ? { delaySeconds: q.delay, loss: q.loss, rateBytesPerSecond: q.rate ?? undefined } : undefined,
    tbf: q.kind === 'tbf' ? { rateBytesPerSecond: q.rate ?? undefined } : undefined,
    prio: q.kind === 'prio' ? { bands: 4, priomap: q.priomap } : undefined,
    stats: null,
  }));

const P = '3f2a9c1b-7e4d';
const linkNames = fc.constantFrom('lo', 'eth0', `${P}b1`, `${P}v1`, `${P}v4`, `${P}ns`, 'br0', 'x');
const linkArb: fc.Arbitrary<Link> = fc
  .record({
    index: fc.integer({ min: 1, max: 6 }),
    name: linkNames,
    kind: fc.constantFrom(null, 'veth', 'bridge'),
    master: fc.option(fc.integer({ min: 1, max: 6 })),
    address: fc.constantFrom(null, '02:42:ac:11:00:02', 'zz', '2:42:ac:11:0:2'),
    netnsid: fc.option(fc.nat()),
  })
  .map((l) => ({ index: l.index, name: l.name, kind: l.kind, master: l.master, mtu: 1500, flags: [], operState: 'UP', address: l.address, link: null, linkNetnsId: l.netnsid }));
const addressArb: fc.Arbitrary<Address> = fc.record({
  index: fc.integer({ min: 1, max: 6 }),
  interface: linkNames,
  family: fc.constantFrom('ipv4' as const, 'ipv6' as const),
  address: fc.constantFrom('10.0.0.5', 'fd00::1'),
  prefixLength: fc.integer({ min: 0, max: 128 }),
  scope: fc.constant('global'),
});
const routeArb: fc.Arbitrary<Route> = fc.record({
  family: fc.constant('ipv4' as const),
  table: fc.constantFrom(254, 255, 100),
  destination: fc.constantFrom('default', '10.0.0.0/24'),
  gateway: fc.option(fc.constant('10.0.0.1')),
  interface: fc.option(linkNames),
  type: fc.constant('unicast'),
  protocol: fc.constant('kernel'),
  scope: fc.constant('global'),
  source: fc.constant(null),
  metric: fc.constant(null),
});
const ebtArb: fc.Arbitrary<EbtablesDump> = fc.record({
  backend: fc.constantFrom('legacy' as const, 'nft' as const),
  tables: fc.array(
    fc.record({
      name: fc.constantFrom('nat', 'filter'),
      chains: fc.array(
        fc.record({
          name: fc.constantFrom('PREROUTING', 'FORWARD', 'X'),
          policy: fc.constant('ACCEPT'),
          builtin: fc.boolean(),
          rules: fc.array(
            fc.constantFrom(
              '-i eth0 -j dnat --to-dst 2:42:ac:11:0:2 --dnat-target ACCEPT',
              '-i br0 -j dnat --to-dst 02:42:ac:11:00:09 --dnat-target ACCEPT',
              '-j dnat',
              '-i ! eth0 -j DROP',
              '-j dnat --to-dst',
            ).map((t) => parseEbtablesRule(t, null)),
            { maxLength: 3 },
          ),
        }),
        { maxLength: 3 },
      ),
    }),
    { maxLength: 2 },
  ),
  errors: fc.constant([]),
});

/** What the caller may add: the node's /run/netns names (or none listed). */
const ctxArb = fc.option(fc.array(fc.constantFrom(`${P}ns`, 'cni-1'), { maxLength: 2 })).map((n) => (n === null ? {} : { namedNetns: n }));

const stateArb: fc.Arbitrary<NetnsState> = fc
  .record({
    iptables: fc.array(dumpArb, { maxLength: 3 }),
    sets: fc.array(
      fc.record({
        name: setNames,
        type: fc.constantFrom('hash:net', 'list:set'),
        members: fc.array(fc.oneof(setNames, fc.constant('10.0.0.0/8')), { maxLength: 3 }),
      }),
      { maxLength: 4 },
    ),
    qdiscs: fc.array(qdiscArb, { maxLength: 6 }),
    filters: fc.array(fc.record({ flowid: fc.option(handles), parent: handles }), { maxLength: 2 }),
    ipRules: fc.array(fc.constantFrom('32765: from all fwmark 0x1 lookup 100', 'garbage', ''), { maxLength: 2 }),
    links: fc.option(fc.array(linkArb, { maxLength: 6 })),
    addresses: fc.array(addressArb, { maxLength: 3 }),
    routes: fc.array(routeArb, { maxLength: 3 }),
    ebtables: fc.option(fc.array(ebtArb, { maxLength: 2 })),
  })
  .map((s) =>
    state({
      iptables: s.iptables,
      ipsets: {
        sets: s.sets.map((x) => ({ name: x.name, type: x.type, optionsText: '', options: {}, members: x.members.map((v) => ({ value: v, options: '' })) })),
        errors: [],
      },
      tc: tcState(
        s.qdiscs,
        s.filters.map((f) => ({ ...filter('eth0', f.parent, 'x'), flowid: f.flowid })),
      ),
      ipRules: s.ipRules,
      ...(s.links !== null ? { links: s.links, addresses: s.addresses, routes: s.routes } : {}),
      ...(s.ebtables !== null ? { ebtables: s.ebtables } : {}),
    }),
  );

describe('fingerprint properties', () => {
  it('never throws and keeps verdict, kinds, findings and details consistent', () => {
    fc.assert(
      fc.property(stateArb, ctxArb, (s, ctx) => {
        const r = fingerprint(s, ctx);
        const order = { active: 0, scaffolding: 1, foreign: 2 } as const;
        // kinds: sorted, unique, exactly the kinds of active details.
        expect(r.kinds).toEqual([...new Set(r.kinds)].sort());
        const activeKinds = new Set(r.details.filter((d) => d.level === 'active').flatMap((d) => [d.kind!, ...(d.kinds ?? [])]));
        expect(new Set(r.kinds)).toEqual(activeKinds);
        // Every active finding has a kind, so kinds are non-empty iff the verdict is active.
        expect(r.details.filter((d) => d.level === 'active').every((d) => d.kind !== null)).toBe(true);
        expect(r.kinds.length > 0).toBe(r.verdict === 'active');
        const levels = new Set(r.details.map((d) => d.level));
        expect(r.verdict).toBe(levels.has('active') ? 'active' : levels.has('scaffolding') ? 'scaffolding' : 'clean');
        // findings mirror the non-foreign details; details are ordered active, scaffolding, foreign.
        expect(r.findings).toEqual(r.details.filter((d) => d.level !== 'foreign').map((d) => d.message));
        const ranks = r.details.map((d) => order[d.level]);
        expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
        expect(r.details.every((d) => d.message.length > 0)).toBe(true);
        // Pure: same input, same output.
        expect(fingerprint(s, ctx)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});
