/**
 * Pods deleted while a collection runs, for real: a real `serve` (--reader nsenter, one namespace read at a time)
 * lists three real containerd pods; a fake nsenter holds the reads at chosen points while the test removes pods
 * through CRI (StopPodSandbox + RemovePodSandbox: processes killed, CNI torn down, netns unmounted):
 * - `before`: removed after the listing, while an earlier pod's read holds the only read slot: its read finds the
 *   namespace gone: every source failed as vanished, verdict unknown, the reason in its errors;
 * - `during`: removed in the middle of its own read (after its links were read; the namespace lives on through the
 *   reader's fd while CNI removes eth0): what failed because of that is reported as vanished, verdict unknown;
 * the held pod is read in full, serve keeps running, and the next collection no longer lists the removed pods.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { fakeNsenter, type FakeNsenter } from '../helpers/fake-nsenter.js';
import { valueOf } from '../helpers/metrics-lint.js';
import { alive } from '../helpers/procs.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { collectedAt, debugPods, nextCollection, podIn } from '../helpers/serve-scrape.js';

const NS = 'f8gone';

describeIntegration('pods deleted between listing and reading', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'ipset', 'tc', 'ip', 'nft'] }, () => {
  let h: ContainerdHarness | undefined;
  let dir: string;
  let fake: FakeNsenter;
  let s: ServeProcess | undefined;
  // Read in this order (pods are sorted by name): held, before, during.
  const pods = {} as Record<'held' | 'before' | 'during', TestPod>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-f8gone-'));
    h = await startContainerd({ name: 'f8gone' });
    pods.held = await h.runPod({ name: uniqueName('f8a'), namespace: NS });
    pods.before = await h.runPod({ name: uniqueName('f8b'), namespace: NS });
    pods.during = await h.runPod({ name: uniqueName('f8c'), namespace: NS });
    const inode = (p: TestPod): number => statSync(p.netnsPath).ino;
    fake = await fakeNsenter(dir, [
      { tool: 'ip', inode: inode(pods.held), act: { kind: 'wait', name: 'held' } },
      { tool: 'nft', inode: inode(pods.during), act: { kind: 'wait', name: 'during' } },
    ]);
  });

  afterAll(async () => {
    await s?.stop(1000);
    await Promise.allSettled([fake?.release('held'), fake?.release('during')]);
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a pod removed before its read as vanished and one removed during its read as unknown; nothing crashes', async () => {
    s = await startServe(['--debug-insecure', '--runtime-endpoint', h!.endpoint, '--reader', 'nsenter', '--nsenter-path', fake.path, '--netns-concurrency', '1', '--interval', '2s',
      // The held read waits while the test removes two pods through CRI (seconds on a loaded machine): the default
      // 5 s namespace budget is not what this test is about (test/faults/slow-namespace.test.ts is).
      // The held tool too: the default 2 s --command-timeout killed it once in CI while the removals ran.
      '--namespace-timeout', '60s', '--command-timeout', '60s']);
    await fake.started('held'); // listed, and reading the first pod: the other two wait for the read slot
    await h!.removePod(pods.before.sandboxId);
    await fake.release('held');
    await fake.started('during'); // its links are read; the rest of its sources are not
    await h!.removePod(pods.during.sandboxId);
    await fake.release('during');

    const text = await nextCollection(s, 0);
    const docs = await debugPods(s);
    const held = podIn(docs, NS, pods.held.name);
    expect(held.chaos.verdict, JSON.stringify({ errors: held.errors, sources: held.sources, proc: held.proc?.sources })).toBe('clean');
    expect(held.sources.every((x) => x.status === 'complete')).toBe(true);

    const before = podIn(docs, NS, pods.before.name);
    expect(before.chaos).toMatchObject({ verdict: 'unknown', findings: ['not inspected: the pod or its network namespace vanished'] });
    expect(before.sources.length).toBeGreaterThan(0);
    expect(before.sources.every((x) => x.status === 'failed' && x.reason === 'vanished')).toBe(true);
    expect(before.errors.join('\n')).toMatch(/ENOENT/);

    const during = podIn(docs, NS, pods.during.name);
    const failed = during.sources.filter((x) => x.status !== 'complete');
    console.log(`removed during its read: ${JSON.stringify({ chaos: during.chaos, errors: during.errors, failed })}`);
    expect(during.chaos.verdict).toBe('unknown');
    expect(failed.length).toBeGreaterThan(0); // tc, asked about eth0, which CNI removed meanwhile
    expect(failed.every((x) => x.reason === 'vanished' && x.message!.endsWith('(the namespace vanished during the read)'))).toBe(true);
    expect(during.sources.find((x) => x.source === 'links')!.status).toBe('complete');
    expect(during.notes).toContain('the pod\'s network namespace vanished during the read');
    for (const p of [pods.before, pods.during]) expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: p.name, verdict: 'unknown' })).toBe(1);
    expect(valueOf(text, 'chaos_daemon_scrape_collector_success', { collector: 'netns' })).toBe(1); // the pods' own problem, not the agent's

    // Still serving; the next collection lists only the pod that exists; nothing left running at the end.
    const next = await nextCollection(s, collectedAt(text));
    expect(valueOf(next, 'chaos_daemon_pod_verdict', { namespace: NS, pod: pods.held.name, verdict: 'clean' })).toBe(1);
    for (const p of [pods.before, pods.during]) expect(valueOf(next, 'chaos_daemon_pod_verdict', { namespace: NS, pod: p.name, verdict: 'unknown' })).toBeUndefined();
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    expect((await fake.calls()).filter((c) => alive(c.pid))).toEqual([]);
  });
});
