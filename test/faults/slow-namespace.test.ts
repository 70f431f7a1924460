/**
 * One slow namespace costs that namespace, never the node, for real: three real containerd pods, a fake nsenter
 * whose `nft` never ends (ignoring SIGTERM, children holding its stdout) in one pod's namespace only.
 * - In a real `serve`: --namespace-timeout cuts that read (its tool is killed at what is left of the budget, the
 *   tools after it are not run); that pod is unknown with the reason, the others are read in full, the collection
 *   is published and /metrics shows them.
 * - In collect() with a budget and tool timeout far beyond the collection deadline: the read still running at the
 *   deadline is abandoned (and its tool killed), the snapshot comes back at the deadline with the others read.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect } from '../../agent/collection.js';
import { silentLogger } from '../../agent/log.js';
import { createNetnsReader } from '../../agent/netns/read.js';
import { Inventory } from '../../agent/runtime/inventory.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { fakeNsenter, type FakeNsenter } from '../helpers/fake-nsenter.js';
import { valueOf } from '../helpers/metrics-lint.js';
import { pidsInNetns } from '../helpers/netns.js';
import { alive, descendants, settle, waitUntil } from '../helpers/procs.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { debugPods, nextCollection, podIn } from '../helpers/serve-scrape.js';

const NS = 'f8slow';
/**
 * collect()'s deadline: the two healthy reads (a few tools each through the fake nsenter) fit well within it, even
 * on a loaded 2-core CI machine; the hung read would hold the collection for its 60 s budget without it.
 */
const DEADLINE_MS = 10_000;
/**
 * serve's --namespace-timeout: the healthy namespaces are read well within it under load (at 1.5 s a slow machine
 * cut them too); the hung tool would run for its 60 s --command-timeout without it.
 */
const BUDGET_MS = 6000;

describeIntegration('one slow namespace', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'ipset', 'tc', 'ip', 'nft'] }, () => {
  let h: ContainerdHarness | undefined;
  let dir: string;
  let fake: FakeNsenter;
  let s: ServeProcess | undefined;
  const pods = {} as Record<'slow' | 'a' | 'b', TestPod>;
  let baseline: number[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-f8slow-'));
    h = await startContainerd({ name: 'f8slow' });
    for (const k of ['slow', 'a', 'b'] as const) pods[k] = await h.runPod({ name: uniqueName(`f8${k}`), namespace: NS });
    fake = await fakeNsenter(dir, [{ tool: 'nft', inode: statSync(pods.slow.netnsPath).ino, act: { kind: 'hang' } }]);
    baseline = (await pidsInNetns(pods.slow.netnsPath)).sort();
  });

  afterAll(async () => {
    await s?.stop(1000);
    for (const c of await fake.calls().catch(() => [])) if (alive(c.pid)) process.kill(c.pid, 'SIGKILL');
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serve: --namespace-timeout cuts the slow read; that pod is unknown with the reason, the others are read and published', async () => {
    s = await startServe(['--debug-insecure', '--runtime-endpoint', h!.endpoint, '--reader', 'nsenter', '--nsenter-path', fake.path, '--namespace-timeout', `${BUDGET_MS}ms`, '--command-timeout', '60s', '--interval', '60s']);
    const text = await nextCollection(s, 0, undefined, 90_000);
    const docs = await debugPods(s);
    const slow = podIn(docs, NS, pods.slow.name);
    expect(slow.chaos.verdict).toBe('unknown');
    const cut = slow.sources.filter((x) => x.status !== 'complete');
    // The hung tool was killed at what was left of the budget; the tools after it were not run at all.
    expect(cut.map((x) => [x.source, x.reason])).toEqual([
      ['iptables-nft-ipv4', 'timeout'], ['iptables-nft-ipv6', 'timeout'], ['nftables', 'timeout'], ['ebtables-nft', 'timeout'], ['ipset', 'timeout'], ['tc', 'timeout'],
    ]);
    // What was left depends on how long the tools before it took (load): at most the whole budget, never the 60 s.
    const killedAfter = /^nft: killed after (\d+) ms$/.exec(cut.find((x) => x.source === 'nftables')!.message ?? '');
    expect(killedAfter, 'nftables message').not.toBeNull();
    expect(Number(killedAfter![1])).toBeGreaterThan(0);
    expect(Number(killedAfter![1])).toBeLessThanOrEqual(BUDGET_MS);
    expect(cut.find((x) => x.source === 'tc')!.message).toBe('tc: not run: the namespace time budget is spent');
    expect(slow.sources.find((x) => x.source === 'links')!.status).toBe('complete');
    for (const k of ['a', 'b'] as const) {
      const doc = podIn(docs, NS, pods[k].name);
      expect(doc.sources.every((x) => x.status === 'complete')).toBe(true);
      expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: pods[k].name, verdict: 'clean' })).toBe(1);
    }
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: pods.slow.name, verdict: 'unknown' })).toBe(1);
    expect(valueOf(text, 'chaos_daemon_netns_errors_total', { reason: 'timeout' })).toBeGreaterThanOrEqual(1);
    // The hung tool cost at most the budget plus the kill grace (SIGTERM ignored: SIGKILL 0.5 s later), not its 60 s
    // timeout; the bounds leave room for a loaded machine's process reaping and stay far below 60 s.
    const nftSeconds = valueOf(text, 'chaos_daemon_netns_command_duration_seconds_sum', { tool: 'nft' })!;
    const seconds = valueOf(text, 'chaos_daemon_collection_duration_seconds')!;
    console.log(`one hung namespace (budget ${BUDGET_MS / 1000} s): nft runs ${nftSeconds.toFixed(2)} s in all, collection ${seconds.toFixed(2)} s`);
    expect(nftSeconds).toBeLessThan(BUDGET_MS / 1000 + 10); // 60 s without the budget
    expect(seconds).toBeLessThan(BUDGET_MS / 1000 + 20);
    await settle(async () => descendants(s!.pid).length === 0 && (await pidsInNetns(pods.slow.netnsPath)).sort().join() === baseline.join());
    expect(descendants(s.pid)).toEqual([]);
    expect((await pidsInNetns(pods.slow.netnsPath)).sort()).toEqual(baseline);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 150_000);

  it('collect(): a read still running at the collection deadline is abandoned and killed; the snapshot has the others', async () => {
    const inventory = new Inventory({ runtimeEndpoints: [h!.endpoint], dockerEndpoints: [], hostRoot: '/', procRoot: '/proc', runtimeTimeoutMs: 15_000 }, { log: silentLogger() });
    const reader = createNetnsReader({ reader: 'nsenter', netnsConcurrency: 4, nsenterPath: fake.path, commandTimeoutMs: 60_000, maxOutputBytes: 2 << 20, namespaceTimeoutMs: 60_000, procRoot: '/proc' });
    try {
      const t0 = performance.now();
      const snap = await collect({ inventory, reader, procRoot: '/proc', log: silentLogger() }, { deadlineMs: DEADLINE_MS });
      const ms = performance.now() - t0;
      console.log(`collect() with a ${DEADLINE_MS} ms deadline and a hung namespace returned after ${ms.toFixed(0)} ms`);
      expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
      expect(ms).toBeLessThan(DEADLINE_MS + 10_000); // the hung read's budget is 60 s
      const byName = new Map(snap.pods.map((p) => [p.name, p]));
      expect(byName.get(pods.slow.name)!.chaos).toMatchObject({ verdict: 'unknown', findings: ['not inspected: not read before the collection deadline'] });
      for (const k of ['a', 'b'] as const) {
        expect(byName.get(pods[k].name)!.chaos.verdict).toBe('clean');
        expect(byName.get(pods[k].name)!.sources.every((x) => x.status === 'complete')).toBe(true);
      }
      expect(snap.collectors.find((c) => c.collector === 'netns')).toMatchObject({ success: false, error: '1 of 3 namespaces not read before the collection deadline' });
      // The abandoned read's tool (and what it started) is killed, not left running in the pod's namespace.
      await waitUntil('the hung tool to be killed', async () => ((await pidsInNetns(pods.slow.netnsPath)).length === baseline.length ? true : undefined), 30_000);
      expect((await pidsInNetns(pods.slow.netnsPath)).sort()).toEqual(baseline);
      await settle(async () => !(await fake.calls()).some((c) => alive(c.pid)));
      expect((await fake.calls()).filter((c) => alive(c.pid))).toEqual([]); // no tool left under the test process
    } finally {
      await reader.close();
      inventory.close();
    }
  }, 120_000);
});
