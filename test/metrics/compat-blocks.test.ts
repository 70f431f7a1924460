/**
 * The per-pod compat blocks on a real namespace read over netlink: between two collections the kernel's state
 * changes (a counter moves with traffic, a rule is replaced by one of the same count, a rule is added in the
 * legacy backend and another removed from nft), and the next exposition of a pipeline that keeps its cache shows
 * it, byte for byte as a pipeline without history renders the same snapshot.
 */
import { statSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { MetricsPipeline } from '../../agent/metrics/pipeline.js';
import { PersistentMetrics } from '../../agent/metrics/registry.js';
import { createNetnsReader, type NetnsReader } from '../../agent/netns/read.js';
import type { Snapshot } from '../../agent/snapshot.js';
import { describeIntegration } from '../helpers/env.js';
import { samplesOf } from '../helpers/metrics-lint.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';
import { container, podInfo, report, snapshot } from './fixtures.js';

const log = pino({ level: 'silent' });
const pipelineOf = (): MetricsPipeline => new MetricsPipeline({ compatMetrics: true, persistent: new PersistentMetrics({ defaultMetrics: false }), log });

describeIntegration('compat blocks on a real namespace', { root: true, commands: ['ip', 'busybox', 'iptables-legacy', 'iptables-nft'] }, () => {
  let ns: TestNetns;
  let reader: NetnsReader;
  beforeAll(async () => {
    ns = await createNetns('h4cx');
    await ns.addPodInterface({ addr: '10.252.7.2/24' });
    await ns.startHolder();
    reader = createNetnsReader({
      reader: 'netlink', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000,
      maxOutputBytes: 2 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc',
    }, {}, { netlinkThread: 'caller' });
  });
  afterEach(async () => {
    for (const t of ['legacy', 'nft']) await ns.exec([`iptables-${t}`, '-F', 'OUTPUT']);
  });
  afterAll(async () => {
    await reader?.close();
    await destroyAll();
  });

  const read = async (): Promise<Snapshot> => {
    const s = await reader.read({ path: ns.path, inode: statSync(ns.path).ino, pid: ns.holderPid });
    expect(s.errors).toEqual([]);
    return snapshot([report(podInfo('default', 'web-1', [container('app', 'c1'), container('sidecar', 'c2')]), { iptables: s.iptables })]);
  };
  /** The exposition of `kept` (a pipeline with history) for the snapshot, checked against a fresh pipeline's. */
  const expose = async (kept: MetricsPipeline, snap: Snapshot): Promise<string> => {
    const body = async (p: MetricsPipeline): Promise<string> => (await (await p.process(snap)).metrics.body('openmetrics', false)).toString('utf8');
    const text = await body(kept);
    // Self series (timestamps) aside, the snapshot decides everything: the same snapshot, the same text.
    expect(text).toBe(await body(pipelineOf()));
    return text;
  };
  const packets = (text: string): [string, string, number][] =>
    samplesOf(text, 'chaos_daemon_iptables_packets').map((s) => [s.labels.container!, s.labels.rule!, s.value]);
  const ping = (): Promise<unknown> => ns.exec(['busybox', 'ping', '-c', '2', '-W', '1', '127.0.0.1']);

  it('shows counters that moved, a rule replaced by one of the same count, rules added and removed in either backend', async () => {
    const kept = pipelineOf();
    const echo = '-d 127.0.0.1/32 -p icmp -m icmp --icmp-type 8 -j ACCEPT';
    await ns.exec(['iptables-legacy', '-A', 'OUTPUT', '-d', '127.0.0.1/32', '-p', 'icmp', '-m', 'icmp', '--icmp-type', '8', '-j', 'ACCEPT']);
    await ns.exec(['iptables-nft', '-A', 'OUTPUT', '-d', '10.9.0.0/16', '-j', 'DROP']);
    let t = await expose(kept, await read());
    expect(packets(t)).toEqual([
      ['app', echo, 0], ['app', '-d 10.9.0.0/16 -j DROP', 0], ['sidecar', echo, 0], ['sidecar', '-d 10.9.0.0/16 -j DROP', 0],
    ]);
    expect(await expose(kept, await read())).toBe(t); // nothing changed: the kept blocks

    await ping(); // two echo requests through OUTPUT
    t = await expose(kept, await read());
    expect(packets(t).filter(([, rule]) => rule === echo).map(([, , v]) => v)).toEqual([2, 2]);

    // The nft rule replaced by another with the same count of rules and counters.
    await ns.exec(['iptables-nft', '-D', 'OUTPUT', '-d', '10.9.0.0/16', '-j', 'DROP']);
    await ns.exec(['iptables-nft', '-A', 'OUTPUT', '-d', '10.8.0.0/16', '-j', 'DROP']);
    t = await expose(kept, await read());
    expect(packets(t).map(([c, rule]) => `${c} ${rule}`)).toEqual([
      `app ${echo}`, 'app -d 10.8.0.0/16 -j DROP', `sidecar ${echo}`, 'sidecar -d 10.8.0.0/16 -j DROP',
    ]);

    // A legacy rule added, the nft one removed: the same number of rules again, other texts and backends.
    await ns.exec(['iptables-legacy', '-A', 'OUTPUT', '-d', '10.7.0.0/16', '-j', 'DROP']);
    await ns.exec(['iptables-nft', '-F', 'OUTPUT']);
    t = await expose(kept, await read());
    expect(packets(t).map(([c, rule, v]) => `${c} ${rule} ${v}`)).toEqual([
      `app ${echo} 2`, 'app -d 10.7.0.0/16 -j DROP 0', `sidecar ${echo} 2`, 'sidecar -d 10.7.0.0/16 -j DROP 0',
    ]);
    expect(kept.compatLabels.hits).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
