/**
 * `chaos-node-agent inspect --netns/--pid` spawned as a CLI against real namespaces holding Chaos Mesh's replayed
 * injection and recovery state (test/helpers/chaos-mesh.ts), kube-proxy-like rules, and nothing at all.
 * Needs dist/ (npm run build): bin/chaos-node-agent.js imports dist/agent/cli.js.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';
import { ChaosMeshReplay, chainName, ipsetName } from '../helpers/chaos-mesh.js';
import { LOADED_MACHINE_DEADLINES } from '../helpers/serve.js';
import { namespaceType } from '../../agent/netns/ns-type.js';

const BIN = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;

interface Entry {
  namespace: string;
  name: string;
  runtime: string;
  netns: { inode: number; path: string } | null;
  chaos: { verdict: string; kinds: string[]; findings: string[] };
  iptables: { backend: string; family: string; tables: { name: string; chains: { name: string; rules: { text: string }[] }[] }[] }[];
  ipsets: { sets: { name: string; type: string; members: { value: string }[] }[] };
  tc: { qdiscs: { interface: string; kind: string; handle: string; parent: string }[] };
  errors: string[];
  spawns: number;
  reader: string | null;
}

async function inspect(args: string[]): Promise<{ code: number; json: { pods: Entry[] } | null; stdout: string; stderr: string }> {
  const r = await execa('node', [BIN, 'inspect', ...args, ...LOADED_MACHINE_DEADLINES], { reject: false, timeout: 60_000, env: { CHAOS_AGENT_LOG_LEVEL: 'warn' } });
  const stdout = String(r.stdout);
  let json = null;
  if (args.includes('--json')) json = JSON.parse(stdout) as { pods: Entry[] };
  return { code: r.exitCode ?? -1, json, stdout, stderr: String(r.stderr) };
}

async function one(ns: TestNetns): Promise<Entry> {
  const r = await inspect(['--netns', ns.path, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.json!.pods).toHaveLength(1);
  const e = r.json!.pods[0]!;
  expect(e.errors).toEqual([]);
  expect([e.namespace, e.name, e.runtime]).toEqual(['', '', '']);
  expect(e.netns!.path).toBe(ns.path);
  return e;
}

describe('inspect --all with no runtime reachable', () => {
  it('says so once, with the endpoints tried, and exits 1', async () => {
    const sock = '/nonexistent/h5.sock';
    const r = await execa('node', [BIN, 'inspect', '--all', '--runtime-endpoint', `unix://${sock}`, '--docker-endpoint', `unix://${sock}`, '--runtime-timeout', '2s'],
      { reject: false, timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false });
    expect([r.exitCode, String(r.stdout)]).toEqual([1, '']);
    expect(String(r.stderr).split('\n')).toEqual([
      'chaos-node-agent inspect: no container runtime reachable; tried:',
      `  unix://${sock} (cri): unix://${sock} Version: runtime unreachable at ${sock}: connect ENOENT ${sock} (UNAVAILABLE)`,
      `  unix://${sock} (docker): unix://${sock} GET /_ping: connect ENOENT ${sock}`,
    ]);
  });
});

describe('inspect --netns / --pid of something that is not a network namespace, or not there', () => {
  /** A directory of the test's own, removed when it ends. */
  async function testDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'cna-targets-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** The entry's one error, its finding, its reader and the human line instead of the dumps; exit 1, nothing on stderr. */
  async function unread(args: string[]): Promise<string> {
    const [j, h] = await Promise.all([inspect([...args, '--json']), inspect(args)]);
    expect([j.code, j.stderr, h.code, h.stderr]).toEqual([1, '', 1, '']);
    const e = j.json!.pods[0]!;
    expect([e.netns, e.reader, e.spawns, e.chaos.findings]).toEqual([null, null, 0, [`not inspected: ${e.errors[0]}`]]);
    expect(e.errors).toHaveLength(1);
    expect(h.stdout.split('\n').at(-1)).toBe(`  network namespace not read: ${e.errors[0]}`);
    expect(h.stdout).not.toMatch(/iptables|ipsets|tc:|read by/);
    return e.errors[0]!;
  }

  it('a plain file, a directory, a FIFO: not a network namespace', async () => {
    const dir = await testDir();
    const file = join(dir, 'plain');
    await writeFile(file, 'x');
    const fifo = join(dir, 'fifo');
    await execa('mkfifo', [fifo]);
    expect(await unread(['--netns', file])).toMatch(new RegExp(`^${file} is not a network namespace \\(a regular file on a filesystem of type 0x[0-9a-f]+, not nsfs\\)$`));
    expect(await unread(['--netns', dir])).toBe(`${dir} is not a network namespace (a directory)`);
    expect(await unread(['--netns', fifo])).toBe(`${fifo} is not a network namespace (a FIFO)`);
  });

  it('the nsfs file of another kind of namespace: named by its kind, not read', async () => {
    // Real nsfs files, so the file checks pass: only the namespace's type (NS_GET_NSTYPE) tells them apart.
    expect(await unread(['--netns', '/proc/self/ns/mnt'])).toBe('/proc/self/ns/mnt is not a network namespace (a mnt namespace)');
    expect(await unread(['--netns', '/proc/self/ns/pid'])).toBe('/proc/self/ns/pid is not a network namespace (a pid namespace)');
    expect(namespaceType('/proc/self/ns/net')).toBe('net');
    expect(namespaceType('/proc/self/ns/uts')).toBe('uts');
    expect(() => namespaceType('/proc/self/status')).toThrow(/NS_GET_NSTYPE failed/);
  });

  it('no such file, no such process, a process that has exited', async () => {
    const dir = await testDir();
    expect(await unread(['--netns', join(dir, 'absent')])).toBe(`${join(dir, 'absent')}: no such file`);
    const gone = execa('true');
    await gone;
    expect(await unread(['--pid', String(gone.pid)])).toBe(`no such process: ${gone.pid}`);
    // A zombie: `true` exits under a parent (the exec'd sleep) that never waits for it.
    const parent = execa('sh', ['-c', 'true & exec sleep 30'], { reject: false });
    try {
      let zombie = '';
      for (let i = 0; i < 100 && !zombie; i++) {
        const kids = (await readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').catch(() => '')).trim();
        if (kids && (await readFile(`/proc/${kids}/stat`, 'utf8').catch(() => '')).includes(') Z ')) zombie = kids;
        else await new Promise((r) => setTimeout(r, 20));
      }
      expect(zombie).not.toBe('');
      expect(await unread(['--pid', zombie])).toBe(`process ${zombie} has exited (/proc/${zombie}/ns/net is gone)`);
    } finally {
      parent.kill('SIGKILL');
      await parent;
    }
  });
});

describeIntegration('inspect CLI on replayed Chaos Mesh state', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'iptables-legacy', 'iptables-nft'] }, () => {
  beforeAll(() => {
    if (!existsSync(new URL('../../dist/agent/cli.js', import.meta.url))) throw new Error('dist/ missing: run `npx tsc -p tsconfig.json` first');
  });
  afterAll(async () => {
    await destroyAll();
  });

  async function podNs(prefix: string, addr: string): Promise<TestNetns> {
    const ns = await createNetns(prefix);
    await ns.addPodInterface({ addr });
    return ns;
  }

  it('untouched namespace: clean, no findings', async () => {
    const ns = await podNs('h4c', '10.253.0.2/24');
    const e = await one(ns);
    expect(e.chaos).toEqual({ verdict: 'clean', kinds: [], findings: [] });
    expect(e.iptables).toEqual([]);
    expect(e.tc.qdiscs.map((q) => `${q.interface} ${q.kind}`)).toEqual(['lo noqueue', 'eth0 noqueue']);
  });

  it('only kube-proxy / CNI-like rules: clean (reported, never called chaos)', async () => {
    const ns = await podNs('h4k', '10.253.1.2/24');
    await ns.exec(['iptables-legacy-restore'], {
      input: ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
        ':KUBE-SERVICES - [0:0]', ':KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU',
        '-A KUBE-SVC-TCOU7JCQXEZGVUNU -p udp -m udp -j DNAT --to-destination 10.253.1.53:53', 'COMMIT',
        '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':CNI-FW - [0:0]',
        '-A FORWARD -j CNI-FW', '-A CNI-FW -s 10.253.1.0/24 -j ACCEPT', 'COMMIT', ''].join('\n'),
    });
    const e = await one(ns);
    expect(e.chaos).toEqual({ verdict: 'clean', kinds: [], findings: [] });
    expect(e.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['legacy/ipv4']);
    expect(e.iptables[0]!.tables.map((t) => t.name).sort()).toEqual(['filter', 'nat']);
  });

  it('partition (legacy, as Chaos Mesh injects it): active partition; recovery leaves scaffolding', async () => {
    const ns = await podNs('h4p', '10.253.2.2/24');
    const cm = new ChaosMeshReplay(ns, 'legacy');
    const exp = 'web-partition-to-db';
    const p = await cm.partition({ experiment: exp, direction: 'to', cidrs: ['10.253.2.10/32', '10.253.2.11/32'], cidrPorts: ['10.253.9.0/24,5432'] });
    expect(p.chain).toBe(chainName('OUTPUT', exp));
    expect(p.setName).toBe(ipsetName(exp, 'set_tgt'));
    expect(p.chain).toMatch(/^OUTPUT\/web-p_[0-9a-f]{13}_$/);

    const e = await one(ns);
    expect(e.chaos.verdict).toBe('active');
    expect(e.chaos.kinds).toEqual(['partition']);
    expect(e.chaos.findings).toEqual([
      `${p.chain} drops eth0 traffic to ipset ${p.setName} (list:set of 2 sets, 3 members)`,
      'CHAOS-INPUT is empty (jumped to from INPUT)',
    ]);
    const filter = e.iptables[0]!.tables.find((t) => t.name === 'filter')!;
    expect(filter.chains.map((c) => c.name)).toEqual(['INPUT', 'FORWARD', 'OUTPUT', 'CHAOS-INPUT', 'CHAOS-OUTPUT', p.chain]);
    expect(filter.chains.find((c) => c.name === p.chain)!.rules.map((r) => r.text)).toEqual([
      `-o eth0 -m set --match-set ${p.setName} dst,dst -j DROP`,
    ]);
    expect(e.ipsets.sets.map((s) => [s.name, s.type, s.members.length]).sort()).toEqual([
      [ipsetName(exp, 'net_tgt'), 'hash:net', 2],
      [ipsetName(exp, 'netport_tgt'), 'hash:net,port', 1],
      [p.setName, 'list:set', 2],
    ].sort());

    await cm.recover();
    const after = await one(ns);
    expect(after.chaos.verdict).toBe('scaffolding');
    expect(after.chaos.kinds).toEqual([]);
    expect(after.chaos.findings.length).toBeGreaterThan(0);
    // The per-experiment chain and its rule are still there, unreachable; the ipsets stay.
    const f2 = after.iptables[0]!.tables.find((t) => t.name === 'filter')!;
    expect(f2.chains.find((c) => c.name === 'CHAOS-OUTPUT')!.rules).toEqual([]);
    expect(f2.chains.find((c) => c.name === p.chain)!.rules).toHaveLength(1);
    expect(after.ipsets.sets).toHaveLength(3);
  });

  it('partition through the nft backend: active partition', async () => {
    const ns = await podNs('h4q', '10.253.3.2/24');
    const cm = new ChaosMeshReplay(ns, 'nft');
    const p = await cm.partition({ experiment: 'api-from-gw', direction: 'from', cidrs: ['10.253.3.99/32'] });
    const e = await one(ns);
    expect(e.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['nft/ipv4']);
    expect(e.chaos.verdict).toBe('active');
    expect(e.chaos.kinds).toEqual(['partition']);
    expect(e.chaos.findings[0]).toContain(p.chain);
    expect(p.chain).toMatch(/^INPUT\/api-f_[0-9a-f]{14}_$/);
  });

  it('bandwidth (tbf root): active bandwidth; recovery: scaffolding', async () => {
    const ns = await podNs('h4b', '10.253.4.2/24');
    const cm = new ChaosMeshReplay(ns, 'legacy');
    await cm.bandwidth({ rate: 1_000_000, burst: 10_000, limit: 20_000 });
    const e = await one(ns);
    expect(e.chaos.verdict).toBe('active');
    expect(e.chaos.kinds).toEqual(['bandwidth']);
    expect(e.chaos.findings[0]).toContain('eth0');
    expect(e.chaos.findings[0]).toContain('tbf');
    expect(e.tc.qdiscs.filter((q) => q.interface === 'eth0').map((q) => `${q.kind} ${q.handle} ${q.parent}`)).toEqual(['tbf 1: root']);

    await cm.recover();
    const after = await one(ns);
    expect(after.chaos.verdict).toBe('scaffolding');
    expect(after.chaos.kinds).toEqual([]);
    expect(after.tc.qdiscs.filter((q) => q.interface === 'eth0').map((q) => q.kind)).toEqual(['noqueue']);
  });

  it('filtered bandwidth (htb tree + TC-TABLES CLASSIFY): active bandwidth', async () => {
    const ns = await podNs('h4w', '10.253.5.2/24');
    const cm = new ChaosMeshReplay(ns, 'legacy');
    await cm.filteredBandwidth({ experiment: 'slow-db', cidrs: ['10.253.5.20/32'], rate: 800_000, burst: 10_000, limit: 20_000 });
    const e = await one(ns);
    expect(e.chaos.verdict).toBe('active');
    expect(e.chaos.kinds).toEqual(['bandwidth']);
    // The tbf under the classified class serves it: no "nothing sits under 1:4" scaffolding sentence.
    expect(e.chaos.findings.filter((f) => f.includes('classifies traffic into'))).toEqual([]);
    expect(e.tc.qdiscs.filter((q) => q.interface === 'eth0').map((q) => `${q.kind} ${q.handle} ${q.parent}`).sort()).toEqual([
      'htb 1: root', 'pfifo 2: 1:1', 'pfifo 3: 1:2', 'pfifo 4: 1:3', 'tbf 5: 1:4',
    ]);
    const filter = e.iptables[0]!.tables.find((t) => t.name === 'filter')!;
    expect(filter.chains.find((c) => c.name === 'TC-TABLES-0')!.rules.map((r) => r.text)).toEqual([
      `-o eth0 -m set --match-set ${ipsetName('slow-db', 'set_batgt')} dst,dst -j CLASSIFY --set-class 0001:0004`,
    ]);
  });

  it('HTTPChaos (chaos-tproxy DIVERT/TPROXY + fwmark rule): active http, ip rule read', async () => {
    const ns = await podNs('h4h', '10.253.7.2/24');
    await new ChaosMeshReplay(ns, 'legacy').httpChaos({ port: 80, proxyPort: 58080 });
    const r = await inspect(['--netns', ns.path, '--json']);
    expect(r.code).toBe(0);
    const e = r.json!.pods[0]! as Entry & { ipRules: string[] };
    expect(e.errors).toEqual([]);
    expect(e.chaos.verdict).toBe('active');
    expect(e.chaos.kinds).toEqual(['http']);
    expect(e.ipRules).toEqual(['32765:\tfrom all fwmark 0x1 lookup 100']);
  });

  it('--pid reads the namespace of a process; human output starts with the verdict', async () => {
    const ns = await podNs('h4i', '10.253.6.2/24');
    const pid = await ns.startHolder();
    await new ChaosMeshReplay(ns, 'legacy').bandwidth({ rate: 1_000_000, burst: 10_000, limit: 20_000 });
    const j = await inspect(['--pid', String(pid), '--json']);
    expect(j.code).toBe(0);
    expect(j.json!.pods[0]!.netns!.path).toBe(`/proc/${pid}/ns/net`);
    expect(j.json!.pods[0]!.chaos.kinds).toEqual(['bandwidth']);
    // pid known: legacy v4 (chains exist) + nft probe + one tc batch + ipset
    expect(j.json!.pods[0]!.reader).toMatch(/^(netlink|nsenter)$/);
    const h = await inspect(['--pid', String(pid)]);
    expect(h.code).toBe(0);
    const lines = h.stdout.split('\n');
    expect(lines[0]).toBe(`netns /proc/${pid}/ns/net  netns inode ${j.json!.pods[0]!.netns!.inode} /proc/${pid}/ns/net`);
    expect(lines[1]).toBe('  verdict: active  kinds: bandwidth');
    expect(lines[2]).toMatch(/^ {2}- .*tbf/);
    expect(h.stdout).toContain('      CHAOS-OUTPUT\n');
    expect(h.stdout).toContain('      qdisc tbf 1: root rate 125000 B/s');
  });

  it('a namespace that does not exist: entry with errors, exit 1', async () => {
    const r = await inspect(['--netns', '/var/run/netns/h4-gone-xyz', '--json']);
    expect(r.code).toBe(1);
    const e = r.json!.pods[0]!;
    expect(e.netns).toBeNull();
    expect(e.errors).toEqual(['/var/run/netns/h4-gone-xyz: no such file']);
    expect(e.chaos).toEqual({ verdict: 'unknown', kinds: [], findings: ['not inspected: /var/run/netns/h4-gone-xyz: no such file'] });
    const dead = await inspect(['--pid', '4194303', '--json']);
    expect(dead.code).toBe(1);
    expect(dead.json!.pods[0]!.errors).toEqual(['no such process: 4194303']);
  });
});
