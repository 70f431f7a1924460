/**
 * Chaos Mesh's injections and recoveries replayed in REAL network namespaces, read by the real tools reader and
 * fingerprinted: HTTPChaos's bridge layout (chaos-tproxy v0.5.3 setup, teardown, failed teardowns), a failed
 * injection that leaves only ipsets, a partition whose target sets are empty. For each: verdict and kinds before,
 * during and after recovery.
 */
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, afterEach, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import { createNetnsReader } from '../../agent/netns/read.js';
import { inspectTarget, podReportJson } from '../../agent/collection.js';
import { formatReport } from '../../agent/commands/inspect.js';
import type { NetnsState } from '../../agent/netns/state.js';
import { chainName, chainRules, ChaosMeshReplay, ipsetName } from '../helpers/chaos-mesh.js';
import { ChaosTproxyReplay } from '../helpers/chaos-tproxy.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';

const reader = createNetnsReader({
  reader: 'nsenter', netnsConcurrency: 2, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 2 << 20,
  namespaceTimeoutMs: 20_000, procRoot: '/proc',
});
const replays: ChaosTproxyReplay[] = [];

async function read(ns: TestNetns): Promise<NetnsState> {
  return reader.read({ path: ns.path, inode: null, pid: ns.holderPid });
}
async function named(): Promise<string[]> {
  return readdir('/run/netns');
}

/** A pod-like namespace: eth0 (veth, host side up), its address and a default route via a gateway, as a CNI sets them. */
async function pod(prefix: string, third: number): Promise<{ ns: TestNetns; gatewayMac: string }> {
  const ns = await createNetns(prefix);
  await ns.addPodInterface({ addr: `10.77.${third}.7/24` });
  await ns.exec(['ip', 'route', 'add', 'default', 'via', `10.77.${third}.1`, 'dev', 'eth0', 'onlink']);
  await ns.startHolder();
  const gatewayMac = (await readFile(`/sys/class/net/${ns.hostIf}/address`, 'utf8')).trim();
  return { ns, gatewayMac };
}

describeIntegration('replays of Chaos Mesh state in real namespaces', { root: true, commands: ['ip', 'nsenter', 'iptables-legacy', 'ipset', 'ebtables-nft', 'tc'] }, () => {
  afterEach(async () => {
    for (const r of replays.splice(0)) await r.destroy();
  });
  afterAll(async () => {
    try {
      await destroyAll();
    } finally {
      await reader.close();
    }
  });

  it('HTTPChaos bridge layout: clean, active while the bridge diverts traffic, clean after chaos-tproxy teardown', async () => {
    const { ns, gatewayMac } = await pod('h7a', 1);
    expect(fingerprint(await read(ns), { namedNetns: await named() }).verdict).toBe('clean');

    const tp = new ChaosTproxyReplay(ns);
    replays.push(tp);
    const l = await tp.setup({ gatewayMac, ebtables: 'auto' });
    const s = await read(ns);
    expect(s.errors).toEqual([]);
    expect(s.sources?.filter((x) => x.status !== 'complete')).toEqual([]);
    expect(s.sources?.map((x) => x.source)).toEqual(expect.arrayContaining(['links', 'ebtables-legacy', 'ebtables-nft']));
    expect(s.links?.map((x) => x.name).sort()).toEqual(['eth0', l.bridge, l.veth1, l.veth4, 'lo'].sort());
    expect(s.addresses?.filter((a) => a.family === 'ipv4' && a.interface !== 'lo').map((a) => `${a.interface} ${a.address}/${a.prefixLength}`)).toEqual([`${l.veth4} ${l.ip}`]);
    const r = fingerprint(s, { namedNetns: await named() });
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['http']);
    const ebt = l.ebtables === 'ebtables-nft' ? `ebtables nat PREROUTING "-i eth0 -j dnat --to-dst ${l.veth4Mac} --dnat-target ACCEPT"` : 'ebtables nat PREROUTING';
    expect(r.findings).toEqual([
      `HTTPChaos (chaos-tproxy bridge layout) diverts the pod's traffic through a proxy namespace: bridge ${l.bridge} holds eth0 and ${l.veth1}, ` +
        `pod address ${l.ip} moved from eth0 to ${l.veth4}, default route via ${l.gateway} dev ${l.veth4}, ${ebt} (the MAC of ${l.veth4}); ` +
        `proxy namespace /run/netns/${l.netns} exists`,
    ]);

    // inspect shows the evidence: human (links, default route, ebtables) and JSON.
    const rep = await inspectTarget(reader, { netnsPath: ns.path, pid: ns.holderPid, procRoot: '/proc' });
    const human = formatReport(rep);
    expect(human).toContain(`    eth0 (veth) master ${l.bridge}`);
    expect(human).toContain(`    ${l.veth4} (veth) ${l.veth4Mac} ${l.ip}`);
    expect(human).toContain(`  route: default via ${l.gateway} dev ${l.veth4}`);
    expect(human).toMatch(/ {2}ebtables (nft|legacy):\n {4}nat PREROUTING \(policy ACCEPT\)\n {6}\[\d+ pkts \d+ bytes\] -i eth0 -j dnat --to-dst /);
    const json = JSON.parse(JSON.stringify(podReportJson(rep))) as { links: unknown[]; ebtables: { tables: { name: string }[] }[] };
    expect(json.links).toHaveLength(5);
    expect(json.ebtables[0]!.tables.map((t) => t.name)).toEqual(['nat']);

    // The proxy namespace, read as `inspect --netns /run/netns/<p>ns` would: chaos-tproxy's old-layout rules live there.
    const side = await reader.read({ path: `/run/netns/${l.netns}`, inode: null, pid: null });
    const rs = fingerprint(side);
    expect(rs.kinds).toEqual(['http']);
    expect(rs.findings[0]).toBe(
      'mangle PREROUTING diverts tcp traffic with destination port 80 to a transparent proxy on port 1025 (TPROXY mark 0x1/0x1); ip rule: 32765: from all fwmark 0x1 lookup 100',
    );

    await tp.teardown();
    const after = await read(ns);
    expect(after.errors).toEqual([]);
    // No chaos-tproxy link is left: the pod address is back on eth0; ebtables hold no rule any more.
    expect(after.links?.map((x) => x.name)).toEqual(['lo', 'eth0']);
    expect(after.addresses?.filter((a) => a.family === 'ipv4' && a.interface === 'eth0').map((a) => `${a.address}/${a.prefixLength}`)).toEqual([l.ip]);
    expect((after.ebtables ?? []).flatMap((d) => d.tables.flatMap((t) => t.chains.flatMap((c) => c.rules)))).toEqual([]);
    expect((await ns.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(`inet ${l.ip}`);
    const ra = fingerprint(after, { namedNetns: await named() });
    expect(ra).toEqual({ verdict: 'clean', kinds: [], findings: [], details: [] });
  });

  it('a teardown that deleted the proxy namespace but not the bridge leaves eth0 bridged: still active', async () => {
    const { ns, gatewayMac } = await pod('h7b', 2);
    const tp = new ChaosTproxyReplay(ns);
    replays.push(tp);
    const l = await tp.setup({ gatewayMac, ebtables: 'auto' });
    await tp.teardown(['bridge', 'address', 'ebtables', 'routes']);
    const r = fingerprint(await read(ns), { namedNetns: await named() });
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['http']);
    expect(r.findings[0]).toMatch(new RegExp(`^HTTPChaos \\(chaos-tproxy bridge layout\\) diverts the pod's traffic through a proxy namespace: bridge ${l.bridge} holds eth0, .*; proxy namespace ${l.netns} is gone from /run/netns$`));
  });

  it('a teardown that kept the proxy namespace: veths and the stale address carry nothing, scaffolding', async () => {
    const { ns, gatewayMac } = await pod('h7c', 3);
    const tp = new ChaosTproxyReplay(ns);
    replays.push(tp);
    const l = await tp.setup({ gatewayMac, ebtables: 'auto' });
    await tp.teardown(['netns']);
    const r = fingerprint(await read(ns), { namedNetns: await named() });
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      `HTTPChaos (chaos-tproxy) residue that carries no traffic: ${l.veth4} still holds ${l.ip}, which is back on the pod's interface, ` +
        `veth ${l.veth1} (peer in another namespace); proxy namespace /run/netns/${l.netns} exists`,
    ]);
  });

  it('a failed injection that leaves only ipsets (no table at all) is scaffolding, not clean', async () => {
    const ns = await createNetns('h7d');
    await ns.addPodInterface({ addr: '10.77.4.7/24' });
    await ns.startHolder();
    expect(fingerprint(await read(ns)).verdict).toBe('clean');
    // FlushIPSets ran; SetIptablesChains never did (no legacy iptables on that node / an IPv6 target).
    const cm = new ChaosMeshReplay(ns);
    const layout = cm.partitionLayout({ experiment: 'web-partition', direction: 'to', cidrs: ['10.77.9.0/24'] });
    await cm.flushIpsets(layout.sets);
    const s = await read(ns);
    expect(s.iptables).toEqual([]);
    expect(s.ipsets.sets.map((x) => x.name)).toEqual(layout.sets.map((x) => x.name));
    const r = fingerprint(s);
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      `3 Chaos Mesh ipsets no reachable rule uses: ${layout.sets[0]!.name} (hash:net, 1 member), ${layout.sets[1]!.name} (hash:net,port, 0 members), ${layout.setName} (list:set of 2 sets, 1 member)`,
    ]);
    // Recovery that now succeeds re-sends empty specs: empty CHAOS-* chains join the unused sets.
    await cm.recover();
    expect(fingerprint(await read(ns)).verdict).toBe('scaffolding');
  });

  it('a partition whose target set is empty drops nothing: scaffolding; with a target, active; recovered, scaffolding', async () => {
    const ns = await createNetns('h7e');
    await ns.addPodInterface({ addr: '10.77.5.7/24' });
    await ns.startHolder();
    const cm = new ChaosMeshReplay(ns);
    const empty = await cm.partition({ experiment: 'web-partition', direction: 'to', cidrs: [] });
    const r0 = fingerprint(await read(ns));
    expect(r0.verdict).toBe('scaffolding');
    expect(r0.findings[0]).toBe(`${empty.chain} would drop eth0 traffic to ipset ${empty.setName} (list:set of 2 sets, 0 members), but it matches an empty set: drops nothing now`);
    await cm.partition({ experiment: 'web-partition', direction: 'to', cidrs: ['10.77.9.0/24'] });
    const r1 = fingerprint(await read(ns));
    expect(r1.verdict).toBe('active');
    expect(r1.findings[0]).toBe(`${empty.chain} drops eth0 traffic to ipset ${empty.setName} (list:set of 2 sets, 1 member)`);
    await cm.recover();
    expect(fingerprint(await read(ns)).verdict).toBe('scaffolding');
  });

  it("the replay writes chaos-daemon's rules: `-o|-i DEVICE` before the match, eth0 when none is given, also without ipsets", async () => {
    const ns = await createNetns('h7f');
    await ns.addPodInterface({ addr: '10.77.6.7/24' });
    await ns.startHolder();
    const cm = new ChaosMeshReplay(ns);
    const out = chainName('OUTPUT', 'web-blackhole');
    const inp = chainName('INPUT', 'web-from-db');
    const set = ipsetName('web-from-db', 'set_src');
    await cm.flushIpsets([{ name: set, type: 'hash:net', members: ['10.77.9.0/24'] }]);
    // What chaos-daemon's setIptablesChain makes of these (iptables_server.go at 608b61e), as `iptables -S` prints it.
    expect(chainRules({ name: out, direction: 'OUTPUT', ipsets: [], target: 'DROP' })).toEqual([`-A ${out} -o eth0 -j DROP -w 5`]);
    const withPorts = { name: inp, direction: 'INPUT' as const, ipsets: [set], target: 'DROP', device: 'eth1', protocolAndPort: '--protocol tcp --destination-port 80' };
    expect(chainRules(withPorts)).toEqual([`-A ${inp} -i eth1 -m set --match-set ${set} src,dst -j DROP -w 5 --protocol tcp --destination-port 80`]);
    await cm.setIptablesChains([{ name: out, direction: 'OUTPUT', ipsets: [], target: 'DROP' }, withPorts]);
    const rules = async (chain: string) => (await ns.exec(['iptables-legacy', '-w', '-S', chain])).stdout.trim().split('\n').slice(1);
    expect(await rules(out)).toEqual([`-A ${out} -o eth0 -j DROP`]);
    expect(await rules(inp)).toEqual([`-A ${inp} -i eth1 -p tcp -m set --match-set ${set} src,dst -m tcp --dport 80 -j DROP`]);
    const r = fingerprint(await read(ns));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toContain('partition');
    await cm.recover();
    expect(fingerprint(await read(ns)).verdict).toBe('scaffolding');
  });
});
