import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NetnsRunner } from '../../agent/netns/nsenter/exec.js';
import { parseNftTables, parseProcNetDev, parseTableNames, parseTcBatchInput, readNetnsState } from '../../agent/netns/reader.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';

/** Every runner a test made: killAll() after each test, so no netns worker outlives it. */
const made: NetnsRunner[] = [];
const track = (r: NetnsRunner): NetnsRunner => (made.push(r), r);
const runnerOf = () => track(new NetnsRunner({ nsenterPath: 'nsenter', concurrency: 4, timeoutMs: 5000, maxOutputBytes: 16 << 20 }));
afterEach(() => {
  for (const r of made.splice(0)) r.killAll();
});

describe('reader: /proc and nft parsers', () => {
  it('reads table names, interfaces and nft tables', () => {
    expect(parseTableNames('filter\nmangle\n\n')).toEqual(['filter', 'mangle']);
    expect(parseProcNetDev('Inter-|   Receive\n face |bytes\n    lo: 0 0\n  eth0: 1 2\n')).toEqual(['lo', 'eth0']);
    expect(parseNftTables('table ip filter\ntable ip6 nat\ntable inet cilium\n')).toEqual([
      { family: 'ip', name: 'filter' },
      { family: 'ip6', name: 'nat' },
      { family: 'inet', name: 'cilium' },
    ]);
  });

  it('parses the batch the script built back into tc commands', () => {
    expect(parseTcBatchInput('qdisc show\nclass show dev lo\nfilter show dev lo\nclass show dev eth0\nfilter show dev eth0\n')).toEqual([
      { kind: 'qdisc', dev: '' },
      { kind: 'class', dev: 'lo' },
      { kind: 'filter', dev: 'lo' },
      { kind: 'class', dev: 'eth0' },
      { kind: 'filter', dev: 'eth0' },
    ]);
    expect(parseTcBatchInput('')).toEqual([]);
  });
});

describeIntegration('readNetnsState on real namespaces', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'nft', 'iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft'] }, () => {
  afterAll(async () => {
    await destroyAll();
  });

  let empty: TestNetns;
  beforeAll(async () => {
    empty = await createNetns('h4e');
    await empty.addPodInterface({ addr: '10.252.0.2/24' });
    await empty.startHolder();
  });

  it('an untouched pod namespace costs 1 nsenter (nft probe + one tc batch in the read script) and reads no iptables', async () => {
    const events: { tool: string; ok: boolean }[] = [];
    const r = track(new NetnsRunner({ nsenterPath: 'nsenter', concurrency: 4, timeoutMs: 5000, maxOutputBytes: 16 << 20, onCommand: (e) => events.push({ tool: e.tool, ok: e.ok }) }));
    const s = await readNetnsState(r, { netnsPath: empty.path, pid: empty.holderPid, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    // state.spawns: nsenter processes of this read; runner.spawns: Node-side spawns (the one worker).
    expect(s.spawns).toBe(1);
    expect([r.spawns, r.reads]).toEqual([1, 1]);
    // A second read: one more nsenter, no Node spawn.
    const again = await readNetnsState(r, { netnsPath: empty.path, pid: empty.holderPid, procRoot: '/proc' });
    expect([again.spawns, again.errors]).toEqual([1, []]);
    expect([r.spawns, r.reads]).toEqual([1, 2]);
    events.splice(2);
    // Per-tool events survive the single spawn.
    expect(events).toEqual([{ tool: 'nft', ok: true }, { tool: 'tc', ok: true }]);
    expect(s.iptables).toEqual([]);
    expect(s.ipsets.sets).toEqual([]);
    expect(s.notes).toContain('ipset not read: no iptables table and no tc filter in this namespace, so no ipset can match traffic');
    expect(s.tc.qdiscs.map((q) => [q.interface, q.kind, q.root])).toEqual([
      ['lo', 'noqueue', true],
      ['eth0', 'noqueue', true],
    ]);
    expect(s.tc.classes).toEqual([]);
    expect(s.tc.filters).toEqual([]);
    expect(s.tc.errors).toEqual([]);
  });

  it('without a PID (a bare netns file) it reads both legacy tools, and tc with the batch the script builds, in 1 spawn', async () => {
    const r = runnerOf();
    const s = await readNetnsState(r, { netnsPath: empty.path, pid: null, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    // legacy v4 + legacy v6 + nft probe + tc batch from /proc/self/net/dev, one script
    expect(s.spawns).toBe(1);
    expect(s.iptables).toEqual([]);
    expect(s.tc.qdiscs.map((q) => [q.interface, q.kind, q.root])).toEqual([
      ['lo', 'noqueue', true],
      ['eth0', 'noqueue', true],
    ]);
    expect(s.tc.errors).toEqual([]);
    expect(s.notes).toContain('ipset not read: no iptables table and no tc filter in this namespace, so no ipset can match traffic');
    // The same state as with the PID's /proc facts.
    const withPid = await readNetnsState(runnerOf(), { netnsPath: empty.path, pid: empty.holderPid, procRoot: '/proc' });
    expect(s.tc.qdiscs.map((q) => q.interface)).toEqual(withPid.tc.qdiscs.map((q) => q.interface));
    expect([s.tc.classes, s.tc.filters]).toEqual([withPid.tc.classes, withPid.tc.filters]);
  });

  it('exhaustive reads every tool', async () => {
    const r = runnerOf();
    const s = await readNetnsState(r, { netnsPath: empty.path, pid: empty.holderPid, procRoot: '/proc' }, { exhaustive: true });
    expect(s.errors).toEqual([]);
    // 2 legacy + 2 nft saves + tc + ipset + ip rule, one script
    expect(s.spawns).toBe(1);
    expect(s.iptables).toEqual([]);
    expect(s.ipsets.sets).toEqual([]);
    expect(s.ipRules).toEqual([]);
    expect(s.notes).toEqual([]);
  });

  it('reads legacy IPv4 and IPv6 rules with counters, and the ipsets they use', async () => {
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

    const r = runnerOf();
    const s = await readNetnsState(r, { netnsPath: ns.path, pid, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    // legacy v4 + legacy v6 + nft probe + tc + ipset, one script
    expect(s.spawns).toBe(1);
    expect(s.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['legacy/ipv4', 'legacy/ipv6']);
    const v4 = s.iptables[0]!;
    expect(v4.errors).toEqual([]);
    const filter = v4.tables.find((t) => t.name === 'filter')!;
    expect(filter.chains.map((c) => [c.name, c.policy, c.builtin])).toEqual([
      ['INPUT', 'ACCEPT', true], ['FORWARD', 'DROP', true], ['OUTPUT', 'ACCEPT', true], ['H4-OUT', null, false],
    ]);
    expect(filter.chains[0]!.counters).toEqual({ packets: 5, bytes: 300 });
    const rule = filter.chains[3]!.rules[0]!;
    expect(rule.counters).toEqual({ packets: 2, bytes: 120 });
    expect(rule.target).toBe('DROP');
    expect(rule.outInterface).toBe('eth0');
    expect(rule.protocol).toBe('tcp');
    expect(rule.dport).toBe('443');
    expect(rule.comment).toBe('block web');
    expect(rule.matchSets).toEqual([{ name: 'h4blk', flags: 'dst', negated: false }]);
    const v6in = s.iptables[1]!.tables.find((t) => t.name === 'filter')!.chains.find((c) => c.name === 'INPUT')!;
    expect(v6in.rules.map((x) => [x.source, x.target])).toEqual([['fd00:9::/64', 'DROP']]);
    expect(s.ipsets.sets.map((x) => [x.name, x.type, x.members.map((m) => m.value).sort()])).toEqual([
      ['h4blk', 'hash:net', ['10.9.0.0/16', '192.0.2.1']],
    ]);
    await ns.destroy();
  });

  it('reads nft-backend rules (IPv4 and IPv6) and skips the legacy tools', async () => {
    const ns = await createNetns('h4f');
    await ns.addPodInterface({ addr: '10.252.2.2/24', addr6: 'fd00:4:2::2/64' });
    const pid = await ns.startHolder();
    await ns.exec(['iptables-nft', '-t', 'nat', '-A', 'OUTPUT', '-d', '10.96.0.10/32', '-p', 'udp', '--dport', '53', '-j', 'DNAT', '--to-destination', '10.252.2.53:53']);
    await ns.exec(['ip6tables-nft', '-A', 'OUTPUT', '-d', 'fd00:9::1/128', '-j', 'REJECT']);
    const r = runnerOf();
    const s = await readNetnsState(r, { netnsPath: ns.path, pid, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    // nft probe + iptables-nft-save + ip6tables-nft-save + tc + ipset (the script saw the nft tables), one script
    expect(s.spawns).toBe(1);
    expect(s.ipsets).toEqual({ sets: [], errors: [] });
    expect(s.notes).toEqual([]);
    expect(s.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['nft/ipv4', 'nft/ipv6']);
    const nat = s.iptables[0]!.tables.find((t) => t.name === 'nat')!;
    const out = nat.chains.find((c) => c.name === 'OUTPUT')!;
    expect(out.rules.map((x) => [x.destination, x.protocol, x.dport, x.target, x.targetOptions])).toEqual([
      ['10.96.0.10/32', 'udp', '53', 'DNAT', '--to-destination 10.252.2.53:53'],
    ]);
    const v6 = s.iptables[1]!.tables.find((t) => t.name === 'filter')!.chains.find((c) => c.name === 'OUTPUT')!;
    expect(v6.rules[0]!.target).toBe('REJECT');
    expect(v6.rules[0]!.destination).toBe('fd00:9::1/128');
    await ns.destroy();
  });

  it('reads a tbf root, and an htb tree with classes and a u32 filter, in one tc batch', async () => {
    const ns = await createNetns('h4t');
    await ns.addPodInterface({ addr: '10.252.3.2/24' });
    const pid = await ns.startHolder();
    // A second interface so two devices are in the batch.
    await ns.exec(['ip', 'link', 'add', 'dummy0', 'type', 'veth', 'peer', 'name', 'dummy1']);
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'dummy0', 'root', 'handle', '1:', 'tbf', 'rate', '1mbit', 'burst', '32kb', 'limit', '64kb']);
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '20']);
    await ns.exec(['tc', 'class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '8mbit', 'ceil', '16mbit']);
    await ns.exec(['tc', 'class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '80mbit']);
    await ns.exec(['tc', 'filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dst', '10.9.9.9/32', 'flowid', '1:10']);
    const r = runnerOf();
    const s = await readNetnsState(r, { netnsPath: ns.path, pid, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    // script (nft probe + tc batch; no table, so no ipset) + ipset in a second spawn: a tc filter exists
    expect(s.spawns).toBe(2);
    expect(s.ipsets).toEqual({ sets: [], errors: [] });
    expect(s.notes).toEqual([]);
    expect(s.tc.errors).toEqual([]);
    const tbf = s.tc.qdiscs.find((q) => q.interface === 'dummy0')!;
    expect(tbf.kind).toBe('tbf');
    expect(tbf.root).toBe(true);
    expect(tbf.tbf?.rateBytesPerSecond).toBe(125000);
    expect(tbf.tbf?.burstBytes).toBe(32768);
    const htb = s.tc.qdiscs.find((q) => q.interface === 'eth0')!;
    expect([htb.kind, htb.handle, htb.htb?.defaultClass]).toEqual(['htb', '1:', '1:20']);
    expect(s.tc.classes.filter((c) => c.interface === 'eth0').map((c) => [c.handle, c.parent, c.rateBytesPerSecond, c.ceilBytesPerSecond])).toEqual([
      ['1:10', 'root', 1_000_000, 2_000_000],
      ['1:20', 'root', 10_000_000, 10_000_000],
    ]);
    const f = s.tc.filters.filter((x) => x.interface === 'eth0' && x.flowid !== null);
    expect(f.map((x) => [x.kind, x.protocol, x.pref, x.flowid])).toEqual([['u32', 'ip', 1, '1:10']]);
    await ns.destroy();
  });

  it('reads fwmark ip rules only when a mangle TPROXY / DIVERT rule exists', async () => {
    const ns = await createNetns('h4r');
    await ns.addPodInterface({ addr: '10.252.4.2/24' });
    const pid = await ns.startHolder();
    const { ChaosMeshReplay } = await import('../helpers/chaos-mesh.js');
    await new ChaosMeshReplay(ns, 'legacy').httpChaos({ port: 8080, proxyPort: 58080 });
    const r = runnerOf();
    const s = await readNetnsState(r, { netnsPath: ns.path, pid, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    // script (legacy v4 + nft probe + tc + ipset) + ip rule in a second spawn
    expect(s.spawns).toBe(2);
    expect(s.ipRules).toEqual(['32765:\tfrom all fwmark 0x1 lookup 100']);
    const mangle = s.iptables[0]!.tables.find((t) => t.name === 'mangle')!;
    expect(mangle.chains.find((c) => c.name === 'PREROUTING')!.rules.map((x) => x.target)).toEqual(['DIVERT', 'TPROXY']);
    await ns.destroy();
  });

  it('a deleted namespace is reported as vanished, without a spawn', async () => {
    const ns = await createNetns('h4g');
    const path = ns.path;
    await ns.destroy();
    const r = runnerOf();
    const s = await readNetnsState(r, { netnsPath: path, pid: null, procRoot: '/proc' });
    expect(s.errors).toEqual([{ tool: 'netns', reason: 'vanished', message: `${path} no longer exists` }]);
    expect(s.spawns).toBe(0);
  });

  it('a PID that is not in the namespace is not trusted for /proc facts', async () => {
    const r = runnerOf();
    // Our own PID lives in the host namespace, not in `empty`: the reader must fall back to reading everything.
    const s = await readNetnsState(r, { netnsPath: empty.path, pid: process.pid, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    expect(s.spawns).toBe(1);
    // The host's interfaces were not used: the script read the namespace's own.
    expect(s.tc.qdiscs.map((q) => q.interface)).toEqual(['lo', 'eth0']);
  });
});

describeIntegration('readNetnsState without nft in the image', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'iptables-nft'] }, () => {
  let dir: string;
  afterAll(async () => {
    await destroyAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('notes it once, runs both nft saves, and reads ipsets in a second spawn when the saves show tables', async () => {
    // An nsenter whose PATH holds every tool but nft (as an image without nftables would).
    dir = await mkdtemp('/tmp/h10-nonft-');
    await mkdir(`${dir}/bin`);
    for (const t of ['iptables-legacy-save', 'ip6tables-legacy-save', 'iptables-nft-save', 'ip6tables-nft-save', 'ipset', 'tc', 'ip']) {
      await symlink(execFileSync('sh', ['-c', 'command -v "$1"', 'sh', t], { encoding: 'utf8' }).trim(), `${dir}/bin/${t}`);
    }
    await writeFile(`${dir}/nsenter`, `#!/bin/sh\nPATH=${dir}/bin\nexport PATH\nexec ${execFileSync('sh', ['-c', 'command -v nsenter'], { encoding: 'utf8' }).trim()} "$@"\n`, { mode: 0o755 });
    const ns = await createNetns('h4k');
    await ns.addPodInterface({ addr: '10.252.5.2/24' });
    const pid = await ns.startHolder();
    const r = track(new NetnsRunner({ nsenterPath: `${dir}/nsenter`, concurrency: 2, timeoutMs: 5000, maxOutputBytes: 1 << 20 }));
    const s = await readNetnsState(r, { netnsPath: ns.path, pid, procRoot: '/proc' });
    expect(s.errors).toEqual([]);
    expect(s.spawns).toBe(1);
    expect(s.notes).toEqual([
      'nft is not installed: both iptables-nft-save tools run in every namespace',
      'ipset not read: no iptables table and no tc filter in this namespace, so no ipset can match traffic',
    ]);
    await ns.exec(['iptables-nft', '-A', 'OUTPUT', '-d', '10.9.9.9/32', '-j', 'DROP']);
    await ns.exec(['ipset', 'create', 'h4knft', 'hash:ip']);
    const s2 = await readNetnsState(r, { netnsPath: ns.path, pid, procRoot: '/proc' });
    expect(s2.errors).toEqual([]);
    // script (both nft saves, no probe) + ipset: the script could not know the nft tables without nft
    expect(s2.spawns).toBe(2);
    expect(s2.notes).toEqual([]);
    expect(s2.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['nft/ipv4']);
    expect(s2.iptables[0]!.tables.find((t) => t.name === 'filter')!.chains.find((c) => c.name === 'OUTPUT')!.rules.map((x) => [x.destination, x.target])).toEqual([['10.9.9.9/32', 'DROP']]);
    expect(s2.ipsets.sets.map((x) => x.name)).toEqual(['h4knft']);
  });
});

/** Chaos Mesh's collection, as chaos-daemon does it: per container, one after another, 3 nsenter spawns. */
async function chaosMeshBaseline(pids: number[], containersPerPod: number): Promise<number> {
  let spawned = 0;
  const one = (pid: number, argv: string[]) => new Promise<void>((resolve, reject) => {
    const c = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    spawned += 1;
    let out = '';
    c.stdout.on('data', (b: Buffer) => void (out += b.toString()));
    c.stderr.resume();
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')}: exit ${code}`))));
  });
  for (const pid of pids) {
    for (let k = 0; k < containersPerPod; k++) {
      await one(pid, ['iptables-save', '-c']);
      await one(pid, ['ipset', 'save', '-o', 'xml']);
      await one(pid, ['tc', 'qdisc']);
    }
  }
  return spawned;
}

describeIntegration('readNetnsState cost (measured)', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'nft', 'iptables-legacy', 'iptables-save'] }, () => {
  const many: TestNetns[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 20; i++) {
      const ns = await createNetns('h4m');
      await ns.addPodInterface({ addr: `10.254.${i}.2/24` });
      await ns.startHolder();
      many.push(ns);
    }
  });
  afterAll(async () => {
    await destroyAll();
  });

  it('20 namespaces at concurrency 4: 1 nsenter each (forked by at most 4 workers), untouched or with Chaos Mesh partition + bandwidth state', async () => {
    const targets = () => many.map((ns) => ({ netnsPath: ns.path, pid: ns.holderPid, procRoot: '/proc' }));
    const timed = async (label: string) => {
      const r = runnerOf();
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const states = await Promise.all(targets().map((t) => readNetnsState(r, t)));
      const c = process.cpuUsage(c0);
      const ms = performance.now() - t0;
      const workerCpu = r.workerCpuSeconds();
      process.stderr.write(`[cost] ${label}: ${states.length} namespaces, ${r.reads} reads, ${r.spawns} Node spawns, ${ms.toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms agent CPU + ${(workerCpu * 1000).toFixed(0)} ms in workers and tools, max ${r.maxActive} at once\n`);
      // 20 reads of 3-5 tools each cannot take less than one clock tick in all.
      expect(workerCpu).toBeGreaterThan(0);
      for (const s of states) expect(s.errors).toEqual([]);
      return { r, states, ms };
    };
    await timed('warm-up');
    const clean = await timed('untouched');
    expect(clean.r.reads).toBe(20);
    expect(clean.r.spawns).toBe(4);
    expect(clean.states.map((s) => s.spawns)).toEqual(Array(20).fill(1));
    expect(clean.r.maxActive).toBe(4);

    // One namespace alone, untouched.
    const single = runnerOf();
    const t1 = performance.now();
    await readNetnsState(single, targets()[0]!);
    process.stderr.write(`[cost] one untouched namespace (worker start included): ${single.spawns} Node spawns, ${(performance.now() - t1).toFixed(1)} ms\n`);

    const { ChaosMeshReplay } = await import('../helpers/chaos-mesh.js');
    for (const [i, ns] of many.entries()) {
      await new ChaosMeshReplay(ns, 'legacy').partition({ experiment: `exp-${i}-partition`, direction: 'to', cidrs: ['10.9.0.1/32', '10.9.0.2/32'] });
      await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'tbf', 'rate', '1000000', 'burst', '10000', 'limit', '20000']);
    }
    const pids = many.map((ns) => ns.holderPid!);
    const rounds: { agent: number; base: number }[] = [];
    for (let round = 0; round < 3; round++) {
      const chaos = await timed(`Chaos Mesh partition + bandwidth, round ${round + 1}`);
      expect([chaos.r.reads, chaos.r.spawns]).toEqual([20, 4]);
      for (const s of chaos.states) {
        expect(s.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['legacy/ipv4']);
        expect(s.ipsets.sets).toHaveLength(3);
        expect(s.tc.qdiscs.find((q) => q.interface === 'eth0')!.kind).toBe('tbf');
      }
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const spawned = await chaosMeshBaseline(pids, 2);
      const base = performance.now() - t0;
      const bc = process.cpuUsage(c0);
      expect(spawned).toBe(120);
      process.stderr.write(`[cost] baseline (chaos-daemon style, sequential, 2 containers x 3 tools): ${spawned} spawns, ${base.toFixed(0)} ms wall, ${((bc.user + bc.system) / 1000).toFixed(0)} ms agent CPU\n`);
      rounds.push({ agent: chaos.ms, base });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    process.stderr.write(`[cost] ratio of medians baseline/agent: ${(median(rounds.map((x) => x.base)) / median(rounds.map((x) => x.agent))).toFixed(2)}\n`);
    const single2 = runnerOf();
    const t2 = performance.now();
    const s2 = await readNetnsState(single2, targets()[0]!);
    process.stderr.write(`[cost] one namespace with partition + bandwidth state (worker start included): ${single2.spawns} Node spawns, ${(performance.now() - t2).toFixed(1)} ms\n`);
    expect([s2.spawns, single2.spawns, single2.reads]).toEqual([1, 1, 1]);
  });
});
