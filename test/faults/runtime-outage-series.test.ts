/**
 * The per-pod series through a runtime outage, for real: a real `serve` collects a real containerd whose pod holds a
 * bandwidth injection (a tbf at eth0's root, as chaos-daemon sets it); containerd is SIGKILLed (its shim, the pod and
 * its network namespace keep running) and, after at least two collections without it, started again. While it is
 * down the pod's injection_active and first_seen series stay as they were (so a leftover alert neither resolves nor
 * restarts its `for`), the pod reads `unknown` without pod_errors, and the runtime collector's failure is visible;
 * once containerd answers again the pod is read as before with the same first-seen time, and the log shows no
 * injection ended nor started again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { valueOf } from '../helpers/metrics-lint.js';
import { enterNetns } from '../helpers/netns.js';
import { LOADED_MACHINE_DEADLINES, startServe, type ServeProcess } from '../helpers/serve.js';
import { collectedAt, nextCollection } from '../helpers/serve-scrape.js';

const NS = 'f8outage';
const INTERVAL_MS = 1000;

describeIntegration('per-pod series while containerd is down', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'tc', 'iptables-legacy', 'ipset'] }, () => {
  let h: ContainerdHarness | undefined;
  let s: ServeProcess | undefined;
  let pod: TestPod;

  beforeAll(async () => {
    h = await startContainerd({ name: 'f8outage' });
    pod = await h.runPod({ name: uniqueName('f8out'), namespace: NS });
    await new ChaosMeshReplay(enterNetns(pod.netnsPath)).bandwidth({ rate: 125000, burst: 10000, limit: 20000 });
  });

  afterAll(async () => {
    await s?.stop(1000);
    await h?.stop();
  });

  it('keeps injection_active and first_seen across two collections without the runtime, and the same first_seen after its restart', async () => {
    const ctd = { runtime: 'containerd', endpoint: h!.endpoint };
    const at = { namespace: NS, pod: pod.name };
    const active = (t: string) => valueOf(t, 'chaos_daemon_injection_active', { ...at, kind: 'bandwidth', experiment: '' });
    const firstSeen = (t: string) => valueOf(t, 'chaos_daemon_injection_first_seen_timestamp_seconds', { ...at, kind: 'bandwidth' });
    const verdict = (t: string, v: string) => valueOf(t, 'chaos_daemon_pod_verdict', { ...at, verdict: v });
    const runtimeOk = (t: string) => valueOf(t, 'chaos_daemon_scrape_collector_success', { collector: 'runtime' });
    s = await startServe(['--debug-insecure', '--runtime-endpoint', h!.endpoint, '--interval', `${INTERVAL_MS}ms`, '--log-level', 'info', ...LOADED_MACHINE_DEADLINES]);

    const seen = await nextCollection(s, 0, (t) => active(t) === 1);
    const since = firstSeen(seen);
    expect(since).toBeGreaterThan(0);
    expect(verdict(seen, 'active')).toBe(1);

    await h!.kill();
    // Two collections that could not list containerd (their runtime collector failed, runtime_up 0).
    let last = collectedAt(seen);
    for (let i = 0; i < 2; i++) {
      const down = await nextCollection(s, last, (t) => runtimeOk(t) === 0);
      last = collectedAt(down);
      expect(valueOf(down, 'chaos_daemon_runtime_up', ctd)).toBe(0);
      expect(valueOf(down, 'chaos_daemon_pods', { runtime: 'containerd', state: 'ready' })).toBeUndefined();
      expect(active(down)).toBe(1);
      expect(firstSeen(down)).toBe(since);
      expect(verdict(down, 'unknown')).toBe(1);
      expect(verdict(down, 'active')).toBe(0);
      expect(valueOf(down, 'chaos_daemon_pod_errors', at)).toBeUndefined();
    }

    await h!.start();
    const back = await nextCollection(s, last, (t) => runtimeOk(t) === 1 && verdict(t, 'active') === 1);
    expect(valueOf(back, 'chaos_daemon_runtime_up', ctd)).toBe(1);
    expect(active(back)).toBe(1);
    expect(firstSeen(back)).toBe(since);
    expect(valueOf(back, 'chaos_daemon_pod_errors', at)).toBe(0);

    // One start, no end, in the whole log.
    const lines = s.stderr().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; pod?: string });
    expect(lines.filter((l) => l.pod === pod.name && l.msg.startsWith('injection')).map((l) => l.msg)).toEqual(['injection started']);
    expect(s.child.exitCode).toBeNull();
  });
});
