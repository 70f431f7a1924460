/**
 * The netns collector's reads against the collection's signal and deadline, on real namespaces and the real netlink
 * reader (worker threads): one abort listener for the whole collection whatever the number of namespaces (one per
 * namespace gave MaxListenersExceededWarning at 11), and the collection's abort and deadline still reaching every
 * read still running.
 */
import { getEventListeners } from 'node:events';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CollectContext } from '../../agent/collect/collector.js';
import { emptyDraft, type Draft } from '../../agent/collect/draft.js';
import { netnsCollector } from '../../agent/collect/netns.js';
import { silentLogger } from '../../agent/log.js';
import { PersistentMetrics } from '../../agent/metrics/registry.js';
import { createNetnsReader, type NetnsReader } from '../../agent/netns/read.js';
import type { PodInfo } from '../../agent/runtime/types.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';
import { ownFds } from '../helpers/procs.js';

/** More namespaces than an EventTarget's default listener limit (10). */
const N = 12;

function podIn(ns: TestNetns, i: number): PodInfo {
  return {
    namespace: 'team', name: `p${i}`, uid: `uid-${i}`, runtime: 'containerd', endpoint: 'unix:///fake.sock', sandboxId: `sb${i}`,
    state: 'SANDBOX_READY', pid: ns.holderPid, hostNetwork: false, netns: { path: ns.path, inode: statSync(ns.path).ino },
    containers: [{ id: `c${i}`, name: 'app', state: 'CONTAINER_RUNNING', pid: ns.holderPid }],
  };
}

describeIntegration('netns collector: the collection\'s signal and deadline', { root: true, commands: ['ip', 'tc'] }, () => {
  const namespaces: TestNetns[] = [];
  const readers: NetnsReader[] = [];
  const readerOf = (onRead?: () => void): NetnsReader => {
    const r = createNetnsReader({ reader: 'netlink', netnsConcurrency: 2, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 1 << 24, namespaceTimeoutMs: 10_000, procRoot: '/proc' }, onRead ? { onRead } : {});
    readers.push(r);
    return r;
  };
  const draftOf = (): Draft => ({ ...emptyDraft(), pods: namespaces.map(podIn) });

  beforeAll(async () => {
    for (let i = 0; i < N; i++) {
      const ns = await createNetns('h4gate');
      await ns.startHolder();
      namespaces.push(ns);
    }
  });
  afterAll(async () => {
    for (const r of readers.splice(0)) await r.close();
    await destroyAll();
  });

  it('keeps the sockets of the namespaces it read for the next collection, and closes those of the pods gone', async () => {
    const reader = readerOf();
    const sockets = (): number => ownFds().filter((f) => f.target.startsWith('socket:')).length;
    const ctx = (): CollectContext => ({ deadline: performance.now() + 60_000, log: silentLogger() });
    const s0 = sockets();
    for (let i = 0; i < 2; i++) expect(await netnsCollector({ reader }).collect(draftOf(), ctx())).toEqual({ success: true });
    // Per namespace, its NETLINK_ROUTE and NETLINK_NETFILTER fds, the IPv4 raw socket (no legacy IPv6 table) and the
    // route events (route-events.ts).
    expect(sockets() - s0).toBe(4 * N);
    const few: Draft = { ...emptyDraft(), pods: namespaces.slice(0, 4).map(podIn) };
    expect(await netnsCollector({ reader }).collect(few, ctx())).toEqual({ success: true });
    // The thread closes the others when it takes the collection's message, right after its last read.
    const until = performance.now() + 5000;
    while (sockets() - s0 !== 4 * 4 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(sockets() - s0).toBe(4 * 4);
  });

  it(`reads ${N} namespaces with one abort listener on the collection's signal, and none left after`, async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const ac = new AbortController();
    let most = 0;
    const reader = readerOf(() => {
      most = Math.max(most, getEventListeners(ac.signal, 'abort').length);
    });
    const draft = draftOf();
    try {
      const out = await netnsCollector({ reader }).collect(draft, { signal: ac.signal, deadline: performance.now() + 60_000, log: silentLogger() });
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
      expect(out).toEqual({ success: true });
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([]);
    expect(most).toBe(1);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(draft.pods.map((p) => draft.reports.get(p)?.chaos.verdict)).toEqual(Array<string>(N).fill('clean'));
    expect(reader.reads).toBe(N);
  });

  it('a namespace read again with nothing changed is answered by its replay, counted in chaos_daemon_netns_reads_unchanged_total', async () => {
    const metrics = new PersistentMetrics({ defaultMetrics: false });
    const seen: boolean[] = [];
    const r = createNetnsReader({ reader: 'netlink', netnsConcurrency: 2, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 1 << 24, namespaceTimeoutMs: 10_000, procRoot: '/proc' }, {
      onRead: (e) => {
        seen.push(e.unchanged);
        metrics.onRead(e);
      },
    });
    readers.push(r);
    const counted = async (): Promise<number> => (await metrics.registry.getSingleMetric('chaos_daemon_netns_reads_unchanged_total')!.get()).values[0]?.value ?? -1;
    for (let round = 0; round < 2; round++) {
      const out = await netnsCollector({ reader: r }).collect(draftOf(), { deadline: performance.now() + 60_000, log: silentLogger() });
      expect(out).toEqual({ success: true });
    }
    expect(seen).toEqual([...Array<boolean>(N).fill(false), ...Array<boolean>(N).fill(true)]);
    expect(await counted()).toBe(N);
    // A change in one namespace: that one is decoded again, the others replay.
    await namespaces[0]!.exec(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '400ms']);
    try {
      await netnsCollector({ reader: r }).collect(draftOf(), { deadline: performance.now() + 60_000, log: silentLogger() });
    } finally {
      await namespaces[0]!.exec(['tc', 'qdisc', 'del', 'dev', 'lo', 'root']); // the other tests expect clean namespaces
    }
    expect(seen.slice(2 * N).filter((u) => !u)).toHaveLength(1);
    expect(await counted()).toBe(2 * N - 1);
  });

  it('the collection\'s abort reaches the reads still queued: the collector fails with "aborted", no read is left waiting', async () => {
    const ac = new AbortController();
    const reader = readerOf(() => ac.abort(new Error('stop')));
    const draft = draftOf();
    const out = await netnsCollector({ reader }).collect(draft, { signal: ac.signal, deadline: performance.now() + 60_000, log: silentLogger() });
    expect(out).toEqual({ success: false, error: 'aborted' });
    const reports = draft.pods.map((p) => draft.reports.get(p)!);
    // The first read finished (and aborted the collection); the reads queued behind the 2 threads were cut.
    expect(reports.filter((r) => r.chaos.verdict === 'clean').length).toBeGreaterThanOrEqual(1);
    expect(reports.filter((r) => r.chaos.verdict === 'unknown').length).toBeGreaterThanOrEqual(N - 2 - 1);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('reads still running at the deadline are abandoned and reported unread; the collector says how many', async () => {
    const reader = readerOf();
    const draft = draftOf();
    const ctx: CollectContext = { deadline: performance.now(), log: silentLogger() };
    const out = await netnsCollector({ reader }).collect(draft, ctx);
    expect(out).toEqual({ success: false, error: `${N} of ${N} namespaces not read before the collection deadline` });
    expect(new Set(draft.pods.map((p) => draft.reports.get(p)!.chaos.findings.join()))).toEqual(new Set(['not inspected: not read before the collection deadline']));
  });
});
