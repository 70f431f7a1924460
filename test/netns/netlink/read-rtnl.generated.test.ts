/**
 * fast-check-generated tc trees applied for real (one `tc -batch` per tree) to a fresh namespace, then read both ways
 * (differential.ts). The grammar: a veth pair d0/d1 (down: no traffic); d0's root is tbf, pfifo, bfifo, htb with
 * classes (each with a pfifo / bfifo / tbf leaf or none) or nothing; d1 has an ingress qdisc, clsact or nothing; u32
 * filters on the htb qdisc, its classes and the hooks, and classic-BPF filters on the hooks. Rates are whole kbit/s
 * below 1 Gbit/s (tc's text prints them exactly: htb classes are text in iproute2 6.1).
 */
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';
import { differential } from './differential.js';

const kbit = fc.integer({ min: 8, max: 900_000 });
const leaf = fc.oneof(
  fc.constant(null),
  fc.record({ kind: fc.constant('pfifo' as const), limit: fc.integer({ min: 1, max: 5000 }) }),
  fc.record({ kind: fc.constant('bfifo' as const), limit: fc.integer({ min: 1500, max: 500_000 }) }),
  fc.record({ kind: fc.constant('tbf' as const), rate: kbit, burst: fc.integer({ min: 1600, max: 200_000 }), extra: fc.integer({ min: 0, max: 500_000 }) }),
);
const cidr = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: 32 })).map(([a, b, len]) => `${a}.${b}.0.0/${Math.max(len, 16)}`);
const match = fc.oneof(
  fc.tuple(fc.constantFrom('src', 'dst'), cidr).map(([d, c]) => ['ip', d, c]),
  fc.tuple(fc.constantFrom('sport', 'dport'), fc.integer({ min: 1, max: 65535 })).map(([d, p]) => ['ip', d, String(p), '0xffff']),
  fc.integer({ min: 1, max: 255 }).map((p) => ['ip', 'protocol', String(p), '0xff']),
);
const tree = fc.record({
  root: fc.oneof(
    fc.constant(null),
    fc.record({ kind: fc.constant('tbf' as const), rate: kbit, burst: fc.integer({ min: 1600, max: 200_000 }), extra: fc.integer({ min: 0, max: 500_000 }) }),
    fc.record({ kind: fc.constant('pfifo' as const), limit: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({ kind: fc.constant('bfifo' as const), limit: fc.integer({ min: 1500, max: 500_000 }) }),
    fc.record({
      kind: fc.constant('htb' as const),
      defaultMinor: fc.integer({ min: 0, max: 9 }),
      classes: fc.uniqueArray(fc.record({ minor: fc.integer({ min: 1, max: 9 }), rate: kbit, ceilExtra: fc.integer({ min: 0, max: 50_000 }), leaf }), { maxLength: 4, selector: (c) => c.minor }),
    }),
  ),
  hook: fc.constantFrom(null, 'ingress', 'clsact'),
  filters: fc.array(fc.record({ at: fc.integer({ min: 0, max: 5 }), matches: fc.uniqueArray(match, { minLength: 1, maxLength: 3, selector: (m) => m[1] }), flow: fc.integer({ min: 1, max: 9 }), bpf: fc.boolean() }), { maxLength: 5 }),
});
type Tree = typeof tree extends fc.Arbitrary<infer T> ? T : never;

/** The tc batch that builds `t`; handles are fixed (root 1:, leaves 1N:). */
function commands(t: Tree): string[] {
  const out: string[] = [];
  const leafCmd = (parent: string, handle: string, l: NonNullable<Tree['root']> | NonNullable<NonNullable<Extract<Tree['root'], { kind: 'htb' }>['classes'][number]['leaf']>>): string => {
    if (l.kind === 'tbf') return `qdisc add dev d0 ${parent} handle ${handle} tbf rate ${l.rate}kbit burst ${l.burst} limit ${l.burst + l.extra}`;
    if (l.kind === 'pfifo' || l.kind === 'bfifo') return `qdisc add dev d0 ${parent} handle ${handle} ${l.kind} limit ${l.limit}`;
    return `qdisc add dev d0 ${parent} handle ${handle} htb default ${l.defaultMinor.toString(16)}`;
  };
  const parents: string[] = [];
  if (t.root !== null) {
    out.push(leafCmd('root', '1:', t.root));
    if (t.root.kind === 'htb') {
      parents.push('parent 1:');
      for (const c of t.root.classes) {
        out.push(`class add dev d0 parent 1: classid 1:${c.minor} htb rate ${c.rate}kbit ceil ${c.rate + c.ceilExtra}kbit`);
        parents.push(`parent 1:${c.minor}`);
        if (c.leaf !== null) out.push(leafCmd(`parent 1:${c.minor}`, `1${c.minor}:`, c.leaf));
      }
    }
  }
  if (t.hook === 'ingress') {
    out.push('qdisc add dev d1 ingress');
    parents.push('ingress1');
  } else if (t.hook === 'clsact') {
    out.push('qdisc add dev d1 clsact');
    parents.push('ingress1', 'egress1');
  }
  t.filters.forEach((f, i) => {
    const at = parents[f.at % Math.max(parents.length, 1)];
    if (at === undefined) return;
    const where = at === 'ingress1' ? 'dev d1 ingress' : at === 'egress1' ? 'dev d1 egress' : `dev d0 ${at}`;
    const pref = 10 + i;
    if (f.bpf && at.endsWith('1')) out.push(`filter add ${where} protocol all pref ${pref} bpf bytecode '1,6 0 0 ${f.flow},' flowid 1:${f.flow}`);
    else out.push(`filter add ${where} protocol ip pref ${pref} u32 ${f.matches.map((m) => `match ${m.join(' ')}`).join(' ')} flowid 1:${f.flow}`);
  });
  return out;
}

describeIntegration('rtnetlink reader vs the tools on generated tc trees', { root: true, commands: ['ip', 'tc'] }, () => {
  afterAll(destroyAll);

  it('every generated tree reads the same both ways', async () => {
    let trees = 0;
    let objects = 0;
    await fc.assert(
      fc.asyncProperty(tree, async (t) => {
        const ns = await createNetns('nlgen');
        try {
          await ns.exec(['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
          const batch = commands(t);
          if (batch.length > 0) await ns.exec(['tc', '-batch', '-'], { input: `${batch.join('\n')}\n` });
          const { nl } = await differential(ns);
          trees++;
          objects += nl.tc.qdiscs.length + nl.tc.classes.length + nl.tc.filters.length;
        } finally {
          await ns.destroy();
        }
      }),
      { numRuns: 15, endOnFailure: true },
    );
    expect(trees).toBe(15);
    process.stdout.write(`generated tc trees: ${trees} read both ways, ${objects} qdiscs/classes/filters compared\n`);
  });
});
