/**
 * The legacy source as the netlink reader runs it: as a SourceReader given the namespace's handles, through
 * readNamespace, and end to end through the reader entry point (`--reader netlink`, worker threads from dist/:
 * needs a build) against `--reader nsenter` on the same namespace.
 */
import { statSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readNamespace, type NamespaceHandles } from '../../../../agent/netns/netlink/read-namespace.js';
import type { RawSocket } from '../../../../agent/netns/netlink/raw-socket.js';
import { legacyIptablesSource } from '../../../../agent/netns/netlink/xtables/source.js';
import { SetIndex } from '../../../../agent/netns/netlink/xt/set-index.js';
import { parseIptablesSave } from '../../../../agent/netns/nsenter/iptables.js';
import { createNetnsReader, type NetnsReader } from '../../../../agent/netns/read.js';
import { emptyNetnsState } from '../../../../agent/netns/state.js';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll } from '../../../helpers/netns.js';
import { SCENARIOS } from './corpus.js';
import { ctxOf, FIXTURES, fixtureSocket } from './fixtures.js';
import { readTools, sameDumpModuloTraffic } from './read-both.js';

const limits = () => ({ maxBytes: 1 << 24, deadline: performance.now() + 5000 });

function handles(over: Partial<NamespaceHandles>): NamespaceHandles {
  const raw4 = over.raw4 ?? null;
  const setIndex = raw4 !== null ? new SetIndex(raw4) : null;
  return { route: null as never, tcRoute: null as never, netfilter: null, ipsetNetfilter: null, raw4, raw6: null, events: null, legacyTables: { ipv4: [], ipv6: [] }, problems: [], setIndex, setName: (i) => setIndex?.name(i) ?? null, ...over };
}

describe('legacyIptablesSource with given handles', () => {
  const [, v4] = FIXTURES.find(([n]) => n === 'chaos-partition-v4.json')!;
  const [, v6] = FIXTURES.find(([n]) => n === 'istio-v6.json')!;

  it('no legacy table in either family: both complete, no dump', () => {
    const state = emptyNetnsState();
    expect(legacyIptablesSource.read(handles({}), limits(), state)).toEqual([
      { source: 'iptables-legacy-ipv4', status: 'complete' },
      { source: 'iptables-legacy-ipv6', status: 'complete' },
    ]);
    expect(state.iptables).toEqual([]);
  });

  it('IPv4 tables with set names through the IPv4 socket; IPv6 tables listed but no IPv6 socket: that family failed', () => {
    const state = emptyNetnsState();
    const sock = fixtureSocket(v4);
    // The fixture socket answers SO_IP_SET too, from the captured names.
    const raw4 = {
      getsockopt(op: string, level: number, name: number, buf: Buffer): number {
        if (name !== 83) return sock.getsockopt(op, level, name, buf);
        if (buf.readUInt32LE(0) === 0x100) {
          buf.writeUInt32LE(7, 4);
          return 8;
        }
        const setName = ctxOf(v4).setName(buf.readUInt16LE(8)) ?? '';
        buf.fill(0, 8);
        buf.write(setName, 8);
        return buf.length;
      },
    } as unknown as RawSocket;
    const statuses = legacyIptablesSource.read(handles({ raw4, legacyTables: { ipv4: v4.tables.map((t) => t.name), ipv6: ['filter'] } }), limits(), state);
    expect(statuses[0]).toEqual({ source: 'iptables-legacy-ipv4', status: 'complete' });
    expect(statuses[1]).toMatchObject({ source: 'iptables-legacy-ipv6', status: 'failed', reason: 'spawn' });
    expect(state.iptables).toHaveLength(1);
    expect(state.iptables[0]).toEqual(parseIptablesSave(v4.save, 'legacy', 'ipv4'));
  });

  it('IPv6 through its own socket', () => {
    const state = emptyNetnsState();
    const raw6 = fixtureSocket(v6) as unknown as RawSocket;
    const statuses = legacyIptablesSource.read(handles({ raw6, legacyTables: { ipv4: [], ipv6: v6.tables.map((t) => t.name) } }), limits(), state);
    expect(statuses.map((s) => s.status)).toEqual(['complete', 'complete']);
    expect(state.iptables.map((d) => d.family)).toEqual(['ipv6']);
  });
});


const readers: NetnsReader[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) await r.close();
});

describeIntegration('legacy source in the netlink reader, on real namespaces', { root: true, commands: ['ip', 'nsenter', 'iptables-legacy-save', 'ip6tables-legacy-save'] }, () => {
  afterAll(destroyAll);

  it('readNamespace: legacy dumps equal to the tools, both families complete, the other sources unsupported', async () => {
    const ns = await createNetns('xsr');
    await ns.addPodInterface({ addr: '10.244.1.7/24', addr6: 'fd00:10:244:1::7/64' });
    await SCENARIOS.find((s) => s.name.startsWith('Istio'))!.apply(ns);
    const state = readNamespace({ path: ns.path, inode: statSync(ns.path).ino, maxSourceBytes: 1 << 24, budgetMs: 5000 }, [legacyIptablesSource]);
    const sources = Object.fromEntries(state.sources!.map((s) => [s.source, s.reason ?? s.status]));
    expect(sources).toEqual({
      'iptables-legacy-ipv4': 'complete', 'iptables-legacy-ipv6': 'complete',
      links: 'unsupported', 'iptables-nft-ipv4': 'unsupported', 'iptables-nft-ipv6': 'unsupported', nftables: 'unsupported', ipset: 'unsupported', tc: 'unsupported',
      'ebtables-legacy': 'unsupported', 'ebtables-nft': 'unsupported',
    });
    expect(state.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(['legacy/ipv4', 'legacy/ipv6']);
    for (const d of state.iptables) expect(sameDumpModuloTraffic(d, (await readTools(ns, d.family)).dump)).toEqual([]);
  });

  it('--reader netlink (worker threads) and --reader nsenter give the same legacy iptables', async () => {
    const ns = await createNetns('xsr');
    await ns.addPodInterface({ addr: '10.244.1.7/24', addr6: 'fd00:10:244:1::7/64' });
    const pid = await ns.startHolder();
    await SCENARIOS.find((s) => s.name.startsWith('Chaos Mesh partition (to'))!.apply(ns);
    await SCENARIOS.find((s) => s.name.startsWith('Istio'))!.apply(ns);
    const make = (reader: 'netlink' | 'nsenter'): NetnsReader => {
      const r = createNetnsReader({ reader, netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 2 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
      readers.push(r);
      return r;
    };
    const target = { path: ns.path, inode: statSync(ns.path).ino, pid };
    const viaNetlink = await make('netlink').read(target);
    const viaTools = await make('nsenter').read(target);
    expect(viaNetlink.reader).toBe('netlink');
    const legacy = (s: typeof viaTools) => s.iptables.filter((d) => d.backend === 'legacy');
    expect(legacy(viaNetlink).map((d) => d.family)).toEqual(['ipv4', 'ipv6']);
    legacy(viaNetlink).forEach((d, i) => expect(sameDumpModuloTraffic(d, legacy(viaTools)[i]!)).toEqual([]));
  });
});
