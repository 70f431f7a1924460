/**
 * The reader entry point (agent/netns/read.ts) on real namespaces, in each mode: what is read (legacy and nft
 * iptables, IPv4 and IPv6, ipsets, tc trees), completeness per source, vanished namespaces, a PID that is not
 * in the namespace, path validation, `auto`'s fallback when the netlink path cannot work, and an abort while every
 * tool slot is taken.
 */
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsReader, hasOpaqueRules, validateNetnsPath, type NetlinkThread, type NetnsReader, type ReaderMode } from '../../agent/netns/read.js';
import { emptyNetnsState } from '../../agent/netns/state.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';

/** Modes whose content is checked here, with where the netlink reads run (worker threads, or the calling thread as `inspect` does). */
const READ_MODES: [ReaderMode, NetlinkThread][] = [['nsenter', 'workers'], ['netlink', 'workers'], ['auto', 'workers'], ['netlink', 'caller'], ['auto', 'caller']];

const made: NetnsReader[] = [];
const readerOf = (mode: ReaderMode, extra: { nsenterPath?: string; maxOutputBytes?: number; thread?: NetlinkThread; concurrency?: number } = {}): NetnsReader => {
  const r = createNetnsReader({
    reader: mode, netnsConcurrency: extra.concurrency ?? 2, nsenterPath: extra.nsenterPath ?? 'nsenter', commandTimeoutMs: 5000,
    maxOutputBytes: extra.maxOutputBytes ?? 2 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc',
  }, {}, extra.thread ? { netlinkThread: extra.thread } : {});
  made.push(r);
  return r;
};
afterEach(async () => {
  for (const r of made.splice(0)) await r.close();
});

describe('reader entry: validation and opaque detection', () => {
  it('refuses relative paths, `..`, control characters', () => {
    expect(validateNetnsPath('/proc/1/ns/net')).toBe('/proc/1/ns/net');
    for (const bad of ['proc/1/ns/net', '/proc/../etc/passwd', '/var/run/netns/a\nb', '', 42]) expect(() => validateNetnsPath(bad)).toThrow();
  });

  it('hasOpaqueRules looks at every rule of every dump', () => {
    const s = emptyNetnsState();
    expect(hasOpaqueRules(s)).toBe(false);
    s.iptables.push({ backend: 'nft', family: 'ipv4', errors: [], tables: [{ name: 'filter', chains: [{ name: 'INPUT', policy: 'ACCEPT', builtin: true, counters: null, rules: [
      { text: '-j X', counters: null, target: 'X', goto: false, targetOptions: '', inInterface: null, outInterface: null, protocol: null, source: null, destination: null, dport: null, sport: null, matchSets: [], comment: null, modules: [], opaque: ['target X'] },
    ] }] }] });
    expect(hasOpaqueRules(s)).toBe(true);
  });
});

describe('reader entry: an abort while every tool slot is taken', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-slots-'));
  });
  afterAll(async () => {
    await writeFile(join(dir, 'go'), ''); // a read still waiting (a failed test) lets go
    await rm(dir, { recursive: true, force: true });
  });

  it('the waiting read resolves to an unread namespace (timeout, nothing spawned), the read holding the slot is untouched, the slot is freed after', async () => {
    // A stand-in for nsenter: the first tool run holds the only slot until `go` exists, then every run fails (exit 1).
    const nsenter = join(dir, 'nsenter');
    // It also ends once the directory is gone (afterAll): a run still waiting when a failed test ends never outlives it.
    await writeFile(nsenter, `#!/bin/sh\n: > ${join(dir, 'started')}\nwhile [ ! -e ${join(dir, 'go')} ] && [ -d ${dir} ]; do sleep 0.05; done\nexit 1\n`);
    await chmod(nsenter, 0o755);
    const reader = readerOf('nsenter', { nsenterPath: nsenter, concurrency: 1 });
    const target = { path: '/proc/self/ns/net', inode: null, pid: null };
    const holding = reader.read(target);
    await expect.poll(() => existsSync(join(dir, 'started')), { timeout: 10_000 }).toBe(true);

    const ac = new AbortController();
    const waiting = reader.read(target, ac.signal);
    ac.abort(new Error('collection deadline'));
    const before = reader.read(target, AbortSignal.abort(new Error('already aborted')));
    for (const [s, why] of [[await waiting, 'collection deadline'], [await before, 'already aborted']] as const) {
      expect(s.reader).toBe('nsenter');
      expect(s.sources!.every((x) => x.status === 'failed' && x.reason === 'timeout')).toBe(true);
      expect(s.errors).toEqual([{ tool: 'nsenter', reason: 'timeout', message: `aborted while waiting for a tool slot: ${why}` }]);
      expect(s.spawns).toBe(0);
    }

    await writeFile(join(dir, 'go'), '');
    const held = await holding;
    expect(held.sources!.length).toBeGreaterThan(0);
    expect(held.sources!.find((x) => x.source === 'links')).toEqual({ source: 'links', status: 'failed', reason: 'exit', message: 'ip: exit status 1' });
    // The slot came back: a later read runs its tools (they fail at once now), it does not wait forever.
    const after = await reader.read(target);
    expect(after.spawns).toBeGreaterThan(0);
    expect(reader.spawns).toBe(held.spawns + after.spawns);
  });
});

describeIntegration('reader on real namespaces', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'nft', 'iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft'] }, () => {
  let empty: TestNetns;
  beforeAll(async () => {
    empty = await createNetns('h4e');
    await empty.addPodInterface({ addr: '10.252.0.2/24' });
    await empty.startHolder();
  });
  afterAll(destroyAll);

  it('close() on abort, then close() again at the end: the second resolves only once the thread is gone', async () => {
    const { liveWorkers } = await import('../../agent/worker-loaded.js');
    const before = liveWorkers();
    const r = readerOf('netlink', { thread: 'workers' });
    await r.read({ path: empty.path, inode: statSync(empty.path).ino, pid: empty.holderPid });
    expect(liveWorkers()).toBe(before + 1);
    void r.close(); // what a command's abort handler does
    await r.close(); // what its end does: before, this one found no pool and returned at once
    expect(liveWorkers()).toBe(before);
  });

  describe.each(READ_MODES)('--reader %s, netlink reads on the %s thread(s)', (mode, thread) => {
    it('an untouched pod namespace: every source complete, no iptables, lo and eth0 noqueue', async () => {
      const s = await readerOf(mode, { thread }).read({ path: empty.path, inode: statSync(empty.path).ino, pid: empty.holderPid });
      expect(s.errors).toEqual([]);
      expect(s.reader).toBe(mode === 'auto' ? 'netlink' : mode);
      expect(s.sources!.map((x) => [x.source, x.status]).sort()).toEqual([
        ['ebtables-legacy', 'complete'], ['ebtables-nft', 'complete'], ['ipset', 'complete'], ['iptables-legacy-ipv4', 'complete'],
        ['iptables-legacy-ipv6', 'complete'], ['iptables-nft-ipv4', 'complete'], ['iptables-nft-ipv6', 'complete'], ['links', 'complete'],
        ['nftables', 'complete'], ['tc', 'complete'],
      ]);
      // Both readers give links, addresses and routes; no chaos-tproxy interface and no bridge table: no ebtables read.
      expect(s.addresses?.map((x) => `${x.interface} ${x.address}/${x.prefixLength}`)).toEqual(expect.arrayContaining(['eth0 10.252.0.2/24', 'lo 127.0.0.1/8', 'lo ::1/128']));
      expect(s.routes?.some((r) => r.destination === '10.252.0.0/24' && r.interface === 'eth0')).toBe(true);
      expect(s.ebtables).toBeUndefined();
      expect(s.links?.map((l) => [l.name, l.kind])).toEqual([['lo', null], ['eth0', 'veth']]);
      expect(s.iptables).toEqual([]);
      expect(s.ipsets.sets).toEqual([]);
      expect(s.tc.qdiscs.map((q) => [q.interface, q.kind, q.root])).toEqual([['lo', 'noqueue', true], ['eth0', 'noqueue', true]]);
    });

    it('legacy IPv4 and IPv6 rules with counters, and the ipsets they use', async () => {
      const ns = await createNetns('h4l');
      await ns.addPodInterface({ addr: '10.252.1.2/24', addr6: 'fd00:4:1::2/64' });
      const pid = await ns.startHolder();
      await ns.exec(['ipset', 'create', 'h4blk', 'hash:net']);
      await ns.exec(['ipset', 'add', 'h4blk', '10.9.0.0/16']);
      await ns.exec(['ipset', 'add', 'h4blk', '192.0.2.1']);
      await ns.exec(['iptables-legacy-restore', '-c'], {
        input: ['*filter', ':INPUT ACCEPT [5:300]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [7:420]', ':H4-OUT - [0:0]',
          '[3:180] -A OUTPUT -j H4-OUT',
          '[2:120] -A H4-OUT -o eth0 -p tcp -m set --match-set h4blk dst -m tcp --dport 443 -m comment --comment "block web" -j DROP',
          'COMMIT', ''].join('\n'),
      });
      await ns.exec(['ip6tables-legacy', '-A', 'INPUT', '-s', 'fd00:9::/64', '-j', 'DROP']);
      const s = await readerOf(mode, { thread }).read({ path: ns.path, inode: statSync(ns.path).ino, pid });
      expect(s.errors).toEqual([]);
      expect(s.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['legacy/ipv4', 'legacy/ipv6']);
      const filter = s.iptables[0]!.tables.find((t) => t.name === 'filter')!;
      expect(filter.chains.map((c) => [c.name, c.policy, c.builtin])).toEqual([
        ['INPUT', 'ACCEPT', true], ['FORWARD', 'DROP', true], ['OUTPUT', 'ACCEPT', true], ['H4-OUT', null, false],
      ]);
      expect(filter.chains[0]!.counters).toEqual({ packets: 5, bytes: 300 });
      const rule = filter.chains[3]!.rules[0]!;
      expect([rule.counters, rule.target, rule.outInterface, rule.protocol, rule.dport, rule.comment]).toEqual([{ packets: 2, bytes: 120 }, 'DROP', 'eth0', 'tcp', '443', 'block web']);
      expect(rule.matchSets).toEqual([{ name: 'h4blk', flags: 'dst', negated: false }]);
      const v6in = s.iptables[1]!.tables.find((t) => t.name === 'filter')!.chains.find((c) => c.name === 'INPUT')!;
      expect(v6in.rules.map((x) => [x.source, x.target])).toEqual([['fd00:9::/64', 'DROP']]);
      expect(s.ipsets.sets.map((x) => [x.name, x.type, x.members.map((m) => m.value).sort()])).toEqual([['h4blk', 'hash:net', ['10.9.0.0/16', '192.0.2.1']]]);
    });

    it('nft-backend rules (IPv4 and IPv6)', async () => {
      const ns = await createNetns('h4f');
      await ns.addPodInterface({ addr: '10.252.2.2/24', addr6: 'fd00:4:2::2/64' });
      const pid = await ns.startHolder();
      await ns.exec(['iptables-nft', '-t', 'nat', '-A', 'OUTPUT', '-d', '10.96.0.10/32', '-p', 'udp', '--dport', '53', '-j', 'DNAT', '--to-destination', '10.252.2.53:53']);
      await ns.exec(['ip6tables-nft', '-A', 'OUTPUT', '-d', 'fd00:9::1/128', '-j', 'REJECT']);
      const s = await readerOf(mode, { thread }).read({ path: ns.path, inode: statSync(ns.path).ino, pid });
      expect(s.errors).toEqual([]);
      expect(s.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['nft/ipv4', 'nft/ipv6']);
      const out = s.iptables[0]!.tables.find((t) => t.name === 'nat')!.chains.find((c) => c.name === 'OUTPUT')!;
      expect(out.rules.map((x) => [x.destination, x.protocol, x.dport, x.target, x.targetOptions])).toEqual([['10.96.0.10/32', 'udp', '53', 'DNAT', '--to-destination 10.252.2.53:53']]);
      const v6 = s.iptables[1]!.tables.find((t) => t.name === 'filter')!.chains.find((c) => c.name === 'OUTPUT')!;
      expect([v6.rules[0]!.target, v6.rules[0]!.destination]).toEqual(['REJECT', 'fd00:9::1/128']);
    });

    it('a tbf root, and an htb tree with classes and a u32 filter', async () => {
      const ns = await createNetns('h4t');
      await ns.addPodInterface({ addr: '10.252.3.2/24' });
      const pid = await ns.startHolder();
      await ns.exec(['ip', 'link', 'add', 'dummy0', 'type', 'veth', 'peer', 'name', 'dummy1']);
      await ns.exec(['tc', 'qdisc', 'add', 'dev', 'dummy0', 'root', 'handle', '1:', 'tbf', 'rate', '1mbit', 'burst', '32kb', 'limit', '64kb']);
      await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '20']);
      await ns.exec(['tc', 'class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '8mbit', 'ceil', '16mbit']);
      await ns.exec(['tc', 'class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '80mbit']);
      await ns.exec(['tc', 'filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dst', '10.9.9.9/32', 'flowid', '1:10']);
      const s = await readerOf(mode, { thread }).read({ path: ns.path, inode: statSync(ns.path).ino, pid });
      expect(s.errors).toEqual([]);
      const tbf = s.tc.qdiscs.find((q) => q.interface === 'dummy0')!;
      expect([tbf.kind, tbf.root, tbf.tbf?.rateBytesPerSecond, tbf.tbf?.burstBytes]).toEqual(['tbf', true, 125000, 32768]);
      const htb = s.tc.qdiscs.find((q) => q.interface === 'eth0')!;
      expect([htb.kind, htb.handle, htb.htb?.defaultClass]).toEqual(['htb', '1:', '1:20']);
      expect(s.tc.classes.filter((c) => c.interface === 'eth0').map((c) => [c.handle, c.parent, c.rateBytesPerSecond, c.ceilBytesPerSecond])).toEqual([
        ['1:10', 'root', 1_000_000, 2_000_000],
        ['1:20', 'root', 10_000_000, 10_000_000],
      ]);
      const f = s.tc.filters.filter((x) => x.interface === 'eth0' && x.flowid !== null);
      expect(f.map((x) => [x.kind, x.protocol, x.pref, x.flowid])).toEqual([['u32', 'ip', 1, '1:10']]);
    });

    it('a deleted namespace is unreadable: every source failed as vanished, nothing spawned', async () => {
      const ns = await createNetns('h4g');
      const path = ns.path;
      await ns.destroy();
      const s = await readerOf(mode, { thread }).read({ path, inode: null, pid: null });
      expect(s.sources!.every((x) => x.status === 'failed' && x.reason === 'vanished')).toBe(true);
      expect(s.spawns).toBe(0);
    });

    it('a path that now names another namespace (inode changed) is refused as vanished', async () => {
      const s = await readerOf(mode, { thread }).read({ path: empty.path, inode: 12345, pid: null });
      expect(s.sources!.every((x) => x.status === 'failed' && x.reason === 'vanished')).toBe(true);
    });

    it('a PID that is not in the namespace is not trusted for /proc facts: the namespace\'s own interfaces are read', async () => {
      const s = await readerOf(mode, { thread }).read({ path: empty.path, inode: statSync(empty.path).ino, pid: process.pid });
      expect(s.errors).toEqual([]);
      expect(s.tc.qdiscs.map((q) => q.interface)).toEqual(['lo', 'eth0']);
    });
  });

  it('--reader nsenter: an output cap cuts a source where it is read and marks it truncated, the others stay complete', async () => {
    const ns = await createNetns('h4c');
    const pid = await ns.startHolder();
    await ns.exec(['ipset', 'create', 'h4big', 'hash:ip', 'maxelem', '100000']);
    await ns.exec(['ipset', 'restore'], { input: Array.from({ length: 3000 }, (_, i) => `add h4big 10.${(i >> 8) & 255}.${i & 255}.1`).join('\n') + '\n' });
    const s = await readerOf('nsenter', { maxOutputBytes: 8192 }).read({ path: ns.path, inode: statSync(ns.path).ino, pid });
    expect(s.sources!.find((x) => x.source === 'ipset')).toMatchObject({ status: 'truncated', reason: 'output_limit' });
    expect(s.sources!.filter((x) => x.source !== 'ipset').every((x) => x.status === 'complete')).toBe(true);
    const members = s.ipsets.sets.find((x) => x.name === 'h4big')?.members.length ?? 0;
    expect(members).toBeGreaterThan(100);
    expect(members).toBeLessThan(3000);
  });

  it('--reader auto uses the tools for every read once the netlink path cannot work on the node (missing worker script simulated by a bad path is not needed: setns refusal is)', async () => {
    const r = readerOf('auto');
    const s = await r.read({ path: empty.path, inode: statSync(empty.path).ino, pid: empty.holderPid });
    expect(['netlink', 'nsenter']).toContain(s.reader);
    expect(s.errors).toEqual([]);
  });
});
