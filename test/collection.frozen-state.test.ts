/**
 * The reader's states are shared between collections (netlink/pool.ts returns the kept NetnsState again, the same
 * object, when a namespace's tape replays identically), so nothing downstream may modify one. Here every state the
 * real reader returns is deep-frozen (strict-mode code then throws on any write) and goes through what a state goes
 * through: two collections (the second answered from the tapes), the metrics pipeline (families build, both
 * renderings) and inspect's JSON of every pod.
 */
import { statSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { collect, podReportJson } from '../agent/collection.js';
import { silentLogger } from '../agent/log.js';
import { InjectionTracker } from '../agent/metrics/injection-tracker.js';
import { Registry } from 'prom-client';
import { buildCollectionFamilies, renderRegistry } from '../agent/metrics/registry.js';
import { NetnsReader, createNetnsReader, type ReadTarget } from '../agent/netns/read.js';
import type { NetnsState } from '../agent/netns/state.js';
import type { Inventory } from '../agent/runtime/inventory.js';
import type { PodInfo } from '../agent/runtime/types.js';
import { ChaosMeshReplay } from './helpers/chaos-mesh.js';
import { describeIntegration } from './helpers/env.js';
import { createNetns, destroyAll } from './helpers/netns.js';

function deepFreeze<T>(x: T, seen = new Set<unknown>()): T {
  if (x === null || typeof x !== 'object' || seen.has(x)) return x;
  seen.add(x);
  for (const v of Object.values(x as object)) deepFreeze(v, seen);
  return Object.freeze(x);
}

/** The real reader, its states frozen; remembers each so the test can check it came back the same. */
class FreezingReader extends NetnsReader {
  readonly returned: NetnsState[] = [];
  override async read(target: ReadTarget, signal?: AbortSignal): Promise<NetnsState> {
    const s = deepFreeze(await super.read(target, signal));
    this.returned.push(s);
    return s;
  }
}

describeIntegration('NetnsState objects the reader returns are never modified downstream', { root: true, commands: ['ip', 'tc', 'ipset', 'iptables-legacy'] }, () => {
  afterAll(destroyAll);

  it('frozen states go through two collections, the metrics pipeline and inspect JSON without a write', async () => {
    // No IPv6: its router solicitations would move the tbf's counters between the two collections (a real change).
    const noV6 = ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1'];
    const ns = await createNetns('frz');
    await ns.exec(noV6);
    await ns.addPodInterface({ addr: '10.252.0.2/24' });
    const pid = await ns.startHolder();
    const cm = new ChaosMeshReplay(ns, 'legacy');
    const part = await cm.partition({ experiment: 'frz-part', direction: 'to', cidrs: ['10.252.9.0/24'], cidrPorts: ['10.252.8.1,80'] });
    await cm.bandwidth({ rate: 1_000_000, burst: 10_000, limit: 20_000 });
    const clean = await createNetns('frz');
    await clean.exec(noV6);
    await clean.addPodInterface({ addr: '10.252.1.2/24' });
    const pods: PodInfo[] = [ns, clean].map((n, i) => ({
      namespace: 'team', name: `p${i}`, uid: `uid-p${i}`, runtime: 'containerd', endpoint: 'unix:///fake.sock', sandboxId: `sb${i}`,
      state: 'SANDBOX_READY', pid: i === 0 ? pid : null, hostNetwork: false, netns: { inode: statSync(n.path).ino, path: n.path },
      containers: [{ id: `c${i}`, name: 'app', state: 'CONTAINER_RUNNING', pid: i === 0 ? pid : null }],
    }));
    const inventory = {
      collect: async () => ({ runtimes: [{ endpoint: 'unix:///fake.sock', protocol: 'cri', source: 'flag', up: true, runtime: 'containerd', version: '1.6.20', apiVersion: 'v1', error: null }], pods, errors: [] }),
      containerStatsReport: async () => ({ stats: [], failed: [] }),
    } as unknown as Inventory;
    const base = createNetnsReader({ reader: 'netlink', netnsConcurrency: 2, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 1 << 22, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
    const reader = new FreezingReader(base.config);
    try {
      const tracker = new InjectionTracker();
      for (let round = 0; round < 2; round++) {
        const snap = await collect({ inventory, reader, procRoot: '/proc', log: silentLogger() });
        expect(snap.pods.map((p) => [p.name, p.chaos.verdict, p.chaos.kinds.join(',')])).toEqual([['p0', 'active', 'bandwidth'], ['p1', 'clean', '']]);
        const collection = await buildCollectionFamilies({ snapshot: snap, bpm: null, extraCollectors: [], firstSeen: (a, b, c) => tracker.firstSeen(a, b, c), compatMetrics: true });
        const rendered = await renderRegistry(new Registry(), { collection });
        for (const om of [false, true]) expect((await rendered.body(om ? 'openmetrics' : 'prometheus', false)).toString('utf8')).toContain('chaos_daemon_');
        expect(JSON.stringify(snap.pods.map((p) => podReportJson(p)))).toContain(part.chain);
      }
      // The second collection was answered from the tapes: the very same (frozen) objects.
      expect(reader.returned).toHaveLength(4);
      expect(new Set(reader.returned).size).toBe(2);
    } finally {
      await reader.close();
      await base.close();
    }
  });
});
