/**
 * `chaos-node-agent metrics` (the built CLI) against real containerd pods, with Chaos Mesh's partition +
 * bandwidth state replayed into one pod's network namespace: the injection, verdict, iptables, ipset and qdisc
 * series appear with the right labels and values; after Chaos Mesh's recovery they disappear (the pod is then
 * "scaffolding") on the next collection. Needs `npm run build` (dist/) like every CLI test.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { lintExposition, PROM_CLIENT_GAUGE_TOTALS, samplesOf, valueOf } from '../helpers/metrics-lint.js';
import { LOADED_MACHINE_DEADLINES } from '../helpers/serve.js';
import { podNetns } from './pod-netns.js';

const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;
const NS = 'h6chaos';
const EXPERIMENT = 'web-partition-h6';

describeIntegration('metrics command against real containerd pods', {
  root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'iptables-legacy-save', 'ipset', 'tc'],
}, () => {
  let h: ContainerdHarness | undefined;
  let web: TestPod;
  let quiet: TestPod;
  let replay: ChaosMeshReplay;

  async function metrics(): Promise<{ code: number; text: string; stderr: string }> {
    const r = await execa(process.execPath, [CLI, 'metrics', '--runtime-endpoint', h!.endpoint, ...LOADED_MACHINE_DEADLINES, '--log-level', 'error'], {
      reject: false, timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, extendEnv: false,
    });
    return { code: r.exitCode ?? -1, text: String(r.stdout), stderr: String(r.stderr) };
  }

  beforeAll(async () => {
    h = await startContainerd({ name: 'h6metrics' });
    web = await h.runPod({ name: uniqueName('h6web'), namespace: NS, containers: ['app', 'sidecar'] });
    quiet = await h.runPod({ name: uniqueName('h6qt'), namespace: NS });
    replay = new ChaosMeshReplay(podNetns(web.netnsPath), 'legacy');
    // One PodNetworkChaos holding a partition and a bandwidth action: sets, chains, then tc (tbf at the root).
    await replay.bandwidth({ rate: 1_000_000, burst: 32_000, limit: 64_000 });
    const layout = replay.partitionLayout({ experiment: EXPERIMENT, direction: 'to', cidrs: ['10.123.0.0/24', '10.124.0.7'] });
    await replay.flushIpsets(layout.sets);
    await replay.setIptablesChains([layout.chain]);
  });

  afterAll(async () => {
    await h?.stop(); // removes the pods: their namespaces, with the injected iptables/ipsets/qdiscs, go too
  });

  it('shows the injection, verdict, iptables, ipset and qdisc series with exact labels and values', async () => {
    const { code, text, stderr } = await metrics();
    expect(code, stderr).toBe(0);
    expect(lintExposition(text, { allowNonCounterTotal: PROM_CLIENT_GAUGE_TOTALS })).toEqual([]);
    const pod = { namespace: NS, pod: web.name };

    expect(samplesOf(text, 'chaos_daemon_injection_active').filter((s) => s.labels.pod === web.name).map((s) => [s.labels.kind, s.value]))
      .toEqual([['bandwidth', 1], ['partition', 1]]);
    const firstSeen = valueOf(text, 'chaos_daemon_injection_first_seen_timestamp_seconds', { ...pod, kind: 'partition' })!;
    expect(Math.abs(firstSeen - Date.now() / 1000)).toBeLessThan(60);
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { ...pod, verdict: 'active' })).toBe(1);
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: quiet.name, verdict: 'clean' })).toBe(1);
    expect(samplesOf(text, 'chaos_daemon_injection_active').filter((s) => s.labels.pod === quiet.name)).toEqual([]);

    // tbf: 1000000 bit/s = 125000 bytes/s; burst and limit in bytes.
    const tbf = { ...pod, interface: 'eth0', handle: '1:' };
    expect(valueOf(text, 'chaos_daemon_tbf_rate_bytes_per_second', tbf)).toBe(125_000);
    expect(valueOf(text, 'chaos_daemon_tbf_burst_bytes', tbf)).toBe(32_000);
    expect(valueOf(text, 'chaos_daemon_tbf_limit_bytes', tbf)).toBe(64_000);
    expect(valueOf(text, 'chaos_daemon_qdisc_drops_total', { ...pod, interface: 'eth0', kind: 'tbf', handle: '1:' })).toBe(0);
    expect(valueOf(text, 'chaos_daemon_qdisc_backlog_bytes', { ...pod, interface: 'eth0', kind: 'tbf', handle: '1:' })).toBe(0);

    // Chaos Mesh compatible series, once per running container.
    const chain = samplesOf(text, 'chaos_daemon_iptables_packets').filter((s) => s.labels.pod === web.name && s.labels.chain!.startsWith('OUTPUT/'));
    expect(chain.map((s) => [s.labels.container, s.labels.table, s.labels.policy, s.value])).toEqual([['app', 'filter', '-', 0], ['sidecar', 'filter', '-', 0]]);
    expect(chain[0]!.labels.rule).toMatch(/^-o eth0 -m set --match-set web-p_[0-9a-f]+_set_tgt dst,dst -j DROP$/);
    expect(valueOf(text, 'chaos_daemon_iptables_packets', { ...pod, container: 'app', table: 'filter', chain: 'OUTPUT', policy: 'ACCEPT', rule: '-j CHAOS-OUTPUT' })).toBeGreaterThanOrEqual(0);
    // net set: 2 members, netport set: 0, list:set: 2 (net + netport).
    expect(samplesOf(text, 'chaos_daemon_ipset_members').filter((s) => s.labels.pod === web.name).map((s) => [s.labels.container, s.value]))
      .toEqual([['app', 4], ['sidecar', 4]]);
    expect(valueOf(text, 'chaos_daemon_tcs_rules', { ...pod, container: 'app' })).toBe(valueOf(text, 'chaos_daemon_tcs_rules', { ...pod, container: 'sidecar' }));

    expect(valueOf(text, 'chaos_daemon_runtime_up', { runtime: 'containerd', endpoint: h!.endpoint })).toBe(1);
    expect(valueOf(text, 'chaos_daemon_pods', { runtime: 'containerd', state: 'ready' })).toBe(2);
    expect(valueOf(text, 'chaos_daemon_containers', { runtime: 'containerd', state: 'running' })).toBe(3);
    expect(samplesOf(text, 'chaos_daemon_scrape_collector_success').map((s) => [s.labels.collector, s.value])).toEqual([
      ['runtime', 1], ['netns', 1], ['stats', 1], ['proc', 1], ['bpm', 1],
    ]);
  });

  it('drops the injection series after recovery, leaving the pod as scaffolding', async () => {
    await replay.recover();
    const { code, text } = await metrics();
    expect(code).toBe(0);
    const pod = { namespace: NS, pod: web.name };
    expect(samplesOf(text, 'chaos_daemon_injection_active').filter((s) => s.labels.pod === web.name)).toEqual([]);
    expect(samplesOf(text, 'chaos_daemon_injection_first_seen_timestamp_seconds').filter((s) => s.labels.pod === web.name)).toEqual([]);
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { ...pod, verdict: 'scaffolding' })).toBe(1);
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { ...pod, verdict: 'active' })).toBe(0);
    expect(samplesOf(text, 'chaos_daemon_tbf_rate_bytes_per_second').filter((s) => s.labels.pod === web.name)).toEqual([]);
    expect(samplesOf(text, 'chaos_daemon_qdisc_bytes_total').filter((s) => s.labels.pod === web.name && s.labels.kind === 'tbf')).toEqual([]);
    // Recovery flushes CHAOS-OUTPUT (the jump goes) but keeps the unreferenced experiment chain and its rule.
    expect(samplesOf(text, 'chaos_daemon_iptables_packets').filter((s) => s.labels.pod === web.name && s.labels.chain === 'CHAOS-OUTPUT')).toEqual([]);
    expect(samplesOf(text, 'chaos_daemon_iptables_packets').filter((s) => s.labels.pod === web.name && s.labels.chain!.startsWith('OUTPUT/')).map((s) => s.labels.container))
      .toEqual(['app', 'sidecar']);
  });
});
