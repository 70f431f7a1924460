/**
 * A small grammar of iptables / ip6tables rule sets for property tests: filter (policies, user chains, jumps and
 * gotos without loops, address/interface/protocol matches with `!`, tcp/udp ports, multiport, comment with hostile
 * characters, mark, conntrack, owner, limit, statistic, -f; targets ACCEPT DROP RETURN REJECT LOG MARK CONNMARK
 * CLASSIFY or none) and nat (DNAT, REDIRECT, SNAT, MASQUERADE on their hooks), rendered as iptables-restore -c
 * input. Only combinations the kernel accepts are generated (hook restrictions included).
 */
import fc from 'fast-check';
import { saveString } from '../../../../agent/netns/netlink/xt/format.js';

type Family = 'ipv4' | 'ipv6';
const BUILTIN = ['INPUT', 'FORWARD', 'OUTPUT'] as const;
const USER_NAMES = ['A-1', 'KUBE-SVC-X', 'b/c', 'z_last', 'x.y', 'CHAOS-OUTPUT'];
const COMMENT_CHARS = [...'abcXYZ019 _-.:/,!*#"\'\\\t', 'é', '☕', 'ü'];

const not = fc.boolean();
const neg = (b: boolean): string => (b ? '! ' : '');

function address(family: Family): fc.Arbitrary<string> {
  if (family === 'ipv4') {
    const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    const mask = fc.oneof(fc.integer({ min: 0, max: 32 }).map(String), fc.constantFrom('255.0.255.0', '255.255.0.255'));
    return fc.tuple(ip, mask).map(([a, m]) => `${a}/${m}`);
  }
  const group = fc.nat(0xffff).map((n) => n.toString(16));
  const ip = fc.oneof(
    fc.array(group, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
    fc.tuple(group, group).map(([a, b]) => `${a}::${b}`),
    fc.constantFrom('::', '::1', 'fe80::', '::ffff:10.0.0.1'),
  );
  const mask = fc.oneof(fc.integer({ min: 0, max: 128 }).map(String), fc.constantFrom('ffff:0:ffff::'));
  return fc.tuple(ip, mask).map(([a, m]) => `${a}/${m}`);
}

const iface = fc.oneof(fc.constantFrom('eth0', 'lo', 'veth+', 'eth+', 'abcdefghijklmno', 'a_b-c.1'), fc.stringMatching(/^[a-z][a-z0-9]{0,6}\+?$/));
const port = fc.integer({ min: 0, max: 65535 });
const portSpec = fc.oneof(port.map(String), fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}:${Math.max(a, b)}`));
/** multiport refuses a range whose ends are equal or reversed. */
const multiPortSpec = fc.oneof(port.map(String), fc.tuple(port, port).filter(([a, b]) => a !== b).map(([a, b]) => `${Math.min(a, b)}:${Math.max(a, b)}`));
const comment = fc
  .array(fc.constantFrom(...COMMENT_CHARS), { maxLength: 120 })
  .map((cs) => cs.join(''))
  .filter((s) => Buffer.byteLength(s) <= 255);
const mark = fc.nat().map((n) => `0x${n.toString(16)}`);
const markMask = fc.tuple(mark, fc.option(mark, { nil: undefined })).map(([m, k]) => (k === undefined ? m : `${m}/${k}`));
const states = fc.subarray(['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'], { minLength: 1 }).map((s) => s.join(','));
const counters = fc.tuple(fc.nat(1_000_000), fc.nat(1_000_000_000)).map(([p, b]) => `[${p}:${b}]`);

interface RuleCtx {
  family: Family;
  chain: string;
  /** User chains this rule may jump to (later in the list: no loops). */
  targets: string[];
}

/**
 * Whether the kernel takes `-m limit --limit N/unit --limit-burst B` (xt_limit's checkentry). iptables stores
 * avg = 10000 * seconds-per-unit / N; the kernel refuses the rule (ERANGE, "Overflow, try lower") when
 * user2credits(avg * burst) wraps its u32, i.e. when avg * burst / 10000 * HZ * CREDITS_PER_JIFFY passes 2^32.
 * HZ * CREDITS_PER_JIFFY is 25,600-38,400 for the usual HZ (100-1000; 32,000 on this Debian kernel, HZ=250):
 * 1/hour with burst 38 (avg * burst = 1.368e9) is refused here, as CI found. The bound keeps below the strictest.
 */
export function limitAccepted([n, unit, burst]: [number, 'sec' | 'min' | 'hour', number]): boolean {
  const seconds = unit === 'sec' ? 1 : unit === 'min' ? 60 : 3600;
  const avg = Math.floor((10000 * seconds) / n);
  return (avg * burst) / 10000 < 0xffffffff / 38400;
}

function rule(c: RuleCtx): fc.Arbitrary<string> {
  const proto = c.family === 'ipv4'
    ? fc.constantFrom('tcp', 'udp', 'icmp', '47', '132', '200', 'all')
    : fc.constantFrom('tcp', 'udp', 'ipv6-icmp', '47', '132', '200', 'all');
  const parts = fc.record({
    src: fc.option(fc.tuple(not, address(c.family)), { nil: undefined }),
    dst: fc.option(fc.tuple(not, address(c.family)), { nil: undefined }),
    in: c.chain === 'OUTPUT' ? fc.constant(undefined) : fc.option(fc.tuple(not, iface), { nil: undefined }),
    out: c.chain === 'INPUT' ? fc.constant(undefined) : fc.option(fc.tuple(not, iface), { nil: undefined }),
    proto: fc.option(fc.tuple(not, proto), { nil: undefined }),
    ports: fc.option(fc.tuple(fc.option(fc.tuple(not, portSpec), { nil: undefined }), fc.option(fc.tuple(not, portSpec), { nil: undefined })), { nil: undefined }),
    multi: fc.option(fc.tuple(not, fc.constantFrom('sports', 'dports', 'ports'), fc.array(multiPortSpec, { minLength: 1, maxLength: 7 })), { nil: undefined }),
    frag: c.family === 'ipv4' ? fc.option(not, { nil: undefined }) : fc.constant(undefined),
    comment: fc.option(comment, { nil: undefined }),
    mark: fc.option(fc.tuple(not, markMask), { nil: undefined }),
    ct: fc.option(fc.tuple(not, states), { nil: undefined }),
    owner: c.chain === 'OUTPUT' ? fc.option(fc.tuple(not, fc.nat(70000), fc.option(fc.nat(70000), { nil: undefined })), { nil: undefined }) : fc.constant(undefined),
    limit: fc.option(fc.tuple(fc.integer({ min: 1, max: 10000 }), fc.constantFrom('sec', 'min', 'hour'), fc.integer({ min: 1, max: 100 })).filter(limitAccepted), { nil: undefined }),
    random: fc.option(fc.tuple(not, fc.integer({ min: 0, max: 1_000_000 })), { nil: undefined }),
    target: fc.oneof(
      fc.constantFrom('-j ACCEPT', '-j DROP', '-j RETURN', '', '-j LOG', '-j REJECT'),
      c.targets.length > 0 ? fc.tuple(fc.constantFrom('-j', '-g'), fc.constantFrom(...c.targets)).map(([j, t]) => `${j} ${t}`) : fc.constant('-j ACCEPT'),
      fc.tuple(comment.filter((s) => s.length > 0 && Buffer.byteLength(s) <= 29), fc.integer({ min: 0, max: 7 })).map(([p, l]) => `-j LOG --log-prefix${saveString(p)} --log-level ${l}`),
      markMask.map((m) => `-j MARK --set-xmark ${m}`),
      markMask.map((m) => `-j CONNMARK --set-xmark ${m}`),
      c.chain === 'OUTPUT' ? fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([a, b]) => `-j CLASSIFY --set-class ${a.toString(16)}:${b.toString(16)}`) : fc.constant('-j DROP'),
    ),
  });
  return parts.map((p) => {
    const out: string[] = [];
    if (p.src) out.push(`${neg(p.src[0])}-s ${p.src[1]}`);
    if (p.dst) out.push(`${neg(p.dst[0])}-d ${p.dst[1]}`);
    if (p.in) out.push(`${neg(p.in[0])}-i ${p.in[1]}`);
    if (p.out) out.push(`${neg(p.out[0])}-o ${p.out[1]}`);
    const l4 = p.proto !== undefined && !p.proto[0] && (p.proto[1] === 'tcp' || p.proto[1] === 'udp') ? p.proto[1] : null;
    // `! -p all` never matches: iptables refuses it.
    if (p.proto) out.push(`${neg(p.proto[0] && p.proto[1] !== 'all')}-p ${p.proto[1]}`);
    if (p.frag !== undefined) out.push(`${neg(p.frag)}-f`);
    if (l4 !== null && p.ports && (p.ports[0] || p.ports[1])) {
      out.push(`-m ${l4}`);
      if (p.ports[0]) out.push(`${neg(p.ports[0][0])}--sport ${p.ports[0][1]}`);
      if (p.ports[1]) out.push(`${neg(p.ports[1][0])}--dport ${p.ports[1][1]}`);
    }
    if (l4 !== null && p.multi) out.push(`-m multiport ${neg(p.multi[0])}--${p.multi[1]} ${p.multi[2].join(',')}`);
    if (p.comment !== undefined) out.push(`-m comment --comment${saveString(p.comment)}`);
    if (p.mark) out.push(`-m mark ${neg(p.mark[0])}--mark ${p.mark[1]}`);
    if (p.ct) out.push(`-m conntrack ${neg(p.ct[0])}--ctstate ${p.ct[1]}`);
    if (p.owner) out.push(`-m owner ${neg(p.owner[0])}--uid-owner ${p.owner[1]}${p.owner[2] === undefined ? '' : `-${p.owner[1] + p.owner[2]}`}`);
    if (p.limit) out.push(`-m limit --limit ${p.limit[0]}/${p.limit[1]} --limit-burst ${p.limit[2]}`);
    if (p.random) out.push(`-m statistic --mode random ${neg(p.random[0])}--probability ${(p.random[1] / 1_000_000).toFixed(6)}`);
    // REJECT --reject-with tcp-reset needs -p tcp; plain REJECT is fine everywhere in filter.
    if (p.target) out.push(p.target);
    return out.join(' ');
  });
}

/** One filter table: policies, user chains, rules in builtin and user chains. */
function filterTable(family: Family): fc.Arbitrary<string> {
  return fc.subarray(USER_NAMES).chain((users) => {
    const chains = [...BUILTIN, ...users];
    const rulesOf = (chain: string, i: number): fc.Arbitrary<string[]> => {
      const targets = BUILTIN.includes(chain as (typeof BUILTIN)[number]) ? users : users.slice(i + 1);
      const ruleArb = rule({ family, chain, targets }).map((r) => r);
      return fc.array(fc.tuple(counters, ruleArb), { maxLength: 6 }).map((rs) => rs.map(([cnt, r]) => `${cnt} -A ${chain} ${r}`.trimEnd()));
    };
    return fc
      .tuple(
        fc.array(fc.tuple(fc.constantFrom('ACCEPT', 'DROP'), counters), { minLength: 3, maxLength: 3 }),
        fc.tuple(...chains.map((c) => rulesOf(c, users.indexOf(c)))),
      )
      .map(([policies, rules]) => {
        const head = BUILTIN.map((b, i) => `:${b} ${policies[i]![0]} ${policies[i]![1]}`);
        const userDecl = users.map((u) => `:${u} - [0:0]`);
        return ['*filter', ...head, ...userDecl, ...rules.flat(), 'COMMIT', ''].join('\n');
      });
  });
}

/** A nat table with each NAT target on the hook it is valid on. */
function natTable(family: Family): fc.Arbitrary<string> {
  const addr = family === 'ipv4' ? fc.constantFrom('10.0.0.1', '192.0.2.9', '10.0.0.1-10.0.0.9') : fc.constantFrom('fd00::1', '2001:db8::5', 'fd00::1-fd00::9');
  const withPort = (a: string, p: string): string => (family === 'ipv6' && p !== '' ? `[${a}]:${p}` : p === '' ? a : `${a}:${p}`);
  const portRange = fc.oneof(fc.constant(''), port.filter((x) => x > 0).map(String), fc.tuple(port, port).filter(([a, b]) => a > 0 && b > 0).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`));
  const flags = fc.subarray(['--random', '--persistent']).map((f) => (f.length ? ` ${f.join(' ')}` : ''));
  const dnat = fc.tuple(addr, portRange, flags).map(([a, p, f]) => `-p tcp -j DNAT --to-destination ${withPort(a, p)}${f}`);
  const redirect = fc.tuple(portRange.filter((p) => p !== ''), fc.boolean()).map(([p, r]) => `-p udp -j REDIRECT --to-ports ${p}${r ? ' --random' : ''}`);
  const snat = fc.tuple(addr, flags, fc.boolean()).map(([a, f, rf]) => `-o eth0 -j SNAT --to-source ${a}${f}${rf ? ' --random-fully' : ''}`);
  const masq = fc.tuple(fc.boolean(), fc.boolean()).map(([rf, p]) => `${p ? '-p tcp ' : ''}-j MASQUERADE${p ? ' --to-ports 1024-65535' : ''}${rf ? ' --random-fully' : ''}`);
  const rulesIn = (chain: string, arb: fc.Arbitrary<string>) => fc.array(arb, { maxLength: 3 }).map((rs) => rs.map((r) => `-A ${chain} ${r}`));
  return fc
    .tuple(rulesIn('PREROUTING', fc.oneof(dnat, redirect)), rulesIn('OUTPUT', fc.oneof(dnat, redirect)), rulesIn('POSTROUTING', fc.oneof(snat, masq)))
    .map((parts) => ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ...parts.flat(), 'COMMIT', ''].join('\n'));
}

/** iptables-restore -c input for one family: a filter table and a nat table. */
export function ruleSet(family: Family): fc.Arbitrary<string> {
  return fc.tuple(filterTable(family), natTable(family)).map(([f, n]) => f + n);
}
