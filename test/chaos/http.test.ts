import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import type { Address, NetnsState } from '../../agent/netns/state.js';
import { parseEbtables } from '../../agent/netns/nsenter/ebtables.js';
import { iptables, link, netem, route, state, tcState } from './builders.js';
import { FILTER_HEAD } from './samples.js';

describe('fingerprint: HTTPChaos and DNSChaos', () => {
  const HTTP = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CHAOS_PROXY_OUTPUT - [0:0]
:CHAOS_PROXY_PREROUTING - [0:0]
:DIVERT - [0:0]
-A PREROUTING -p tcp -m socket -j DIVERT
-A PREROUTING -p tcp -m tcp --dport 30000:65535 -j CHAOS_PROXY_PREROUTING
-A OUTPUT -p tcp -m tcp --sport 30000:65535 -j CHAOS_PROXY_OUTPUT
-A CHAOS_PROXY_OUTPUT -m mark --mark 0xff -j RETURN
-A CHAOS_PROXY_OUTPUT -p tcp -j MARK --set-xmark 0x1/0xffffffff
-A CHAOS_PROXY_PREROUTING -m mark --mark 0xff -j RETURN
-A CHAOS_PROXY_PREROUTING -p tcp -j TPROXY --on-port 58080 --on-ip 0.0.0.0 --tproxy-mark 0x1/0xffffffff
-A DIVERT -j MARK --set-xmark 0x1/0xffffffff
-A DIVERT -j ACCEPT
COMMIT
`;
  const IP_RULE = '32765:\tfrom all fwmark 0x1 lookup 100';

  it('reports a reachable TPROXY in the chaos-tproxy chains as active http, with the fwmark ip rule', () => {
    const r = fingerprint(state({ iptables: [iptables(HTTP)], ipRules: [IP_RULE] }));
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['http']);
    expect(r.findings).toEqual([
      'mangle CHAOS_PROXY_PREROUTING diverts tcp traffic to a transparent proxy on port 58080 ' +
        '(TPROXY mark 0x1/0xffffffff); ip rule: 32765: from all fwmark 0x1 lookup 100',
    ]);
  });

  it('calls an empty DIVERT chain and a leftover ip rule scaffolding', () => {
    const text = `*mangle
:PREROUTING ACCEPT [0:0]
:DIVERT - [0:0]
-A PREROUTING -p tcp -m socket -j DIVERT
COMMIT
`;
    const r = fingerprint(state({ iptables: [iptables(text)], ipRules: [IP_RULE] }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      'mangle DIVERT is empty (jumped to from PREROUTING)',
      'ip rule "32765: from all fwmark 0x1 lookup 100" (HTTPChaos routing) remains',
    ]);
  });

  it('calls DIVERT marking without any reachable TPROXY scaffolding', () => {
    const text = HTTP.replace('-A PREROUTING -p tcp -m tcp --dport 30000:65535 -j CHAOS_PROXY_PREROUTING\n', '');
    const r = fingerprint(state({ iptables: [iptables(text)] }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      'mangle CHAOS_PROXY_OUTPUT holds 2 rules (jumped to from OUTPUT) but no reachable TPROXY rule sends traffic to a proxy',
      'mangle DIVERT holds 2 rules (jumped to from PREROUTING) but no reachable TPROXY rule sends traffic to a proxy',
      'mangle CHAOS_PROXY_PREROUTING holds 2 rules but nothing jumps to it',
    ]);
  });

  it('orders active findings before scaffolding and merges kinds across sources', () => {
    const r = fingerprint(
      state({
        iptables: [iptables(HTTP), iptables(`${FILTER_HEAD}\n:CHAOS-INPUT - [0:0]\n-A INPUT -j CHAOS-INPUT\nCOMMIT\n`)],
        tc: tcState([netem({ handle: '1:', parent: 'root' }, { loss: 0.1 })]),
      }),
    );
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['http', 'loss']);
    expect(r.details.map((d) => d.level)).toEqual(['active', 'active', 'scaffolding']);
    expect(r.findings[2]).toBe('CHAOS-INPUT is empty (jumped to from INPUT)');
  });
});

// chaos-tproxy v0.5.3 bridge layout, as the pod namespace holds it (bridge.rs setenv_bridge, iptables.rs set_iptables).
const P = '67e55044-10b1';
const V4_MAC = '02:42:0a:f4:01:07';
const addr = (index: number, iface: string, address: string, prefixLength: number): Address => ({ index, interface: iface, family: 'ipv4', address, prefixLength, scope: 'global' });
/** ebtables-legacy -t nat -L --Lc, as ebtables 2.0.11 prints it (MACs without leading zeros). */
const EBT_LEGACY = `Bridge table: nat

Bridge chain: PREROUTING, entries: 1, policy: ACCEPT
-i eth0 -j dnat --to-dst 2:42:a:f4:1:7 --dnat-target ACCEPT, pcnt = 42 -- bcnt = 5120

Bridge chain: OUTPUT, entries: 0, policy: ACCEPT

Bridge chain: POSTROUTING, entries: 0, policy: ACCEPT
`;
const EBT_FLUSHED = EBT_LEGACY.replace(/^-i eth0 .*\n/m, '').replace('entries: 1', 'entries: 0');

function injected(): NetnsState {
  return state({
    links: [
      link(1, 'lo', null),
      link(2, 'eth0', 'veth', { master: 4, linkNetnsId: 0, link: 9 }),
      link(4, `${P}b1`, 'bridge'),
      link(5, `${P}v1`, 'veth', { master: 4, linkNetnsId: 1, link: 2 }),
      link(6, `${P}v4`, 'veth', { address: V4_MAC, linkNetnsId: 1, link: 3 }),
    ],
    addresses: [addr(1, 'lo', '127.0.0.1', 8), addr(6, `${P}v4`, '10.244.1.7', 24)],
    routes: [route('default', `${P}v4`, '10.244.1.1')],
    ebtables: [parseEbtables(EBT_LEGACY, 'legacy')],
  });
}

function recovered(): NetnsState {
  return state({
    links: [link(1, 'lo', null), link(2, 'eth0', 'veth', { linkNetnsId: 0, link: 9 })],
    addresses: [addr(1, 'lo', '127.0.0.1', 8), addr(2, 'eth0', '10.244.1.7', 24)],
    routes: [route('default', 'eth0', '10.244.1.1'), route('10.244.1.0/24', 'eth0', null)],
    ebtables: [parseEbtables(EBT_FLUSHED, 'legacy')],
  });
}

describe('fingerprint: HTTPChaos bridge layout (Chaos Mesh >= 2.2)', () => {
  it('is active, and names the bridge, the moved address, the default route, the ebtables rule and the proxy namespace', () => {
    const r = fingerprint(injected(), { namedNetns: [`${P}ns`, 'cni-1234'] });
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['http']);
    expect(r.findings).toEqual([
      `HTTPChaos (chaos-tproxy bridge layout) diverts the pod's traffic through a proxy namespace: bridge ${P}b1 holds eth0 and ${P}v1, ` +
        `pod address 10.244.1.7/24 moved from eth0 to ${P}v4, default route via 10.244.1.1 dev ${P}v4, ` +
        `ebtables nat PREROUTING "-i eth0 -j dnat --to-dst 2:42:a:f4:1:7 --dnat-target ACCEPT" (the MAC of ${P}v4); ` +
        `proxy namespace /run/netns/${P}ns exists`,
    ]);
    expect(r.details[0]!.http).toEqual({
      layout: 'bridge', prefix: P, bridge: `${P}b1`, ports: ['eth0', `${P}v1`], veths: [`${P}v1`, `${P}v4`], addresses: ['10.244.1.7/24'],
      defaultRoutes: [`via 10.244.1.1 dev ${P}v4`], ebtablesRules: ['-i eth0 -j dnat --to-dst 2:42:a:f4:1:7 --dnat-target ACCEPT'],
      proxyNetns: `${P}ns`, proxyNetnsExists: true,
    });
    expect(fingerprint(injected()).findings[0]).toMatch(new RegExp(`; proxy namespace ${P}ns \\(/run/netns; not listed\\)$`));
  });

  it('after chaos-tproxy teardown (bridge deleted, address back on eth0, ebtables nat flushed): clean', () => {
    const r = fingerprint(recovered(), { namedNetns: ['cni-1234'] });
    expect(r).toEqual({ verdict: 'clean', kinds: [], findings: [], details: [] });
  });

  it('a failed teardown that left the bridge holding eth0 is still active (traffic diverted or blackholed)', () => {
    const s = injected();
    s.links = s.links!.filter((l) => !l.name.endsWith('v4') && !l.name.endsWith('v1'));
    s.addresses = [];
    s.routes = [];
    const r = fingerprint(s, { namedNetns: [] });
    expect(r.verdict).toBe('active');
    expect(r.findings).toEqual([
      `HTTPChaos (chaos-tproxy bridge layout) diverts the pod's traffic through a proxy namespace: bridge ${P}b1 holds eth0, ` +
        `ebtables nat PREROUTING "-i eth0 -j dnat --to-dst 2:42:a:f4:1:7 --dnat-target ACCEPT"; proxy namespace ${P}ns is gone from /run/netns`,
    ]);
  });

  it('tproxy veths that carry nothing, and a dnat rule on a device no bridge holds, are scaffolding', () => {
    const s = recovered();
    s.links!.push(link(6, `${P}v4`, 'veth', { address: V4_MAC, linkNetnsId: 1 }));
    s.ebtables = [parseEbtables(EBT_LEGACY, 'legacy')];
    const r = fingerprint(s, { namedNetns: [`${P}ns`] });
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      `HTTPChaos (chaos-tproxy) residue that carries no traffic: veth ${P}v4 (peer in another namespace), ` +
        `ebtables nat PREROUTING "-i eth0 -j dnat --to-dst 2:42:a:f4:1:7 --dnat-target ACCEPT" (the MAC of ${P}v4); proxy namespace /run/netns/${P}ns exists`,
    ]);
    const alone = recovered();
    alone.ebtables = [parseEbtables(EBT_LEGACY, 'legacy')];
    expect(fingerprint(alone).findings).toEqual([
      'ebtables nat PREROUTING "-i eth0 -j dnat --to-dst 2:42:a:f4:1:7 --dnat-target ACCEPT" remains, but eth0 is not a bridge port: it changes nothing (HTTPChaos residue)',
    ]);
  });

  it('a dnat rule read without links (no chaos-tproxy interface, so the reader read none) is residue', () => {
    const r = fingerprint(state({ ebtables: [parseEbtables(EBT_LEGACY, 'legacy')] }));
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings).toEqual([
      'ebtables nat PREROUTING "-i eth0 -j dnat --to-dst 2:42:a:f4:1:7 --dnat-target ACCEPT" remains, but no chaos-tproxy bridge is left in this namespace: it changes nothing (HTTPChaos residue)',
    ]);
  });

  it("a bridge that is not chaos-tproxy's is not chaos", () => {
    const r = fingerprint(state({
      links: [link(2, 'eth0', 'veth', { master: 3 }), link(3, 'br0', 'bridge')],
      addresses: [addr(3, 'br0', '10.0.0.2', 24)],
      routes: [route('default', 'br0', '10.0.0.1')],
      ebtables: [parseEbtables('*nat\n:PREROUTING ACCEPT\n[0:0] -A PREROUTING -i eth0 -j dnat --to-dst 02:00:00:00:00:01 --dnat-target ACCEPT\n', 'nft')],
    }));
    expect(r.verdict).toBe('clean');
    expect(r.details.map((d) => d.message)).toEqual(['foreign: ebtables nat PREROUTING "-i eth0 -j dnat --to-dst 02:00:00:00:00:01 --dnat-target ACCEPT"']);
  });

  it('the old mangle layout and the bridge layout can both be reported', () => {
    const s = injected();
    s.iptables = [iptables(`*mangle\n:PREROUTING ACCEPT [0:0]\n:DIVERT - [0:0]\n-A PREROUTING -p tcp -m socket -j DIVERT\n-A DIVERT -j MARK --set-xmark 0x1/0xffffffff\n-A DIVERT -j ACCEPT\n-A PREROUTING -p tcp -j TPROXY --on-port 1025 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1\nCOMMIT\n`)];
    const r = fingerprint(s);
    expect(r.kinds).toEqual(['http']);
    expect(r.findings.length).toBe(2);
    expect(r.findings[0]).toBe('mangle PREROUTING diverts tcp traffic to a transparent proxy on port 1025 (TPROXY mark 0x1/0x1)');
    expect(fingerprint(state({ tc: tcState([netem({ handle: '1:', parent: 'root' }, {})]), iptables: [iptables(`${FILTER_HEAD}\nCOMMIT\n`)] })).verdict).toBe('scaffolding');
  });
});
