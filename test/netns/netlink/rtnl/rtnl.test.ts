import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../agent/errors.js';
import { ipRuleLine } from '../../../../agent/netns/model/rule-text.js';
import { addressOf, decodeAddrMessage, orderAddresses } from '../../../../agent/netns/netlink/rtnl/addr.js';
import { decodeLinkMessage, formatLinkAddress, linkFlagNames, linksFromMessages } from '../../../../agent/netns/netlink/rtnl/link.js';
import { RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_NEWRULE } from '../../../../agent/netns/netlink/rtnl/messages.js';
import { decodeRouteMessage, routeDestination, routeOf } from '../../../../agent/netns/netlink/rtnl/route.js';
import { decodeRuleMessage, ruleOf } from '../../../../agent/netns/netlink/rtnl/rule.js';
import type { Route } from '../../../../agent/netns/model/links.js';
import { parseIpAddresses, parseIpLinks, parseIpRoutes, parseIpRules } from '../../../../agent/netns/nsenter/ip.js';
import { hexMessages, toolsJson } from '../fixtures.js';

interface IpTools {
  link: string;
  addr: string;
  route4: string;
  route6: string;
  rule4: string;
  rule6: string;
  rule4Text: string;
  rule6Text: string;
}
const tools = toolsJson<IpTools>('ip-httpchaos.tools.json');
const P = 'nlcapa1b2c3d4';

const links = linksFromMessages(hexMessages('link-httpchaos.hex').filter((m) => m.type === RTM_NEWLINK).map((m) => decodeLinkMessage(m.payload)));
const names = new Map(links.map((l) => [l.index, l.name]));
const addresses = orderAddresses(
  hexMessages('addr-httpchaos.hex').flatMap((m) => (m.type === RTM_NEWADDR ? [addressOf(decodeAddrMessage(m.payload), names)] : [])).filter((a) => a !== null),
  links.map((l) => l.index),
);
const routes = hexMessages('route-httpchaos.hex').flatMap((m) => (m.type === RTM_NEWROUTE ? [routeOf(decodeRouteMessage(m.payload), names)] : [])).filter((r): r is Route => r !== null);
const rules = hexMessages('rule-httpchaos.hex').flatMap((m) => (m.type === RTM_NEWRULE ? [ruleOf(m.payload)] : [])).filter((r) => r !== null);

describe('rtnetlink decoders on captured bytes (HTTPChaos pod layout)', () => {
  it('links: the bridge, its ports, veths whose peers live in the proxy namespace', () => {
    const byName = new Map(links.map((l) => [l.name, l]));
    const bridge = byName.get(`${P}b1`)!;
    expect(bridge.kind).toBe('bridge');
    const eth0 = byName.get('eth0')!;
    const v1 = byName.get(`${P}v1`)!;
    const v4 = byName.get(`${P}v4`)!;
    expect([eth0.kind, eth0.slaveKind, eth0.master, eth0.linkNetnsId]).toEqual(['veth', 'bridge', bridge.index, 0]);
    expect([v1.kind, v1.slaveKind, v1.master, v1.linkNetnsId]).toEqual(['veth', 'bridge', bridge.index, 1]);
    expect([v4.kind, v4.slaveKind, v4.master, v4.linkNetnsId]).toEqual(['veth', null, null, 1]);
    expect(v4.flags).toEqual(['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP']);
    expect(byName.get('lo')).toMatchObject({ kind: null, flags: ['LOOPBACK', 'UP', 'LOWER_UP'], operState: 'UNKNOWN', address: '00:00:00:00:00:00', mtu: 65536 });
    expect(eth0.address).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  });

  it('addresses: the pod address moved to <p>v4, IPv6 on eth0, in `ip addr` order (link order: eth0 came last)', () => {
    expect(addresses.filter((a) => a.scope === 'global').map((a) => [a.interface, a.family, a.address, a.prefixLength])).toEqual([
      [`${P}v4`, 'ipv4', '10.77.13.5', 24],
      ['eth0', 'ipv6', 'fd00:77:13::5', 64],
    ]);
  });

  it('routes: the default via <p>v4 (proto kernel), table 100 local default, an IPv6 blackhole in table 200', () => {
    expect(routes.find((r) => r.family === 'ipv4' && r.table === 254 && r.destination === 'default')).toEqual({
      family: 'ipv4', table: 254, destination: 'default', gateway: '10.77.13.1', interface: `${P}v4`, type: 'unicast', protocol: 'kernel', scope: 'global', source: null, metric: null,
    });
    expect(routes.find((r) => r.table === 100)).toEqual({
      family: 'ipv4', table: 100, destination: 'default', gateway: null, interface: 'lo', type: 'local', protocol: 'boot', scope: 'host', source: null, metric: null,
    });
    expect(routes.find((r) => r.table === 200)).toMatchObject({ family: 'ipv6', destination: 'fd00:dead::/48', type: 'blackhole', metric: 1024 });
    expect(routes.find((r) => r.destination === '10.77.13.5')).toMatchObject({ table: 255, type: 'local', source: '10.77.13.5' });
  });

  it('rules: the fwmark rules, and every rule renders exactly as `ip rule show` printed it', () => {
    expect(rules.filter((r) => r.fwmark !== null).map((r) => [r.family, r.priority, r.fwmark, r.table, r.action])).toEqual([
      ['ipv4', 32765, '0x1', 100, 'to_tbl'],
      ['ipv6', 500, '0x2/0x3', 200, 'to_tbl'],
    ]);
    const text = (t: string): string[] => t.split('\n').filter((l) => l.length > 0);
    expect(rules.filter((r) => r.family === 'ipv4').map(ipRuleLine)).toEqual(text(tools.rule4Text));
    expect(rules.filter((r) => r.family === 'ipv6').map(ipRuleLine)).toEqual(text(tools.rule6Text));
  });

  it('frozen differential: the same namespace read by `ip -j` (captured at the same time) gives equal models', () => {
    expect(parseIpLinks(tools.link)).toEqual({ links, errors: [] });
    expect(parseIpAddresses(tools.addr)).toEqual({ addresses, errors: [] });
    expect([...parseIpRoutes(tools.route4, 'ipv4').routes, ...parseIpRoutes(tools.route6, 'ipv6').routes]).toEqual(routes);
    expect([...parseIpRules(tools.rule4, 'ipv4').rules, ...parseIpRules(tools.rule6, 'ipv6').rules]).toEqual(rules);
  });
});

describe('rtnetlink formatting as iproute2 prints it', () => {
  it('link flags: NO-CARRIER, ip order, unnamed bits as hex, M-DOWN last', () => {
    expect(linkFlagNames(0x1 | 0x2 | 0x1000 | 0x10000 | 0x40, false)).toEqual(['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
    expect(linkFlagNames(0x1 | 0x2, true)).toEqual(['NO-CARRIER', 'BROADCAST', 'UP', 'M-DOWN']);
    expect(linkFlagNames(0x80000 | 0x8, false)).toEqual(['LOOPBACK', '80000']);
  });

  it('link addresses: MACs as hex, tunnel endpoints as IP text', () => {
    expect(formatLinkAddress(Buffer.from('0a1b2c3d4e5f', 'hex'), 1)).toBe('0a:1b:2c:3d:4e:5f');
    expect(formatLinkAddress(Buffer.from([10, 0, 0, 1]), 768)).toBe('10.0.0.1');
    expect(formatLinkAddress(Buffer.from([10, 0, 0, 1]), 1)).toBe('0a:00:00:01');
  });

  it('route destinations: default, host routes without length, 0/len without an address', () => {
    expect([routeDestination(null, 0, 32), routeDestination('10.0.0.1', 32, 32), routeDestination('10.0.0.0', 8, 32), routeDestination(null, 8, 32)]).toEqual([
      'default', '10.0.0.1', '10.0.0.0/8', '0/8',
    ]);
  });

  it('a local peer that is down marks the link M-DOWN (print_name_and_link)', () => {
    const base = { type: 1, mtu: 1500, master: null, operState: 2, address: null, qdisc: null, kind: 'veth', slaveKind: null, linkNetnsId: null };
    const out = linksFromMessages([
      { ...base, index: 5, name: 'a', flags: 0x1003, link: 6 },
      { ...base, index: 6, name: 'b', flags: 0x1002, link: 5 },
    ]);
    expect(out.map((l) => [l.name, l.flags])).toEqual([
      ['a', ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP', 'M-DOWN']],
      ['b', ['BROADCAST', 'MULTICAST']],
    ]);
  });
});

describe('rtnetlink decoders are total', () => {
  const decoders: [string, (b: Buffer) => unknown][] = [
    ['link', (b) => linksFromMessages([decodeLinkMessage(b)])],
    ['addr', (b) => addressOf(decodeAddrMessage(b), new Map())],
    ['route', (b) => routeOf(decodeRouteMessage(b), new Map())],
    ['rule', (b) => decodeRuleMessage(b)],
  ];
  const real = [...hexMessages('link-httpchaos.hex'), ...hexMessages('addr-httpchaos.hex'), ...hexMessages('route-httpchaos.hex'), ...hexMessages('rule-httpchaos.hex')].map((m) => m.payload);

  const total = (f: (b: Buffer) => unknown, b: Buffer): void => {
    try {
      f(b);
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
    }
  };

  it('arbitrary bytes give a result or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...decoders), (bytes, [, f]) => total(f, Buffer.from(bytes))),
      { numRuns: 3000 },
    );
  });

  it('real messages with bytes changed or cut give a result or a DecodeError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...real),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        fc.constantFrom(...decoders),
        (msg, edits, cut, [, f]) => {
          const b = Buffer.from(msg);
          for (const [at, v] of edits) b[at % b.length] = v;
          total(f, b.subarray(0, msg.length - (cut % (msg.length + 1))));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
