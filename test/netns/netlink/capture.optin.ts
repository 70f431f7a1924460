/**
 * Captures the kernel's rtnetlink answers used as test fixtures (test/fixtures/netlink/, README there): builds
 * throwaway namespaces with the test helpers (a Chaos Mesh tbf root, the filtered htb layout with u32 filters, ingress
 * and clsact with u32 and classic-BPF filters, an HTTPChaos-style bridge/veth layout with IPv4 + IPv6 addresses,
 * routes and a fwmark rule), dumps them through the agent's own NetlinkSocket, and writes every answer message
 * (header + payload) as one hex line, with the tools' output for the same state beside it. Run as root:
 *   CAPTURE_RTNL_FIXTURES=1 npx vitest run --config vitest.optin.config.ts test/netns/netlink/capture.optin.ts
 * Everything it creates is removed at the end, also on failure. Skipped otherwise (the fixtures are committed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { withNetns } from '../../../agent/netns/netlink/enter.js';
import { NLMSG_HDRLEN } from '../../../agent/netns/netlink/nlmsg.js';
import {
  AF_UNSPEC, FIB_RULE_HDR_LEN, IFADDRMSG_LEN, IFINFOMSG_LEN, RTMSG_LEN, RTM_GETADDR, RTM_GETLINK, RTM_GETQDISC, RTM_GETROUTE, RTM_GETRULE,
  RTM_GETTCLASS, RTM_GETTFILTER, familyRequest, tcRequest,
} from '../../../agent/netns/netlink/rtnl/messages.js';
import type { NetlinkSocket } from '../../../agent/netns/netlink/socket.js';
import { TC_H_CLSACT_EGRESS, TC_H_CLSACT_INGRESS } from '../../../agent/netns/netlink/tc/handles.js';
import { filterParents } from '../../../agent/netns/model/filter-parents.js';
import { parseIpLinks } from '../../../agent/netns/nsenter/ip.js';
import { parseTcBatch, tcFilterCommands, tcTreeCommands, type TcBatchCommand } from '../../../agent/netns/nsenter/tc.js';
import { ChaosMeshReplay } from '../../helpers/chaos-mesh.js';
import { createNetns, destroyAll, type TestNetns } from '../../helpers/netns.js';

/** CAPTURE_RTNL_OUT redirects the output (e.g. to compare a new capture before replacing the committed one). */
const out = process.env.CAPTURE_RTNL_OUT ?? fileURLToPath(new URL('../../fixtures/netlink/', import.meta.url));

function ifindex(ns: TestNetns, dev: string): Promise<number> {
  return ns.exec(['cat', `/sys/class/net/${dev}/ifindex`]).then((r) => Number(r.stdout.trim()));
}

function dump(sock: NetlinkSocket, type: number, payload: Buffer): string[] {
  const r = sock.dump('capture', type, payload, { maxBytes: 1 << 22, deadline: performance.now() + 2000 });
  if (r.truncated || r.interrupted) throw new Error('capture dump cut short');
  return r.messages.map((m) => {
    const h = Buffer.alloc(NLMSG_HDRLEN);
    h.writeUInt32LE(NLMSG_HDRLEN + m.payload.length, 0);
    h.writeUInt16LE(m.type, 4);
    h.writeUInt16LE(m.flags, 6);
    return Buffer.concat([h, m.payload]).toString('hex');
  });
}

function write(name: string, what: string, lines: string[]): void {
  writeFileSync(join(out, name), `# ${what}\n${lines.join('\n')}\n`);
  process.stdout.write(`${name}: ${lines.length} messages\n`);
}

/**
 * The tools' view of the same state, captured right after the dumps: `tc -s -d -raw -j -batch -` in the two
 * batches the tools reader runs (qdiscs + classes per device, then every filter parent), stdout kept verbatim.
 */
async function captureTcTools(ns: TestNetns, name: string): Promise<void> {
  // Devices in the order the link dump lists them (the order the netlink reader reads them in).
  const devs = parseIpLinks((await ns.exec(['ip', '-j', 'link', 'show'])).stdout).links.map((l) => l.name);
  const tree = tcTreeCommands(devs);
  const treeOut = (await ns.exec(['tc', '-s', '-d', '-raw', '-j', '-batch', '-'], { input: tree.input })).stdout;
  const parsed = parseTcBatch(treeOut, tree.commands);
  const f = tcFilterCommands(filterParents(parsed.qdiscs, parsed.classes));
  const filterOut = f.commands.length ? (await ns.exec(['tc', '-s', '-d', '-raw', '-j', '-batch', '-'], { input: f.input })).stdout : '';
  const batches: { commands: TcBatchCommand[]; input: string; output: string }[] = [
    { commands: tree.commands, input: tree.input, output: treeOut },
    { commands: f.commands, input: f.input, output: filterOut },
  ];
  writeFileSync(join(out, name), `${JSON.stringify({ batches }, null, 1)}\n`);
  process.stdout.write(`${name}: tc tools output\n`);
}

async function captureIpTools(ns: TestNetns, name: string): Promise<void> {
  const ip = async (...a: string[]) => (await ns.exec(['ip', ...a])).stdout;
  const outputs = {
    link: await ip('-j', '-d', 'link', 'show'),
    addr: await ip('-j', 'addr', 'show'),
    route4: await ip('-4', '-j', 'route', 'show', 'table', 'all'),
    route6: await ip('-6', '-j', 'route', 'show', 'table', 'all'),
    rule4: await ip('-4', '-j', 'rule', 'show'),
    rule6: await ip('-6', '-j', 'rule', 'show'),
    rule4Text: await ip('-4', 'rule', 'show'),
    rule6Text: await ip('-6', 'rule', 'show'),
  };
  writeFileSync(join(out, name), `${JSON.stringify(outputs, null, 1)}\n`);
  process.stdout.write(`${name}: ip tools output\n`);
}

function socketOf(ns: TestNetns): NetlinkSocket {
  return withNetns(ns.path, null, (inside) => inside.route()).value;
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });

  // Chaos Mesh bandwidth without target: tbf root on eth0.
  const tbf = await createNetns('nlcap');
  await tbf.addPodInterface({ addr: '10.77.10.2/24' });
  await new ChaosMeshReplay(tbf).bandwidth({ rate: 1_000_000, burst: 10_240, limit: 20_000 });
  let s = socketOf(tbf);
  write('qdisc-tbf-root.hex', 'RTM_GETQDISC dump of a namespace with Chaos Mesh tbf root (rate 1000000 burst 10240 limit 20000) on eth0', dump(s, RTM_GETQDISC, tcRequest(0)));
  s.close();
  await captureTcTools(tbf, 'tc-tbf-root.tools.json');

  // Filtered layout stand-in (htb + classes + pfifo leaves + tbf at 1:4) with u32 filters on the root and on 1:1.
  const htb = await createNetns('nlcap');
  await htb.addPodInterface({ addr: '10.77.11.2/24' });
  await new ChaosMeshReplay(htb).filteredBandwidth({ experiment: 'nlcap-bw', cidrs: ['10.77.12.0/24'], rate: 500_000, burst: 16_384, limit: 40_000 });
  const tc = (...a: string[]) => htb.exec(['tc', ...a]);
  await tc('filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'pref', '1', 'u32', 'match', 'ip', 'dst', '10.244.2.0/24', 'match', 'ip', 'dport', '80', '0xffff', 'flowid', '1:4');
  await tc('filter', 'add', 'dev', 'eth0', 'parent', '1:1', 'protocol', 'ip', 'pref', '2', 'u32', 'match', 'ip', 'src', '10.0.0.0/8', 'flowid', '1:2');
  s = socketOf(htb);
  const eth0 = await ifindex(htb, 'eth0');
  write('qdisc-htb-layout.hex', 'RTM_GETQDISC dump: htb 1: default 1, pfifo 2: 3: 4: under 1:1-1:3, tbf 5: under 1:4 (rate 500000 burst 16384 limit 40000) on eth0', dump(s, RTM_GETQDISC, tcRequest(0)));
  write('class-htb-layout.hex', 'RTM_GETTCLASS dump of eth0 in the htb layout: htb classes 1:1-1:4 (rate 10gbit) and tbf 5:1', dump(s, RTM_GETTCLASS, tcRequest(eth0)));
  write('filter-u32-root.hex', 'RTM_GETTFILTER dump of eth0 parent 1: : u32 pref 1 (match ip dst 10.244.2.0/24, ip dport 80, flowid 1:4), with its header and hash-table messages', dump(s, RTM_GETTFILTER, tcRequest(eth0, 0x10000)));
  write('filter-u32-class.hex', 'RTM_GETTFILTER dump of eth0 parent 1:1: u32 pref 2 (match ip src 10.0.0.0/8, flowid 1:2) in the class\'s own block (hash table 801:)', dump(s, RTM_GETTFILTER, tcRequest(eth0, 0x10001)));
  s.close();
  await captureTcTools(htb, 'tc-htb-layout.tools.json');

  // ingress with u32; clsact with u32 (ingress hook) and classic BPF (egress hook).
  const hooks = await createNetns('nlcap');
  await hooks.exec(['ip', 'link', 'add', 'e1', 'type', 'veth', 'peer', 'name', 'e2']);
  const th = (...a: string[]) => hooks.exec(['tc', ...a]);
  await th('qdisc', 'add', 'dev', 'e1', 'clsact');
  await th('filter', 'add', 'dev', 'e1', 'ingress', 'protocol', 'ip', 'pref', '3', 'u32', 'match', 'ip', 'src', '10.1.0.0/16', 'classid', '1:1');
  await th('filter', 'add', 'dev', 'e1', 'egress', 'protocol', 'all', 'pref', '4', 'bpf', 'bytecode', '1,6 0 0 4294967295,', 'flowid', '1:1');
  await th('qdisc', 'add', 'dev', 'e2', 'ingress');
  await th('filter', 'add', 'dev', 'e2', 'parent', 'ffff:', 'protocol', 'ip', 'pref', '5', 'u32', 'match', 'ip', 'protocol', '6', '0xff', 'flowid', '1:3');
  s = socketOf(hooks);
  const e1 = await ifindex(hooks, 'e1');
  const e2 = await ifindex(hooks, 'e2');
  write('qdisc-ingress-clsact.hex', 'RTM_GETQDISC dump: clsact on e1, ingress on e2 (veth pair, no other qdisc)', dump(s, RTM_GETQDISC, tcRequest(0)));
  write('filter-clsact-ingress.hex', 'RTM_GETTFILTER dump of e1 parent ffff:fff2 (clsact ingress): u32 pref 3 match ip src 10.1.0.0/16 classid 1:1', dump(s, RTM_GETTFILTER, tcRequest(e1, TC_H_CLSACT_INGRESS)));
  write('filter-clsact-egress.hex', "RTM_GETTFILTER dump of e1 parent ffff:fff3 (clsact egress): bpf pref 4 protocol all bytecode '1,6 0 0 4294967295,' flowid 1:1", dump(s, RTM_GETTFILTER, tcRequest(e1, TC_H_CLSACT_EGRESS)));
  write('filter-ingress.hex', 'RTM_GETTFILTER dump of e2 parent ffff:fff2 (ingress qdisc): u32 pref 5 match ip protocol 6 0xff flowid 1:3', dump(s, RTM_GETTFILTER, tcRequest(e2, TC_H_CLSACT_INGRESS)));
  s.close();
  await captureTcTools(hooks, 'tc-ingress-clsact.tools.json');

  // HTTPChaos (chaos-tproxy >= 0.4) pod-side layout, plus the old layout's rule and table 100, IPv6.
  const http = await createNetns('nlcap');
  const proxy = await createNetns('nlcap');
  await http.addPodInterface({ addr: '10.77.13.5/24', addr6: 'fd00:77:13::5/64' });
  const p = 'nlcapa1b2c3d4';
  const x = (...a: string[]) => http.exec(['ip', ...a]);
  await x('route', 'add', 'default', 'via', '10.77.13.1', 'dev', 'eth0');
  await new ChaosMeshReplay(http).tproxyBridge({ prefix: p, proxyNs: proxy.name, addr: '10.77.13.5/24', gateway: '10.77.13.1' });
  await x('rule', 'add', 'fwmark', '1', 'lookup', '100');
  await x('route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100');
  await x('-6', 'rule', 'add', 'fwmark', '0x2/0x3', 'lookup', '200', 'pref', '500');
  await x('-6', 'route', 'add', 'blackhole', 'fd00:dead::/48', 'table', '200');
  s = socketOf(http);
  write('link-httpchaos.hex', 'RTM_GETLINK dump (AF_UNSPEC) of the HTTPChaos pod layout: lo, eth0 (port of <p>b1, peer in the host), bridge <p>b1, veths <p>v1 (port) and <p>v4 with peers in the proxy namespace', dump(s, RTM_GETLINK, familyRequest(IFINFOMSG_LEN, AF_UNSPEC)));
  write('addr-httpchaos.hex', 'RTM_GETADDR dump (AF_UNSPEC): 127.0.0.1, ::1, 10.77.13.5/24 moved to <p>v4, fd00:77:13::5/64 nodad on eth0, link-local IPv6', dump(s, RTM_GETADDR, familyRequest(IFADDRMSG_LEN, AF_UNSPEC)));
  write('route-httpchaos.hex', 'RTM_GETROUTE dump (AF_UNSPEC): default via 10.77.13.1 dev <p>v4 proto kernel onlink, local default dev lo table 100, IPv6 blackhole fd00:dead::/48 table 200, local/broadcast/kernel routes', dump(s, RTM_GETROUTE, familyRequest(RTMSG_LEN, AF_UNSPEC)));
  write('rule-httpchaos.hex', 'RTM_GETRULE dump (AF_UNSPEC): the default rules, `fwmark 0x1 lookup 100` (IPv4), `pref 500 fwmark 0x2/0x3 lookup 200` (IPv6)', dump(s, RTM_GETRULE, familyRequest(FIB_RULE_HDR_LEN, AF_UNSPEC)));
  s.close();
  await captureIpTools(http, 'ip-httpchaos.tools.json');
}

describe.runIf(process.env.CAPTURE_RTNL_FIXTURES === '1')('capture rtnetlink fixtures', () => {
  afterAll(destroyAll);
  it('captures every fixture', main);
});
