/**
 * The verdict memo on real namespaces and the real netlink reader: a verdict is reused only for the very same state
 * object and named-namespace list; a new read (a new object) is judged again, so a change of the real state between
 * two collections is seen, and a chain added then removed between two collections leaves no trace.
 */
import { statSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emptyDraft, type Draft } from '../../agent/collect/draft.js';
import { netnsCollector } from '../../agent/collect/netns.js';
import { judge } from '../../agent/collect/report.js';
import { VerdictMemo } from '../../agent/collect/verdict-memo.js';
import { silentLogger } from '../../agent/log.js';
import { createNetnsReader, type NetnsReader } from '../../agent/netns/read.js';
import type { PodInfo } from '../../agent/runtime/types.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';

const log = silentLogger();

describeIntegration('verdict memo', { root: true, commands: ['ip', 'tc', 'ipset', 'iptables-legacy'] }, () => {
  let a: TestNetns;
  let reader: NetnsReader;
  const target = () => ({ path: a.path, inode: statSync(a.path).ino, pid: a.holderPid });
  const pod = (): PodInfo => ({
    namespace: 'team', name: 'a', uid: 'uid-a', runtime: 'containerd', endpoint: 'unix:///fake.sock', sandboxId: 'sba',
    state: 'SANDBOX_READY', pid: a.holderPid, hostNetwork: false, netns: { path: a.path, inode: statSync(a.path).ino },
    containers: [{ id: 'ca', name: 'app', state: 'CONTAINER_RUNNING', pid: a.holderPid }],
  });

  beforeAll(async () => {
    a = await createNetns('h4memo');
    // No IPv6: a link-local address leaving duplicate address detection would change the namespace between two reads.
    await a.exec(['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
    await a.addPodInterface({ addr: '10.251.0.2/24' });
    await a.startHolder();
    reader = createNetnsReader({ reader: 'netlink', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 1 << 24, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
  });
  afterAll(async () => {
    await reader.close();
    await destroyAll();
  });

  it('reuses a verdict only for the same state object and named namespaces; forgets what the last collection did not judge', async () => {
    const memo = new VerdictMemo();
    const t = target();
    const ns = { inode: t.inode!, path: t.path };
    const s1 = await reader.read(t);
    let judged = 0;
    const judgeOf = (s: typeof s1, named?: string[]) => () => {
      judged++;
      return judge(s, log, named ? { namedNetns: named } : {});
    };
    const v1 = memo.verdict(ns, s1, ['x'], judgeOf(s1, ['x']));
    memo.endCollection();
    expect(memo.verdict(ns, s1, ['x'], judgeOf(s1, ['x']))).toBe(v1);
    expect(judged).toBe(1);
    memo.endCollection();
    // Another named-namespace list (an HTTPChaos proxy namespace appeared): judged again.
    memo.verdict(ns, s1, ['x', 'y'], judgeOf(s1, ['x', 'y']));
    expect(judged).toBe(2);
    memo.endCollection();
    // A new read of the unchanged namespace is the same object (the reader's tape replayed): reused.
    expect(await reader.read(t)).toBe(s1);
    expect(memo.verdict(ns, s1, ['x', 'y'], judgeOf(s1, ['x', 'y']))).toEqual(v1);
    expect(judged).toBe(2);
    memo.endCollection();
    // After a change the reader hands back a new object: judged again (content is the reader's business).
    await a.exec(['ip', 'link', 'set', 'lo', 'mtu', '60000']);
    const s2 = await reader.read(t);
    expect(s2).not.toBe(s1);
    expect(memo.verdict(ns, s2, ['x', 'y'], judgeOf(s2, ['x', 'y']))).toEqual(v1);
    expect(judged).toBe(3);
    memo.endCollection();
    // A collection that did not judge the namespace (late, aborted): its entry is gone.
    memo.endCollection();
    memo.verdict(ns, s2, ['x', 'y'], judgeOf(s2, ['x', 'y']));
    expect(judged).toBe(4);
    expect([memo.hits, memo.misses]).toEqual([2, 4]);
  });

  it('a change of the real state between two collections is seen, and a chain added then removed between two collections leaves no trace', async () => {
    const memo = new VerdictMemo();
    const collectOnce = async (): Promise<Draft> => {
      const draft: Draft = { ...emptyDraft(), pods: [pod()] };
      const out = await netnsCollector({ reader, verdicts: memo }).collect(draft, { deadline: performance.now() + 60_000, log });
      expect(out).toEqual({ success: true });
      return draft;
    };
    const verdictOf = (d: Draft) => {
      const r = d.reports.get(d.pods[0]!)!;
      return [r.chaos.verdict, r.chaos.kinds.join(',')];
    };
    expect(verdictOf(await collectOnce())).toEqual(['clean', '']);
    const cm = new ChaosMeshReplay(a, 'legacy');
    await cm.bandwidth({ rate: 1_000_000, burst: 10_000, limit: 20_000 });
    expect(verdictOf(await collectOnce())).toEqual(['active', 'bandwidth']);
    // Added and removed between two collections: the next one judges what is there now.
    await a.exec(['iptables-legacy', '-w', '-N', 'PROBE-ADDED']);
    await a.exec(['iptables-legacy', '-w', '-X', 'PROBE-ADDED']);
    await cm.recover();
    // Recovered: the tbf is gone, Chaos Mesh's empty chains stay (scaffolding), the probe chain left no trace.
    const last = await collectOnce();
    expect(verdictOf(last)).toEqual(['scaffolding', '']);
    expect(last.reports.get(last.pods[0]!)!.iptables.flatMap((d) => d.tables.flatMap((t) => t.chains.map((c) => c.name)))).not.toContain('PROBE-ADDED');
    expect(memo.misses).toBe(3);
  });
});
