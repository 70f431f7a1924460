/**
 * Faulty tools, for real: a real `serve` (--reader nsenter) reads four real containerd pods through a fake nsenter
 * that, in one pod's namespace each, makes `ipset save` hang (a pipeline ignoring SIGTERM whose children hold its
 * stdout), write 100 MB, or exit 3 with random bytes; every other tool and namespace goes to the real nsenter.
 * Each fault is cut at its limit (--command-timeout, --max-output), the namespace is marked partial with the reason
 * (sources, chaos_daemon_netns_errors_total{reason}, verdict unknown), the healthy pod is read in full, no process
 * is left (children of serve, processes in the namespaces), and serve's peak RSS stays bounded.
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
import { pidsInNetns } from '../helpers/netns.js';
import { alive, descendants, settle, statusBytes } from '../helpers/procs.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { debugPods, nextCollection, podIn } from '../helpers/serve-scrape.js';

const NS = 'f8tools';
const MiB = 1 << 20;
/** Peak RSS allowed for serve while a pod floods 100 MB: half the DaemonSet's 320Mi limit. */
const MAX_HWM = 160 * MiB;
/**
 * --command-timeout: it applies to every tool, the healthy pod's real ones too, which a loaded 2-core machine can
 * slow past 1 s (the pod then incomplete); the flood must also reach its output cap before it.
 */
const COMMAND_TIMEOUT_S = 8;
/** --namespace-timeout: far above the command timeout, so the hang is cut by the latter. */
const BUDGET_S = 60;

describeIntegration('faulty tools (fake nsenter, real serve, real containerd pods)', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'ipset', 'tc', 'ip', 'nft'] }, () => {
  let h: ContainerdHarness | undefined;
  let dir: string;
  let fake: FakeNsenter;
  let s: ServeProcess | undefined;
  const pods: Record<'hang' | 'flood' | 'garbage' | 'healthy', TestPod> = {} as never;
  const inode = (p: TestPod): number => statSync(p.netnsPath).ino;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-f8tools-'));
    h = await startContainerd({ name: 'f8tools' });
    for (const k of ['hang', 'flood', 'garbage', 'healthy'] as const) pods[k] = await h.runPod({ name: uniqueName(`f8${k.slice(0, 2)}`), namespace: NS });
    fake = await fakeNsenter(dir, [
      { tool: 'ipset', inode: inode(pods.hang), act: { kind: 'hang' } },
      { tool: 'ipset', inode: inode(pods.flood), act: { kind: 'flood' } },
      { tool: 'ipset', inode: inode(pods.garbage), act: { kind: 'garbage' } },
    ]);
  });

  afterAll(async () => {
    await s?.stop(1000);
    for (const c of await fake.calls().catch(() => [])) if (alive(c.pid)) process.kill(c.pid, 'SIGKILL');
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('cuts each fault at its limit, marks only that namespace partial with the reason, leaves no process, bounds RSS', async () => {
    const before = Object.fromEntries(await Promise.all(Object.entries(pods).map(async ([k, p]) => [k, (await pidsInNetns(p.netnsPath)).sort()] as const)));
    s = await startServe(['--debug-insecure', '--runtime-endpoint', h!.endpoint, '--reader', 'nsenter', '--nsenter-path', fake.path, '--command-timeout', `${COMMAND_TIMEOUT_S}s`, '--namespace-timeout', `${BUDGET_S}s`, '--interval', '60s', '--netns-concurrency', '4']);
    const text = await nextCollection(s, 0);
    const docs = await debugPods(s);

    // Each faulty namespace: only its ipset source is incomplete, with the reason; the sources after it were read.
    const ipset = (k: keyof typeof pods) => podIn(docs, NS, pods[k].name).sources.find((x) => x.source === 'ipset');
    expect(ipset('hang')).toMatchObject({ status: 'failed', reason: 'timeout', message: `ipset: killed after ${COMMAND_TIMEOUT_S * 1000} ms` });
    expect(ipset('flood')).toMatchObject({ status: 'truncated', reason: 'output_limit', message: `ipset: output cut at ${2 * MiB} bytes` });
    expect(ipset('garbage')).toMatchObject({ status: 'failed', reason: 'exit' });
    expect(ipset('garbage')!.message).toMatch(/^ipset: exit status 3: /);
    // The garbage is reported as one printable line: no escape sequence, NUL or line break reaches a log or a terminal.
    expect(ipset('garbage')!.message!.length).toBeLessThan(600);
    expect(podIn(docs, NS, pods.garbage.name).chaos.findings.join('')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    for (const k of ['hang', 'flood', 'garbage'] as const) {
      const doc = podIn(docs, NS, pods[k].name);
      expect(doc.sources.filter((x) => x.status !== 'complete').map((x) => x.source)).toEqual(['ipset']);
      expect(doc.chaos.verdict).toBe('unknown');
      expect(doc.errors.join('\n')).toMatch(/^ipset: /);
      expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: pods[k].name, verdict: 'unknown' })).toBe(1);
    }
    expect(valueOf(text, 'chaos_daemon_pod_truncated', { namespace: NS, pod: pods.flood.name, what: 'ipset' })).toBe(1);
    // Every other namespace collected in full.
    const healthy = podIn(docs, NS, pods.healthy.name);
    expect(healthy.sources.every((x) => x.status === 'complete')).toBe(true);
    expect(healthy.chaos.verdict).toBe('clean');
    expect(valueOf(text, 'chaos_daemon_collection_incomplete_namespaces')).toBe(3);
    for (const reason of ['timeout', 'output_limit', 'exit']) expect(valueOf(text, 'chaos_daemon_netns_errors_total', { reason })).toBe(1);
    // The hang cost its timeout plus the kill grace (SIGTERM ignored: SIGKILL 0.5 s later), nothing more.
    const ipsetSeconds = valueOf(text, 'chaos_daemon_netns_command_duration_seconds_sum', { tool: 'ipset' })!;
    console.log(`ipset runs (hang, flood, garbage, healthy): ${ipsetSeconds.toFixed(2)} s in all`);
    // Without the command timeout, the 60 s namespace budget would cut the hang; room for a loaded machine below it.
    expect(ipsetSeconds).toBeLessThan(COMMAND_TIMEOUT_S + 0.5 + 10);

    // No process left: none under serve, none added to the pods' namespaces, every fake nsenter run gone.
    const sameAsBefore = async (): Promise<boolean> => {
      for (const [k, p] of Object.entries(pods)) if ((await pidsInNetns(p.netnsPath)).sort().join() !== before[k]!.join()) return false;
      return true;
    };
    await settle(async () => descendants(s!.pid).length === 0 && (await sameAsBefore()) && !(await fake.calls()).some((c) => alive(c.pid)));
    expect(descendants(s.pid)).toEqual([]);
    for (const [k, p] of Object.entries(pods)) expect((await pidsInNetns(p.netnsPath)).sort()).toEqual(before[k]);
    const calls = await fake.calls();
    expect(calls.length).toBeGreaterThan(4 * 4);
    expect(calls.filter((c) => alive(c.pid))).toEqual([]);

    // Peak RSS while one pod wrote 100 MB: bounded by the 2 MiB cap, not by what the pod wrote.
    const hwm = statusBytes(s.pid, 'VmHWM')!;
    console.log(`serve VmHWM with a 100 MB tool output: ${(hwm / MiB).toFixed(1)} MiB`);
    expect(hwm).toBeLessThan(MAX_HWM);

    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 180_000);
});
