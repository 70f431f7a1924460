/**
 * The differential test of the rtnetlink reader (differential.ts): a corpus of real namespaces, each read in-process
 * over netlink and with the tools, must give equal typed state.
 */
import { afterAll, expect, it } from 'vitest';
import { ipRuleLine } from '../../../agent/netns/model/rule-text.js';
import { ChaosMeshReplay } from '../../helpers/chaos-mesh.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';
import { ipRuleLines } from '../../helpers/tools-read.js';
import { differential } from './differential.js';

describeIntegration('rtnetlink reader vs the tools, on real namespaces', { root: true, commands: ['ip', 'tc', 'iptables-legacy'] }, () => {
  afterAll(destroyAll);

  it('an empty namespace (lo, down)', async () => {
    const ns = await createNetns('nlrd');
    const { nl } = await differential(ns);
    expect(nl.links.map((l) => [l.name, l.flags, l.operState])).toEqual([['lo', ['LOOPBACK'], 'DOWN']]);
    expect([nl.addresses, nl.routes, nl.tc.qdiscs]).toEqual([[], [], []]);
    expect(nl.rules.map(ipRuleLine)).toEqual([...(await ipRuleLines(ns.name, '-4')), ...(await ipRuleLines(ns.name, '-6'))]);
    await ns.destroy();
  });

  it("Chaos Mesh's tbf root on a pod interface with IPv4 and IPv6", async () => {
    const ns = await createNetns('nlrd');
    await ns.addPodInterface({ addr: '10.78.0.2/24', addr6: 'fd00:78::2/64' });
    await new ChaosMeshReplay(ns).bandwidth({ rate: 8_000_000, burst: 20_000, limit: 40_000 });
    const { nl } = await differential(ns);
    expect(nl.tc.qdiscs.find((q) => q.kind === 'tbf')).toMatchObject({ interface: 'eth0', handle: '1:', root: true, tbf: { rateBytesPerSecond: 1_000_000, burstBytes: 20_000, limitBytes: 40_000, latencySeconds: 0.02 } });
    expect(nl.addresses.filter((a) => a.scope === 'global').map((a) => a.address)).toEqual(['10.78.0.2', 'fd00:78::2']);
    await ns.destroy();
  });

  it("Chaos Mesh's filtered layout stand-in (htb + classes + pfifo leaves + tbf) with u32 filters on the qdisc and on a class", async () => {
    const ns = await createNetns('nlrd');
    await ns.addPodInterface({ addr: '10.78.1.2/24' });
    await new ChaosMeshReplay(ns).filteredBandwidth({ experiment: 'nlrd-bw', cidrs: ['10.78.2.0/24'], rate: 400_000, burst: 12_000, limit: 30_000 });
    const tc = (...a: string[]) => ns.exec(['tc', ...a]);
    await tc('filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'pref', '1', 'u32', 'match', 'ip', 'dst', '10.78.2.0/24', 'match', 'ip', 'dport', '443', '0xffff', 'flowid', '1:4');
    await tc('filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ipv6', 'pref', '2', 'u32', 'match', 'u32', '0x20010db8', '0xffffffff', 'at', '24', 'flowid', '1:3');
    await tc('filter', 'add', 'dev', 'eth0', 'parent', '1:2', 'protocol', 'ip', 'pref', '3', 'u32', 'match', 'ip', 'tos', '0x10', '0xff', 'flowid', '1:1');
    const { nl } = await differential(ns);
    expect(nl.tc.classes.filter((c) => c.kind === 'htb').map((c) => c.handle)).toEqual(['1:1', '1:2', '1:3', '1:4']);
    expect(nl.tc.filters.filter((f) => f.flowid !== null).map((f) => [f.parent, f.protocol, f.flowid, f.u32!.keys.length])).toEqual([
      ['1:', 'ip', '1:4', 2],
      ['1:', 'ipv6', '1:3', 1],
      ['1:2', 'ip', '1:1', 1],
    ]);
    await ns.destroy();
  });

  it('ingress and clsact with u32 and classic-BPF filters, on several interfaces and a bridge', async () => {
    const ns = await createNetns('nlrd');
    const x = (...a: string[]) => ns.exec(a);
    await x('ip', 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'a1');
    await x('ip', 'link', 'add', 'br0', 'type', 'bridge');
    await x('ip', 'link', 'set', 'a1', 'master', 'br0');
    for (const d of ['lo', 'a0', 'a1', 'br0']) await x('ip', 'link', 'set', d, 'up');
    await x('tc', 'qdisc', 'add', 'dev', 'a0', 'clsact');
    await x('tc', 'filter', 'add', 'dev', 'a0', 'ingress', 'protocol', 'ip', 'pref', '10', 'u32', 'match', 'ip', 'src', '10.1.0.0/16', 'classid', '1:1');
    await x('tc', 'filter', 'add', 'dev', 'a0', 'egress', 'protocol', 'all', 'pref', '20', 'bpf', 'bytecode', '4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0,', 'flowid', '1:2');
    await x('tc', 'filter', 'add', 'dev', 'a0', 'egress', 'protocol', 'ip', 'pref', '21', 'u32', 'match', 'ip', 'dport', '53', '0xffff', 'match', 'ip', 'protocol', '17', '0xff', 'flowid', '1:3');
    await x('tc', 'qdisc', 'add', 'dev', 'a1', 'ingress');
    await x('tc', 'filter', 'add', 'dev', 'a1', 'parent', 'ffff:', 'protocol', 'ip', 'pref', '5', 'u32', 'match', 'ip', 'protocol', '6', '0xff', 'flowid', '1:3');
    await x('tc', 'qdisc', 'add', 'dev', 'br0', 'root', 'handle', '3:', 'bfifo', 'limit', '32000');
    await x('tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '9:', 'pfifo', 'limit', '77');
    const { nl } = await differential(ns);
    expect(nl.tc.qdiscs.map((q) => [q.interface, q.kind, q.parent])).toEqual([
      ['lo', 'pfifo', 'root'], ['a1', 'noqueue', 'root'], ['a1', 'ingress', 'ingress'], ['a0', 'noqueue', 'root'], ['a0', 'clsact', 'ingress'], ['br0', 'bfifo', 'root'],
    ]);
    expect(nl.tc.filters.filter((f) => f.flowid !== null).map((f) => [f.interface, f.parent, f.kind, f.pref, f.flowid])).toEqual([
      ['a1', 'ffff:', 'u32', 5, '1:3'],
      ['a0', 'ingress', 'u32', 10, '1:1'],
      ['a0', 'egress', 'bpf', 20, '1:2'],
      ['a0', 'egress', 'u32', 21, '1:3'],
    ]);
    expect(nl.tc.filters.find((f) => f.kind === 'bpf')!.bpf!.bytecodeLength).toBe(4);
    expect(nl.links.find((l) => l.name === 'a1')).toMatchObject({ slaveKind: 'bridge', master: nl.links.find((l) => l.name === 'br0')!.index });
    await ns.destroy();
  });

  it('HTTPChaos (chaos-tproxy >= 0.4) pod side: bridge with eth0 as a port, veths with peers in the proxy namespace, moved address, default via <p>v4', async () => {
    const ns = await createNetns('nlrd');
    const proxy = await createNetns('nlrd');
    await ns.addPodInterface({ addr: '10.78.3.5/24' });
    const p = 'abcdef012345';
    await ns.exec(['ip', 'route', 'add', 'default', 'via', '10.78.3.1', 'dev', 'eth0']);
    await new ChaosMeshReplay(ns).tproxyBridge({ prefix: p, proxyNs: proxy.name, addr: '10.78.3.5/24', gateway: '10.78.3.1' });
    const { nl } = await differential(ns);
    const link = (n: string) => nl.links.find((l) => l.name === n)!;
    expect([link('eth0').master, link(`${p}v1`).master]).toEqual([link(`${p}b1`).index, link(`${p}b1`).index]);
    expect([link(`${p}v1`).linkNetnsId, link(`${p}v4`).linkNetnsId, link(`${p}b1`).kind]).toEqual([expect.any(Number), link(`${p}v1`).linkNetnsId, 'bridge']);
    expect(nl.addresses.filter((a) => a.family === 'ipv4' && a.scope === 'global').map((a) => [a.interface, a.address])).toEqual([[`${p}v4`, '10.78.3.5']]);
    expect(nl.routes.filter((r) => r.destination === 'default' && r.table === 254).map((r) => [r.interface, r.gateway, r.protocol])).toEqual([[`${p}v4`, '10.78.3.1', 'kernel']]);
    await ns.destroy();
    await proxy.destroy();
  });

  it("HTTPChaos's old layout (Chaos Mesh 2.0-2.1, replayed): fwmark rule and table 100's local route", async () => {
    const ns = await createNetns('nlrd');
    await ns.addPodInterface({ addr: '10.78.4.5/24' });
    await new ChaosMeshReplay(ns).httpChaos({ port: 80, proxyPort: 58080 });
    const { nl } = await differential(ns);
    expect(nl.rules.filter((r) => r.fwmark !== null).map(ipRuleLine)).toEqual(['32765:\tfrom all fwmark 0x1 lookup 100']);
    expect(nl.routes.filter((r) => r.table === 100)).toEqual([
      { family: 'ipv4', table: 100, destination: 'default', gateway: null, interface: 'lo', type: 'local', protocol: 'boot', scope: 'host', source: null, metric: null },
    ]);
    expect(nl.rules.map(ipRuleLine)).toEqual([...(await ipRuleLines(ns.name, '-4')), ...(await ipRuleLines(ns.name, '-6'))]);
    await ns.destroy();
  });

  it('IPv4 and IPv6 routes of every kind and rules of every selector render exactly as ip prints them', async () => {
    const ns = await createNetns('nlrd');
    await ns.addPodInterface({ addr: '10.78.5.2/24', addr6: 'fd00:78:5::2/64' });
    const ip = (...a: string[]) => ns.exec(['ip', ...a]);
    await ip('addr', 'add', '10.78.6.1', 'peer', '10.78.6.2', 'dev', 'lo');
    await ip('route', 'add', '10.79.0.0/16', 'via', '10.78.5.1', 'metric', '50', 'table', '1000');
    await ip('route', 'add', 'blackhole', '10.80.0.0/16');
    await ip('route', 'add', 'unreachable', '10.81.0.0/16', 'table', '7');
    await ip('route', 'add', 'prohibit', '10.82.0.0/16', 'proto', 'static');
    await ip('route', 'add', '10.83.0.0/16', 'dev', 'eth0', 'src', '10.78.5.2', 'scope', 'link', 'proto', 'dhcp');
    await ip('-6', 'route', 'add', 'fd00:79::/48', 'via', 'fd00:78:5::1', 'metric', '300');
    await ip('-6', 'route', 'add', 'unreachable', 'fd00:7a::/48', 'table', '33');
    await ip('rule', 'add', 'from', '10.78.5.0/24', 'to', '10.90.0.1', 'tos', '0x10', 'lookup', '1000', 'pref', '100');
    await ip('rule', 'add', 'not', 'from', 'all', 'iif', 'eth0', 'oif', 'lo', 'fwmark', '0x10/0xf0', 'lookup', '7', 'pref', '110');
    await ip('rule', 'add', 'uidrange', '1000-2000', 'ipproto', 'tcp', 'sport', '1024-2048', 'dport', '443', 'blackhole', 'pref', '120');
    await ip('rule', 'add', 'from', '10.78.7.0/24', 'goto', '32766', 'pref', '130');
    await ip('rule', 'add', 'from', '10.78.8.0/24', 'nop', 'pref', '140');
    await ip('rule', 'add', 'from', '10.78.9.0/24', 'lookup', 'main', 'suppress_prefixlength', '0', 'proto', 'static', 'pref', '150');
    await ip('rule', 'add', 'to', '10.78.10.0/24', 'realms', '3/4', 'prohibit', 'pref', '160');
    await ip('-6', 'rule', 'add', 'from', 'fd00:78:5::/64', 'unreachable', 'pref', '200');
    await ip('-6', 'rule', 'add', 'fwmark', '0x2/0x3', 'lookup', '33', 'pref', '210');
    const { nl } = await differential(ns);
    expect(nl.rules.map(ipRuleLine)).toEqual([...(await ipRuleLines(ns.name, '-4')), ...(await ipRuleLines(ns.name, '-6'))]);
    expect(nl.rules.map((r) => [r.priority, r.action, r.table])).toEqual(expect.arrayContaining([[120, 'blackhole', null], [130, 'goto', null], [140, 'nop', null], [200, 'unreachable', null], [210, 'to_tbl', 33]]));
    expect(new Set(nl.routes.map((r) => r.type))).toEqual(new Set(['unicast', 'local', 'broadcast', 'blackhole', 'unreachable', 'prohibit', 'multicast']));
    expect(nl.routes.find((r) => r.table === 1000)).toMatchObject({ destination: '10.79.0.0/16', gateway: '10.78.5.1', metric: 50 });
    await ns.destroy();
  });

  it('tbf with a peak rate: equal but for the peak rate, which tc never prints in JSON (iproute2 6.1 - 7.x)', async () => {
    const ns = await createNetns('nlrd');
    await ns.addPodInterface({ addr: '10.78.11.2/24' });
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'tbf', 'rate', '3mbit', 'burst', '5000', 'latency', '70ms', 'peakrate', '4mbit', 'mtu', '1600']);
    const { nl, tools } = await differential(ns, (r) => {
      for (const q of r.tc.qdiscs) if (q.tbf) delete q.tbf.peakrateBytesPerSecond;
    });
    expect(nl.tc.qdiscs.find((q) => q.kind === 'tbf')!.tbf).toEqual({ rateBytesPerSecond: 375000, burstBytes: 4999, peakrateBytesPerSecond: 500000, mtuBytes: 1600, latencySeconds: 0.07, limitBytes: 31250 });
    expect(tools.tc.qdiscs.find((q) => q.kind === 'tbf')!.tbf!.peakrateBytesPerSecond).toBeUndefined();
    await ns.destroy();
  });
});

