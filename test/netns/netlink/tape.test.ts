/**
 * The tape of a namespace read (tape.ts, read-namespace.ts readNamespaceTaped): a replay says `unchanged` only
 * when the real namespace answers exactly as before, and whatever it says, the state a taped read leads to (the kept
 * one when unchanged, the new one otherwise) equals a fresh readNamespace of the namespace at that moment. Each
 * case changes the real state between two reads (rules, members, qdiscs, counters moved by traffic, a namespace
 * swapped under the tape) and checks both.
 */
import { statSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { withNetns } from '../../../agent/netns/netlink/enter.js';
import { readNamespace, readNamespaceTaped, type NetlinkJob } from '../../../agent/netns/netlink/read-namespace.js';
import { NFNL_SUBSYS_NFTABLES, NFPROTO_UNSPEC, encodeNfGen, nfnlType } from '../../../agent/netns/netlink/nfnl/nfgen.js';
import { NFT_MSG_GETGEN, decodeGen } from '../../../agent/netns/netlink/nfnl/nft-gen.js';
import { decodeAddrMessage } from '../../../agent/netns/netlink/rtnl/addr.js';
import { decodeLinkMessage } from '../../../agent/netns/netlink/rtnl/link.js';
import { IFADDRMSG_LEN, IFINFOMSG_LEN, RTMSG_LEN, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, familyRequest } from '../../../agent/netns/netlink/rtnl/messages.js';
import { decodeRouteMessage } from '../../../agent/netns/netlink/rtnl/route.js';
import { UNREAD_ATTRS, decodeScript, unreadRanges, type Step } from '../../../agent/netns/netlink/tape.js';
import { NETLINK_SOURCES } from '../../../agent/netns/netlink/sources.js';
import type { NetnsState } from '../../../agent/netns/state.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../helpers/netns.js';

const job = (ns: TestNetns): NetlinkJob => ({ path: ns.path, inode: statSync(ns.path).ino, maxSourceBytes: 4 << 20, budgetMs: 5000 });

/** Reads through tapes as the pool does: keeps the last state and tape, counts the unchanged answers. */
class Taped {
  state: NetnsState | null = null;
  tape: Uint8Array | null = null;
  unchanged = 0;
  read(j: NetlinkJob): NetnsState {
    const r = readNamespaceTaped(j, NETLINK_SOURCES, this.tape);
    if (r.unchanged) {
      this.unchanged++;
      return this.state!;
    }
    this.state = r.state;
    this.tape = r.tape;
    return r.state;
  }
}

/** A taped read, checked against a fresh read of the same namespace right after. */
function readChecked(t: Taped, ns: TestNetns): { state: NetnsState; unchanged: boolean } {
  const before = t.unchanged;
  const state = t.read(job(ns));
  expect(state).toEqual(readNamespace(job(ns), NETLINK_SOURCES));
  return { state, unchanged: t.unchanged > before };
}

/**
 * Wait until the namespace stops changing by itself: a link just brought up sends IPv6 router solicitations and MLD
 * reports for a few seconds (traffic through its qdisc: counters move) and its link-local address leaves DAD.
 */
async function settled(ns: TestNetns): Promise<void> {
  let last = JSON.stringify(readNamespace(job(ns), NETLINK_SOURCES));
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = JSON.stringify(readNamespace(job(ns), NETLINK_SOURCES));
    if (now === last) return;
    last = now;
  }
  throw new Error(`${ns.path} kept changing for 10 s`);
}

/** A namespace with eth0 and no IPv6 (no router solicitations or MLD reports through eth0's qdisc by themselves). */
async function quietPod(addr: string): Promise<TestNetns> {
  const ns = await createNetns('tape');
  await ns.exec(['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
  await ns.addPodInterface({ addr });
  return ns;
}

const ping = (ns: TestNetns, n: number) => ns.exec(['busybox', 'ping', '-c', String(n), '-W', '1', '127.0.0.1']);

describeIntegration('namespace read tapes (replay: unchanged only when the kernel answers the same)', { root: true, commands: ['ip', 'tc', 'ipset', 'iptables-legacy', 'iptables-nft', 'busybox'] }, () => {
  afterAll(destroyAll);

  it('a namespace nobody touched replays unchanged, with a tape covering every source', async () => {
    const ns = await quietPod('10.81.0.2/24');
    await ns.exec(['iptables-legacy', '-A', 'OUTPUT', '-d', '10.9.9.9', '-j', 'DROP']);
    await ns.exec(['ipset', 'create', 'tape-s', 'hash:ip']);
    await ns.exec(['ipset', 'add', 'tape-s', '10.1.2.3']);
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'limit', '32kbit']);
    await settled(ns);
    const t = new Taped();
    const first = readChecked(t, ns);
    expect(first.unchanged).toBe(false);
    expect(t.tape).not.toBeNull();
    expect(first.state.ipsets.sets.map((s) => s.name)).toEqual(['tape-s']);
    const second = readChecked(t, ns);
    expect(second.unchanged).toBe(true);
    expect(second.state).toBe(first.state);
    expect(readChecked(t, ns).unchanged).toBe(true);
  });

  it('every kind of change between two reads is seen: legacy rule, ipset member, qdisc, iptables-nft rule, link', async () => {
    const ns = await quietPod('10.81.1.2/24');
    await ns.exec(['ipset', 'create', 'tape-m', 'hash:net']);
    await settled(ns);
    const t = new Taped();
    readChecked(t, ns);
    expect(readChecked(t, ns).unchanged).toBe(true);
    const changes: [string, string[], (s: NetnsState) => unknown][] = [
      ['legacy rule', ['iptables-legacy', '-A', 'INPUT', '-s', '10.7.7.7', '-j', 'DROP'], (s) => JSON.stringify(s.iptables).includes('10.7.7.7')],
      ['ipset member', ['ipset', 'add', 'tape-m', '10.3.0.0/16'], (s) => JSON.stringify(s.ipsets).includes('10.3.0.0/16')],
      ['qdisc', ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '2mbit', 'burst', '32kbit', 'limit', '32kbit'], (s) => s.tc.qdiscs.some((q) => q.kind === 'tbf')],
      ['qdisc parameter', ['tc', 'qdisc', 'change', 'dev', 'eth0', 'root', 'tbf', 'rate', '3mbit', 'burst', '32kbit', 'limit', '32kbit'], (s) => JSON.stringify(s.tc.qdiscs).includes('"rateBytesPerSecond":375000')],
      ['iptables-nft rule', ['iptables-nft', '-A', 'OUTPUT', '-d', '10.6.6.6', '-j', 'DROP'], (s) => JSON.stringify(s.iptables).includes('10.6.6.6')],
      ['link', ['ip', 'link', 'add', 'tape0', 'type', 'veth', 'peer', 'name', 'tape1'], (s) => s.links?.some((l) => l.name === 'tape0')],
    ];
    for (const [what, argv, seen] of changes) {
      await ns.exec(argv);
      await settled(ns);
      const r = readChecked(t, ns);
      expect({ what, unchanged: r.unchanged, seen: Boolean(seen(r.state)) }).toEqual({ what, unchanged: false, seen: true });
      expect({ what, unchanged: readChecked(t, ns).unchanged }).toEqual({ what, unchanged: true });
    }
  });

  it('counters that move with traffic make the namespace changed (rule and qdisc counters are reported)', async () => {
    const ns = await quietPod('10.81.2.2/24');
    await ns.exec(['iptables-legacy', '-A', 'OUTPUT', '-o', 'lo', '-j', 'ACCEPT']);
    const t = new Taped();
    const before = readChecked(t, ns).state;
    const packets = (s: NetnsState) => s.iptables.flatMap((d) => d.tables.flatMap((x) => x.chains.flatMap((c) => c.rules.map((r) => r.counters?.packets ?? 0)))).reduce((a, b) => a + b, 0);
    await ping(ns, 2);
    const after = readChecked(t, ns);
    expect(after.unchanged).toBe(false);
    expect(packets(after.state)).toBeGreaterThan(packets(before));
  });

  it('traffic that moves only link counters leaves the namespace unchanged, and the kept state is the fresh one', async () => {
    const ns = await quietPod('10.81.4.2/24');
    await settled(ns);
    const t = new Taped();
    readChecked(t, ns);
    await ping(ns, 3); // lo's counters move; lo has no qdisc and no rule counts it
    const r = readChecked(t, ns);
    expect(r.unchanged).toBe(true);
  });

  it('the attributes a tape leaves out change no decoded value (real link, address, route and nf_tables generation messages, bytes flipped)', async () => {
    const ns = await createNetns('tape');
    await ns.addPodInterface({ addr: '10.81.5.2/24', addr6: 'fd00:81:5::2/64' });
    await ns.exec(['ip', '-6', 'route', 'add', 'fd00:99::/64', 'via', 'fd00:81:5::1', 'expires', '600']);
    await ping(ns, 2);
    const { value: dumps } = withNetns(ns.path, null, (inside) => {
      const sock = inside.route();
      const nf = inside.netfilter();
      const limits = { maxBytes: 1 << 20, deadline: performance.now() + 5000 };
      const gen = nf.request('gen', nfnlType(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETGEN), encodeNfGen(NFPROTO_UNSPEC), limits).messages;
      return [
        { protocol: 0, decode: decodeLinkMessage as (p: Buffer) => unknown, msgs: sock.dump('links', RTM_GETLINK, familyRequest(IFINFOMSG_LEN, 0), limits).messages },
        { protocol: 0, decode: decodeAddrMessage, msgs: sock.dump('addresses', RTM_GETADDR, familyRequest(IFADDRMSG_LEN, 0), limits).messages },
        { protocol: 0, decode: decodeRouteMessage, msgs: sock.dump('routes', RTM_GETROUTE, familyRequest(RTMSG_LEN, 0), limits).messages },
        { protocol: 12, decode: decodeGen, msgs: gen },
      ];
    });
    const left = new Map<string, Set<number>>();
    for (const { protocol, decode, msgs } of dumps) {
      expect(msgs.length).toBeGreaterThan(0);
      for (const m of msgs) {
        const ranges = unreadRanges(protocol, m.type, m.payload);
        const key = `${protocol}:${m.type}`;
        for (const [a] of ranges) (left.get(key) ?? left.set(key, new Set()).get(key)!).add(m.payload.readUInt16LE(a - 2) & 0x3fff);
        const flipped = Buffer.from(m.payload);
        for (const [a, b] of ranges) for (let i = a; i < b; i++) flipped[i] = flipped[i]! ^ 0xa5;
        expect(decode(flipped)).toEqual(decode(m.payload));
      }
    }
    // Every listed attribute occurred in these real messages (so the check above covered it).
    expect(Object.fromEntries([...left].map(([k, v]) => [k, [...v].sort((x, y) => x - y)]))).toEqual(
      Object.fromEntries(UNREAD_ATTRS.map((u) => [`${u.protocol}:${u.type}`, [...u.attrs].sort((x, y) => x - y)])),
    );
  });

  it('a rule added then removed between two reads: whatever the replay says, the state is the fresh one', async () => {
    const ns = await quietPod('10.81.3.2/24');
    await ns.exec(['iptables-legacy', '-A', 'OUTPUT', '-d', '10.5.5.5', '-j', 'DROP']);
    await ns.exec(['iptables-nft', '-A', 'OUTPUT', '-d', '10.5.5.6', '-j', 'DROP']);
    const t = new Taped();
    readChecked(t, ns);
    for (const cmd of ['iptables-legacy', 'iptables-nft']) {
      await ns.exec([cmd, '-A', 'OUTPUT', '-d', '10.4.4.4', '-j', 'DROP']);
      await ns.exec([cmd, '-D', 'OUTPUT', '-d', '10.4.4.4', '-j', 'DROP']);
      readChecked(t, ns);
    }
  });

  it('a tape replayed against another namespace (a recycled inode): unchanged only when it answers identically', async () => {
    const a = await createNetns('tape');
    const b = await createNetns('tape');
    for (const ns of [a, b]) await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    const t = new Taped();
    readChecked(t, a);
    // The same configuration gives the same answers, hence the same state: reusing it is right.
    expect(readNamespaceTaped(job(b), NETLINK_SOURCES, t.tape).unchanged).toBe(true);
    expect(t.state).toEqual(readNamespace(job(b), NETLINK_SOURCES));
    await b.exec(['iptables-legacy', '-A', 'OUTPUT', '-d', '10.2.2.2', '-j', 'DROP']);
    const other = readNamespaceTaped(job(b), NETLINK_SOURCES, t.tape);
    expect(other.unchanged).toBe(false);
    expect(other.unchanged === false && other.state).toEqual(readNamespace(job(b), NETLINK_SOURCES));
    expect(JSON.stringify(other.unchanged === false && other.state.iptables)).toContain('10.2.2.2');
  });

  it('a replayed step matches only its exact taped answer: any byte flipped, one byte short or one too many is a miss', async () => {
    const ns = await quietPod('10.81.6.2/24');
    await ns.exec(['iptables-legacy', '-A', 'OUTPUT', '-d', '10.9.9.8', '-j', 'DROP']);
    await ns.exec(['iptables-nft', '-A', 'OUTPUT', '-d', '10.6.6.5', '-j', 'DROP']);
    await ns.exec(['ipset', 'create', 'tape-f', 'hash:ip']);
    await ns.exec(['ipset', 'add', 'tape-f', '10.1.2.4']);
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'limit', '32kbit']);
    await settled(ns);
    const r = readNamespaceTaped(job(ns), NETLINK_SOURCES, null);
    const steps = decodeScript(r.unchanged ? new Uint8Array() : r.tape!).steps;
    const { value: sock } = withNetns(ns.path, null, (i) => ({ route: i.route(), netfilter: i.netfilter(), raw4: i.raw('ipv4') }));
    const limits = () => ({ maxBytes: 4 << 20, deadline: performance.now() + 5000 });
    const replays = (st: Step): boolean => {
      if (st.kind === 'sockopt') return sock.raw4.replay(st);
      return (st.role === 'route' || st.role === 'tcRoute' ? sock.route : sock.netfilter).replay(st, limits());
    };
    try {
      expect(new Set(steps.map((st) => st.role))).toEqual(new Set(['route', 'tcRoute', 'raw4', 'netfilter', 'ipsetNetfilter']));
      let flips = 0;
      for (const st of steps) {
        expect({ type: st.kind === 'netlink' ? st.type : st.name, same: replays(st) }).toEqual({ type: st.kind === 'netlink' ? st.type : st.name, same: true });
        for (let i = 0; i < st.answer.length; i++) {
          const answer = Buffer.from(st.answer);
          answer[i]! ^= 0x01;
          expect({ step: st.role, at: i, same: replays({ ...st, answer }) }).toEqual({ step: st.role, at: i, same: false });
          flips++;
        }
        expect(replays({ ...st, answer: st.answer.subarray(0, st.answer.length - 1) })).toBe(false);
        expect(replays({ ...st, answer: Buffer.concat([st.answer, Buffer.alloc(1)]) })).toBe(false);
        expect(replays(st)).toBe(true); // a miss read its answer to the end: the socket still replays
      }
      expect(flips).toBeGreaterThan(1000);
    } finally {
      sock.route.close();
      sock.netfilter.close();
      sock.raw4.close();
    }
  });

  it('a tape that does not decode is ignored: the namespace is read afresh', async () => {
    const ns = await createNetns('tape');
    const r = readNamespaceTaped(job(ns), NETLINK_SOURCES, new Uint8Array([0, 0, 0, 9, 1, 2]));
    expect(r.unchanged).toBe(false);
    expect(r.unchanged === false && r.state).toEqual(readNamespace(job(ns), NETLINK_SOURCES));
  });
});
