/**
 * A runtime dying under the agent, for real: a real `serve` collects a real containerd and a real dockerd; while a
 * collection is in the middle of reading the containerd pod's namespace (held there by a fake nsenter), containerd
 * is SIGKILLed, then started again on the same socket. serve never crashes; chaos_daemon_runtime_up of that endpoint
 * goes to 0 under the same labels, and back to 1 in the first collection started once it answers again, with the pod
 * read again;
 * dockerd and its pod are unaffected in every collection. The containerd pod holds a bandwidth injection: while
 * containerd is down (dockerd answering, so the runtime collector succeeds) it is held, its injection_active and
 * first_seen series as they were, and once containerd is back it goes on, no injection ended nor started again.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { fakeNsenter, type FakeNsenter } from '../helpers/fake-nsenter.js';
import { valueOf } from '../helpers/metrics-lint.js';
import { enterNetns } from '../helpers/netns.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { collectedAt, collectionsUntil, nextCollection, startedAt } from '../helpers/serve-scrape.js';

const NS = 'f8restart';
const INTERVAL_MS = 2000;

describeIntegration('containerd killed mid-collection and restarted', { root: true, commands: ['containerd', 'runc', 'ctr', 'dockerd', 'nsenter', 'tc'] }, () => {
  let h: ContainerdHarness | undefined;
  let d: Dockerd | undefined;
  let dir: string;
  let fake: FakeNsenter;
  let s: ServeProcess | undefined;
  let ctdPod: TestPod;
  const dockerPod = { namespace: NS, name: uniqueName('f8dk'), uid: uniqueName('uid') };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-f8restart-'));
    [h, d] = await Promise.all([startContainerd({ name: 'f8restart' }), startDockerd()]);
    ctdPod = await h.runPod({ name: uniqueName('f8ct'), namespace: NS });
    await new ChaosMeshReplay(enterNetns(ctdPod.netnsPath)).bandwidth({ rate: 125000, burst: 10000, limit: 20000 });
    await d.runSandbox(dockerPod);
    fake = await fakeNsenter(dir, [{ tool: 'ip', inode: statSync(ctdPod.netnsPath).ino, act: { kind: 'wait', name: 'mid' } }]);
  });

  afterAll(async () => {
    await s?.stop(1000);
    await fake?.release('mid');
    await Promise.allSettled([h?.stop(), d?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('runtime_up 0 then 1 within one interval of the restart, same labels; no crash; dockerd unaffected', async () => {
    const ctd = { runtime: 'containerd', endpoint: h!.endpoint };
    const docker = { runtime: 'docker', endpoint: d!.url };
    const verdict = (text: string, name: string, v = 'clean') => valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: name, verdict: v });
    const ctdAt = { namespace: NS, pod: ctdPod.name, kind: 'bandwidth' };
    const active = (t: string) => valueOf(t, 'chaos_daemon_injection_active', { ...ctdAt, experiment: '' });
    const firstSeen = (t: string) => valueOf(t, 'chaos_daemon_injection_first_seen_timestamp_seconds', ctdAt);
    const dockerFine = (text: string): void => {
      expect(valueOf(text, 'chaos_daemon_runtime_up', docker), `dockerd down: ${s!.stderr().split('\n').filter((l) => l.includes(d!.url)).slice(-3).join('\n')}`).toBe(1);
      expect(verdict(text, dockerPod.name)).toBe(1);
    };
    s = await startServe(['--debug-insecure', '--runtime-endpoint', h!.endpoint, '--docker-endpoint', d!.url, '--reader', 'nsenter', '--nsenter-path', fake.path, '--interval', `${INTERVAL_MS}ms`, '--runtime-timeout', '5s', '--log-level', 'debug',
      // The held `ip` waits while containerd is killed: on a loaded machine longer than the default 2 s tool timeout.
      '--namespace-timeout', '60s', '--command-timeout', '60s']);

    // The first collection listed both runtimes and is reading the containerd pod's namespace: kill containerd now.
    await fake.started('mid');
    await h!.kill();
    await fake.release('mid');
    const first = await nextCollection(s, 0);
    expect(valueOf(first, 'chaos_daemon_runtime_up', ctd)).toBe(1); // it answered when this collection listed it
    expect(verdict(first, ctdPod.name, 'active')).toBe(1);
    expect(active(first)).toBe(1);
    const since = firstSeen(first);
    expect(since).toBeGreaterThan(0);
    dockerFine(first);

    // Down: 0 under the labels it had while up (an alert on `runtime_up == 0 and max_over_time(runtime_up[6h]) == 1`
    // needs the same series), its pod not listed but held (its endpoint's listing failed, though dockerd's worked):
    // its injection as it was, its verdict unknown, no errors; docker as before.
    const down = await nextCollection(s, collectedAt(first));
    expect(valueOf(down, 'chaos_daemon_runtime_up', ctd)).toBe(0);
    expect(valueOf(down, 'chaos_daemon_scrape_collector_success', { collector: 'runtime' })).toBe(1); // one runtime up
    expect(verdict(down, ctdPod.name, 'unknown')).toBe(1);
    expect(verdict(down, ctdPod.name, 'active')).toBe(0);
    expect(valueOf(down, 'chaos_daemon_pod_errors', { namespace: NS, pod: ctdPod.name })).toBeUndefined();
    expect(active(down)).toBe(1);
    expect(firstSeen(down)).toBe(since);
    dockerFine(down);

    // Restarted on the same socket: the first collection that starts once it answers sees it up and reads its pod
    // again (the next collection, not a later one; under load one that started before may still end after).
    await h!.start();
    const readyAt = Date.now() / 1000;
    const after = await collectionsUntil(s, collectedAt(down), (t) => valueOf(t, 'chaos_daemon_runtime_up', ctd) === 1, 6 * INTERVAL_MS);
    const back = after[after.length - 1]!;
    const missed = after.filter((t) => startedAt(t) >= readyAt && valueOf(t, 'chaos_daemon_runtime_up', ctd) !== 1);
    expect(missed.map(startedAt)).toEqual([]);
    console.log(`containerd up again in the collection that started ${(startedAt(back) - readyAt).toFixed(2)} s after it answered (interval ${INTERVAL_MS / 1000} s)`);
    expect(verdict(back, ctdPod.name, 'active')).toBe(1);
    expect(firstSeen(back)).toBe(since);
    dockerFine(back);
    // One start of the containerd pod's injection, no end, in the whole log.
    const logged = s.stderr().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; pod?: string });
    expect(logged.filter((l) => l.pod === ctdPod.name && l.msg.startsWith('injection')).map((l) => l.msg)).toEqual(['injection started']);

    // No crash, nothing logged above warn.
    expect(s.child.exitCode).toBeNull();
    const levels = s.stderr().trim().split('\n').map((l) => (JSON.parse(l) as { level: string }).level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.filter((l) => l === 'error' || l === 'fatal')).toEqual([]);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  });
});
