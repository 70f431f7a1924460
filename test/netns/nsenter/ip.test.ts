import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddresses, parseIpLinks, parseIpRoutes, parseIpRules } from '../../../agent/netns/nsenter/ip.js';

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/ip/${p}`, import.meta.url), 'utf8');
const P = '3f2a9c1b-7e4d';

describe('ip -j parsers on the chaos-tproxy bridge layout (real capture, `ip -j -d addr show` / `ip -j route show table all`)', () => {
  it('links and addresses from one `ip -j -d addr show`', () => {
    const text = fixture('tproxy-bridge-addr.json');
    const { links, errors } = parseIpLinks(text);
    expect(errors).toEqual([]);
    const byName = new Map(links.map((l) => [l.name, l]));
    expect([...byName.keys()]).toEqual(['lo', 'gw0', 'eth0', `${P}b1`, `${P}v1`, `${P}v4`]);
    const bridge = byName.get(`${P}b1`)!;
    expect(bridge.kind).toBe('bridge');
    expect(byName.get('eth0')).toMatchObject({ kind: 'veth', slaveKind: 'bridge', master: bridge.index, address: '02:42:0a:f4:01:07', link: byName.get('gw0')!.index, linkNetnsId: null });
    expect(byName.get(`${P}v1`)).toMatchObject({ kind: 'veth', master: bridge.index, linkNetnsId: 0 });
    expect(byName.get(`${P}v4`)).toMatchObject({ kind: 'veth', master: null, address: '0a:58:0a:f4:01:07', linkNetnsId: 0 });
    const { addresses } = parseIpAddresses(text);
    expect(addresses.filter((a) => a.family === 'ipv4').map((a) => [a.interface, a.address, a.prefixLength, a.scope])).toEqual([
      ['lo', '127.0.0.1', 8, 'host'],
      [`${P}v4`, '10.244.1.7', 24, 'global'],
    ]);
  });

  it('routes of every table and both families from one `ip -j route show table all`', () => {
    const { routes, errors } = parseIpRoutes(fixture('tproxy-bridge-route.json'), 'any');
    expect(errors).toEqual([]);
    expect(routes[0]).toEqual({
      family: 'ipv4', table: 254, destination: 'default', gateway: '10.244.1.1', interface: `${P}v4`, type: 'unicast',
      protocol: 'kernel', scope: 'global', source: null, metric: null,
    });
    expect(routes.filter((r) => r.table === 254 && r.family === 'ipv4').map((r) => r.destination)).toEqual(['default']);
    expect(new Set(routes.map((r) => r.table))).toEqual(new Set([254, 255]));
    // IPv6 routes carry `pref`: every one is recognised, including `default`-less multicast ones.
    expect(routes.filter((r) => r.family === 'ipv6').every((r) => r.metric !== null)).toBe(true);
    expect(routes.some((r) => r.family === 'ipv6')).toBe(true);
  });
});

describe('ip -j parsers are total', () => {
  it('malformed documents are one ParseError at line 0; odd elements are skipped with their position', () => {
    expect(parseIpLinks('{').errors.map((e) => e.line)).toEqual([0]);
    expect(parseIpRoutes('{"a":1}', 'any').errors.map((e) => e.message)).toEqual(['ip route show: line 0: not a JSON array']);
    expect(parseIpRoutes('', 'any')).toEqual({ routes: [], errors: [] });
    const odd = JSON.stringify([{ ifindex: 1, ifname: 'x', addr_info: [null, { family: 'inet', local: '1.2.3.4' }], linkinfo: null, flags: [1, 'UP'] }]);
    expect(parseIpLinks(odd).links).toMatchObject([{ name: 'x', kind: null, flags: ['1', 'UP'] }]);
    expect(parseIpAddresses(odd).addresses).toEqual([]);
    fc.assert(
      fc.property(fc.json(), (j) => {
        parseIpLinks(j);
        parseIpAddresses(j);
        parseIpRoutes(j, 'any');
        parseIpRules(j, 'ipv4');
      }),
      { numRuns: 500 },
    );
  });
});
