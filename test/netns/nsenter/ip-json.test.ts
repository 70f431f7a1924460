import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddrJson, parseIpRouteJson } from '../../../agent/netns/nsenter/ip-json.js';

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/ip/${p}`, import.meta.url), 'utf8');
const P = '3f2a9c1b-7e4d';

describe('ip -j parsers (minimal, for HTTPChaos)', () => {
  it('reads links and addresses of the chaos-tproxy bridge layout (real capture)', () => {
    const { links, addresses, error } = parseIpAddrJson(fixture('tproxy-bridge-addr.json'));
    expect(error).toBeNull();
    const byName = new Map(links.map((l) => [l.name, l]));
    expect([...byName.keys()]).toEqual(['lo', 'gw0', 'eth0', `${P}b1`, `${P}v1`, `${P}v4`]);
    const bridge = byName.get(`${P}b1`)!;
    expect(bridge.kind).toBe('bridge');
    expect(byName.get('eth0')).toMatchObject({ kind: 'veth', master: bridge.index, address: '02:42:0a:f4:01:07', link: byName.get('gw0')!.index, linkNetnsId: null });
    expect(byName.get(`${P}v1`)).toMatchObject({ kind: 'veth', master: bridge.index, linkNetnsId: 0 });
    expect(byName.get(`${P}v4`)).toMatchObject({ kind: 'veth', master: null, address: '0a:58:0a:f4:01:07', linkNetnsId: 0 });
    expect(addresses.filter((a) => a.family === 'ipv4').map((a) => [a.interface, a.address, a.prefixLength, a.scope])).toEqual([
      ['lo', '127.0.0.1', 8, 'host'],
      [`${P}v4`, '10.244.1.7', 24, 'global'],
    ]);
  });

  it('reads routes of every table with their table ids (real capture)', () => {
    const { routes, error } = parseIpRouteJson(fixture('tproxy-bridge-route.json'));
    expect(error).toBeNull();
    expect(routes[0]).toEqual({
      family: 'ipv4', table: 254, destination: 'default', gateway: '10.244.1.1', interface: `${P}v4`, type: 'unicast',
      protocol: 'kernel', scope: 'global', source: null, metric: null,
    });
    expect(routes.filter((r) => r.table === 254 && r.family === 'ipv4').map((r) => r.destination)).toEqual(['default']);
    expect(new Set(routes.map((r) => r.table))).toEqual(new Set([254, 255]));
    expect(routes.some((r) => r.family === 'ipv6')).toBe(true);
  });

  it('is total: malformed JSON gives an error and what could be read', () => {
    expect(parseIpAddrJson('{')).toMatchObject({ links: [], error: expect.stringMatching(/^invalid JSON/) });
    expect(parseIpRouteJson('{"a":1}')).toEqual({ routes: [], error: 'not a JSON array' });
    expect(parseIpRouteJson('')).toEqual({ routes: [], error: null });
    fc.assert(
      fc.property(fc.json(), (j) => {
        parseIpAddrJson(j);
        parseIpRouteJson(j);
      }),
      { numRuns: 300 },
    );
    const odd = JSON.stringify([{ ifindex: 1, ifname: 'x', addr_info: [null, { family: 'inet', local: '1.2.3.4' }], linkinfo: null, flags: [1, 'UP'] }]);
    expect(parseIpAddrJson(odd)).toMatchObject({ links: [{ name: 'x', kind: null, flags: ['UP'] }], addresses: [] });
  });
});
