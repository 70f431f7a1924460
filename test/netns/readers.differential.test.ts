/**
 * The two readers, end to end through the reader entry point (agent/netns/read.ts: the netlink reader in its worker
 * threads, the tools reader with nsenter), on the same real namespaces: the same structured state (counters may
 * differ only by traffic between the reads, ipset timeouts by the seconds between them; tc `options` is each
 * reader's raw view and statistics move) and the same verdict, kinds and findings. `--reader auto` reads every one
 * of these without a fallback, except chaos-tproxy's bridge layout (ebtables-legacy is read through the tools).
 *
 * The namespaces: every iptables scenario of the xtables corpus through both backends (Chaos Mesh partition,
 * bandwidth with its CLASSIFY chain, HTTPChaos's old mangle layout, recovery, kube-proxy, CNI/Docker, Istio IPv4 +
 * IPv6, Linkerd, save-format edges, ipset matches), plus Chaos Mesh's tbf root and filtered layout, the residue of
 * a failed injection (ipsets only), and chaos-tproxy's bridge layout.
 */
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import { createNetnsReader, type NetnsReader, type ReaderMode } from '../../agent/netns/read.js';
import type { IpsetDump, NetnsState, TcDump } from '../../agent/netns/state.js';
import { ChaosMeshReplay, ipsetName } from '../helpers/chaos-mesh.js';
import { ChaosTproxyReplay } from '../helpers/chaos-tproxy.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';
import { scenarios } from './netlink/xtables/corpus.js';
import { sameDumpModuloTraffic } from './netlink/xtables/read-both.js';

const readers = new Map<ReaderMode, NetnsReader>();
const reader = (mode: ReaderMode): NetnsReader => {
  let r = readers.get(mode);
  if (!r) {
    r = createNetnsReader({ reader: mode, netnsConcurrency: 2, nsenterPath: 'nsenter', commandTimeoutMs: 20_000, maxOutputBytes: 16 << 20, namespaceTimeoutMs: 60_000, procRoot: '/proc' });
    readers.set(mode, r);
  }
  return r;
};

/** tc without each reader's raw `options` and without statistics (traffic moves them). */
function tcShape(tc: TcDump): unknown {
  const strip = <T extends { options?: unknown; stats?: unknown }>(xs: T[]) => xs.map(({ options: _o, stats: _s, ...rest }) => rest);
  return { qdiscs: strip(tc.qdiscs), classes: strip(tc.classes), filters: strip(tc.filters), errors: tc.errors };
}

/** ipsets without member timeouts and counters (they move between the reads) and the netlink-only revision / references. */
function ipsetShape(d: IpsetDump): unknown {
  return JSON.parse(JSON.stringify(d, (k, v: unknown) => (['timeout', 'packets', 'bytes', 'options', 'value', 'revision', 'references'].includes(k) ? undefined : v)));
}

function compare(netlink: NetnsState, tools: NetnsState): void {
  expect(netlink.reader).toBe('netlink');
  expect(tools.reader).toBe('nsenter');
  expect(netlink.errors).toEqual([]);
  expect(tools.errors).toEqual([]);
  const status = (s: NetnsState) => Object.fromEntries((s.sources ?? []).map((x) => [x.source, x.status]));
  expect(status(netlink)).toEqual(status(tools));
  expect(netlink.iptables.map((d) => `${d.backend}/${d.family}`)).toEqual(tools.iptables.map((d) => `${d.backend}/${d.family}`));
  netlink.iptables.forEach((d, i) => expect(sameDumpModuloTraffic(d, tools.iptables[i]!), `${d.backend}/${d.family}`).toEqual([]));
  expect(ipsetShape(netlink.ipsets)).toEqual(ipsetShape(tools.ipsets));
  expect(netlink.ipsets.sets.map((s) => s.members.length)).toEqual(tools.ipsets.sets.map((s) => s.members.length));
  expect(tcShape(netlink.tc)).toEqual(tcShape(tools.tc));
  expect(netlink.links).toEqual(tools.links);
  expect(netlink.addresses).toEqual(tools.addresses);
  expect(netlink.routes).toEqual(tools.routes);
  expect(netlink.rules).toEqual(tools.rules);
  expect(netlink.ipRules).toEqual(tools.ipRules);
  const a = fingerprint(netlink);
  const b = fingerprint(tools);
  expect({ verdict: a.verdict, kinds: a.kinds, findings: a.findings }).toEqual({ verdict: b.verdict, kinds: b.kinds, findings: b.findings });
}

/**
 * The kernel adds each link's IPv6 link-local address (and its local route) asynchronously after the link goes up,
 * through duplicate address detection: wait until no address is tentative and the addresses and routes stay the
 * same over 200 ms, so both readers see the same settled state.
 */
async function settled(ns: TestNetns): Promise<void> {
  const view = async () => (await ns.exec(['ip', '-j', 'addr', 'show'])).stdout + (await ns.exec(['ip', '-j', 'route', 'show', 'table', 'all'])).stdout + (await ns.exec(['ip', '-6', '-j', 'route', 'show', 'table', 'all'])).stdout;
  const deadline = Date.now() + 15_000;
  let last = '';
  for (;;) {
    const now = await view();
    if (now === last && !now.includes('"tentative"')) return;
    if (Date.now() > deadline) throw new Error(`the namespace's addresses never settled: ${now.slice(0, 2000)}`);
    last = now;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function podNamespace(): Promise<TestNetns> {
  const ns = await createNetns('rdf');
  await ns.addPodInterface({ addr: '10.244.1.7/24', addr6: 'fd00:10:244:1::7/64' });
  await ns.exec(['ip', 'route', 'add', 'default', 'via', '10.244.1.1']);
  await ns.startHolder();
  await settled(ns);
  return ns;
}

async function readAll(ns: TestNetns): Promise<{ netlink: NetnsState; tools: NetnsState; auto: NetnsState; fallbacks: number }> {
  const target = { path: ns.path, inode: statSync(ns.path).ino, pid: ns.holderPid };
  const before = [...reader('auto').fallbacks.values()].reduce((x, y) => x + y, 0);
  const netlink = await reader('netlink').read(target);
  const tools = await reader('nsenter').read(target);
  const auto = await reader('auto').read(target);
  const fallbacks = [...reader('auto').fallbacks.values()].reduce((x, y) => x + y, 0) - before;
  return { netlink, tools, auto, fallbacks };
}

describeIntegration('the netlink and tools readers agree, state and verdict', {
  root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'nft', 'iptables-legacy-restore', 'iptables-nft-restore', 'ip6tables-legacy-restore', 'ip6tables-nft-restore', 'ebtables'],
}, () => {
  afterAll(async () => {
    for (const r of readers.values()) await r.close();
    await destroyAll();
  });

  for (const backend of ['legacy', 'nft'] as const) {
    describe(`iptables scenarios through the ${backend} backend`, () => {
      for (const sc of scenarios(backend)) {
        it(sc.name, async () => {
          const ns = await podNamespace();
          await sc.apply(ns);
          const r = await readAll(ns);
          compare(r.netlink, r.tools);
          expect(r.fallbacks).toBe(0);
          expect(r.auto.reader).toBe('netlink');
          await ns.destroy();
        });
      }
    });
  }

  it('Chaos Mesh tbf root, then its recovery', async () => {
    const ns = await podNamespace();
    const cm = new ChaosMeshReplay(ns, 'legacy');
    await cm.bandwidth({ rate: 1_000_000, burst: 32_768, limit: 100_000 });
    let r = await readAll(ns);
    compare(r.netlink, r.tools);
    expect(fingerprint(r.netlink).kinds).toEqual(['bandwidth']);
    expect(r.fallbacks).toBe(0);
    await cm.recover();
    r = await readAll(ns);
    compare(r.netlink, r.tools);
    expect(fingerprint(r.netlink).verdict).toBe('scaffolding');
    await ns.destroy();
  });

  it('Chaos Mesh filtered layout (htb stand-in for prio, CLASSIFY chain) in the nft backend', async () => {
    const ns = await podNamespace();
    await new ChaosMeshReplay(ns, 'nft').filteredBandwidth({ experiment: 'slow-db', cidrs: ['10.9.9.0/24'], rate: 1_000_000, burst: 32_768, limit: 100_000 });
    const r = await readAll(ns);
    compare(r.netlink, r.tools);
    expect(fingerprint(r.netlink)).toMatchObject({ verdict: 'active', kinds: ['bandwidth'] });
    expect(r.fallbacks).toBe(0);
    await ns.destroy();
  });

  it('a failed injection that left only ipsets: scaffolding from both readers', async () => {
    const ns = await podNamespace();
    const set = ipsetName('web-part', 'net_tgt');
    await ns.exec(['ipset', 'create', set, 'hash:net']);
    await ns.exec(['ipset', 'add', set, '10.9.9.9/32']);
    const r = await readAll(ns);
    compare(r.netlink, r.tools);
    expect(fingerprint(r.netlink).verdict).toBe('scaffolding');
    await ns.destroy();
  });

  it("chaos-tproxy's bridge layout: same state and verdict; auto reads it through the tools (ebtables)", async () => {
    const ns = await podNamespace();
    const tp = new ChaosTproxyReplay(ns);
    try {
      await tp.setup({ gatewayMac: '02:42:0a:f4:01:01', ebtables: 'auto' });
      await settled(ns);
      const r = await readAll(ns);
      // The netlink reader leaves ebtables to the tools when chaos-tproxy's links exist: the rest must agree.
      expect(r.netlink.sources!.find((s) => s.source === 'ebtables-legacy')).toMatchObject({ status: 'failed', reason: 'unsupported' });
      expect(r.auto.reader).toBe('nsenter');
      expect(r.fallbacks).toBe(1);
      const sansEbtables = (s: NetnsState): NetnsState => ({ ...s, errors: [], ebtables: undefined, sources: (s.sources ?? []).filter((x) => !x.source.startsWith('ebtables')) });
      expect(r.tools.ebtables?.flatMap((d) => d.tables.map((t) => t.name))).toContain('nat');
      compare(sansEbtables(r.netlink), sansEbtables(r.tools));
      const http = fingerprint(r.auto);
      expect(http).toMatchObject({ verdict: 'active', kinds: ['http'] });
      expect(http.findings.join('\n')).toMatch(/ebtables nat PREROUTING "-i eth0 -j dnat --to-dst [0-9a-f:]{17} --dnat-target ACCEPT"/);
    } finally {
      await tp.destroy();
      await ns.destroy();
    }
  });
});
