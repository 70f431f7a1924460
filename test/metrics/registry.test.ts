import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { buildCollectionFamilies, EVENT_LOOP_PRECISION_MS, PersistentMetrics, renderRegistry, type MetricsInput } from '../../agent/metrics/registry.js';
import { InjectionTracker } from '../../agent/metrics/injection-tracker.js';
import { ExpositionDemand } from '../../agent/metrics/exposition.js';
import { lintExposition, parseExposition, PROM_CLIENT_GAUGE_TOTALS, samplesOf, valueOf } from '../helpers/metrics-lint.js';
import { chaos, chaosPod, cleanPod, completeSources, report, podInfo, container, filterDump, chain, rule, snapshot } from './fixtures.js';
import { notInspected } from '../../agent/collection.js';
import type { Snapshot } from '../../agent/snapshot.js';
import type { BpmCommand, BpmReport } from '../../agent/proc/bpm.js';

function input(snap: Snapshot, extra: Partial<MetricsInput> = {}): MetricsInput {
  const tracker = new InjectionTracker();
  tracker.observe(snap);
  return {
    snapshot: snap, bpm: null, extraCollectors: [], compatMetrics: true,
    firstSeen: (ns, pod, kind) => tracker.firstSeen(ns, pod, kind), ...extra,
  };
}

async function text(snap: Snapshot, extra: Partial<MetricsInput> = {}): Promise<string> {
  const collection = await buildCollectionFamilies(input(snap, extra));
  return (await (await renderRegistry(new Registry(), { collection })).body('prometheus', false)).toString('utf8');
}

const WEB = { namespace: 'default', pod: 'web-1' };

function bpmReport(children: [number, BpmCommand][]): BpmReport {
  const background = children.map(([pid, command]) => ({ pid, startTicks: pid, command, identified: command === 'toda' || command === 'tproxy', root: 1 }));
  const byCommand = new Map<BpmCommand, number>();
  for (const b of background) byCommand.set(b.command, (byCommand.get(b.command) ?? 0) + 1);
  return { daemons: [{ pid: 1, sandboxId: 'sb', pod: 'chaos-mesh/chaos-daemon-x' }], background, controlled: background.filter((b) => b.identified).length, byCommand, impostors: [], unknown: [] };
}

describe('collection registry', () => {
  it('exposes injection state, verdict and netem/tbf parameters with exact labels and base units', async () => {
    const t = await text(snapshot([chaosPod(), cleanPod()]));
    expect(samplesOf(t, 'chaos_daemon_injection_active').map((s) => [s.labels.pod, s.labels.kind, s.value])).toEqual([
      ['web-1', 'bandwidth', 1], ['web-1', 'delay', 1], ['web-1', 'loss', 1], ['web-1', 'partition', 1],
    ]);
    expect(valueOf(t, 'chaos_daemon_injection_first_seen_timestamp_seconds', { ...WEB, kind: 'delay' })).toBe(1_700_000_000);
    expect(valueOf(t, 'chaos_daemon_pod_verdict', { ...WEB, verdict: 'active' })).toBe(1);
    expect(valueOf(t, 'chaos_daemon_pod_verdict', { ...WEB, verdict: 'clean' })).toBe(0);
    expect(valueOf(t, 'chaos_daemon_pod_verdict', { namespace: 'kube-system', pod: 'dns-1', verdict: 'clean' })).toBe(1);
    expect(samplesOf(t, 'chaos_daemon_pod_verdict')).toHaveLength(8);
    const netem = { ...WEB, interface: 'eth0', handle: '1:' };
    expect(samplesOf(t, 'chaos_daemon_netem_delay_seconds')).toEqual([{ name: 'chaos_daemon_netem_delay_seconds', labels: netem, value: 0.1 }]);
    expect(valueOf(t, 'chaos_daemon_netem_jitter_seconds', netem)).toBe(0.01);
    expect(valueOf(t, 'chaos_daemon_netem_loss_ratio', netem)).toBe(0.5);
    expect(valueOf(t, 'chaos_daemon_netem_limit_packets', netem)).toBe(1000);
    expect(samplesOf(t, 'chaos_daemon_netem_duplicate_ratio')).toEqual([]);
    const tbf = { ...WEB, interface: 'eth0', handle: '2:' };
    expect(valueOf(t, 'chaos_daemon_tbf_rate_bytes_per_second', tbf)).toBe(125000);
    expect(valueOf(t, 'chaos_daemon_tbf_burst_bytes', tbf)).toBe(10000);
    expect(valueOf(t, 'chaos_daemon_tbf_limit_bytes', tbf)).toBe(20000);
  });

  it("says what chaos_daemon_tbf_* covers: every tbf in a pod's own namespace, whoever installed it; none for host-network pods", async () => {
    const t = await text(snapshot([chaosPod(), cleanPod()]));
    const help = parseExposition(t).families.get('chaos_daemon_tbf_rate_bytes_per_second')?.help;
    expect(help).toBe(
      "tbf token rate, per tbf qdisc in the pod's own network namespace, whoever installed it (Chaos Mesh's bandwidth chaos or the pod's own shaping: " +
        'chaos_daemon_injection_active{kind="bandwidth"} says whether Chaos Mesh\'s is there); none for host-network pods (the node\'s namespace, with the CNI ' +
        "bandwidth plugin's tbfs, is not exported per pod) (cached: from the last background collection, see chaos_daemon_last_collection_timestamp_seconds)",
    );
    for (const name of ['chaos_daemon_tbf_burst_bytes', 'chaos_daemon_tbf_limit_bytes', 'chaos_daemon_tbf_mtu_bytes']) {
      expect(parseExposition(t).families.get(name)?.help).toContain("per tbf qdisc in the pod's own network namespace, whoever installed it");
    }
  });

  it('exposes qdisc statistics per qdisc, skipping noqueue', async () => {
    const t = await text(snapshot([chaosPod(), cleanPod()]));
    const netem = { ...WEB, interface: 'eth0', kind: 'netem', handle: '1:' };
    expect(samplesOf(t, 'chaos_daemon_qdisc_bytes_total').map((s) => s.labels)).toEqual([netem, { ...netem, kind: 'tbf', handle: '2:' }]);
    expect(valueOf(t, 'chaos_daemon_qdisc_bytes_total', netem)).toBe(98000);
    expect(valueOf(t, 'chaos_daemon_qdisc_packets_total', netem)).toBe(700);
    expect(valueOf(t, 'chaos_daemon_qdisc_drops_total', netem)).toBe(350);
    expect(valueOf(t, 'chaos_daemon_qdisc_requeues_total', netem)).toBe(1);
    expect(valueOf(t, 'chaos_daemon_qdisc_backlog_bytes', netem)).toBe(1500);
    expect(valueOf(t, 'chaos_daemon_qdisc_overlimits_total', { ...netem, kind: 'tbf', handle: '2:' })).toBe(42);
  });

  it('repeats Chaos Mesh compatible series per running container with --compat-metrics, once per pod without', async () => {
    const snap = snapshot([chaosPod(), cleanPod()]);
    const on = await text(snap, { compatMetrics: true });
    const drop = { table: 'filter', chain: 'OUTPUT/web_2f9c1d3a4b5e6f_', policy: '-', rule: '-o eth0 -m set --match-set set_web_2f9c1d3a4b5e6f_tgt dst,dst -j DROP' };
    expect(valueOf(on, 'chaos_daemon_iptables_packets', { ...WEB, container: 'app', ...drop })).toBe(5);
    expect(valueOf(on, 'chaos_daemon_iptables_packet_bytes', { ...WEB, container: 'sidecar', ...drop })).toBe(300);
    expect(valueOf(on, 'chaos_daemon_iptables_packets', { ...WEB, container: 'app', table: 'filter', chain: 'INPUT', policy: 'ACCEPT', rule: '-j CHAOS-INPUT' })).toBe(10);
    // 4 rules x 2 running containers (the exited init container is not repeated).
    expect(samplesOf(on, 'chaos_daemon_iptables_packets')).toHaveLength(8);
    expect(samplesOf(on, 'chaos_daemon_ipset_members').map((s) => [s.labels.pod, s.labels.container, s.value])).toEqual([
      ['web-1', 'app', 3], ['web-1', 'sidecar', 3], ['dns-1', 'coredns', 0],
    ]);
    expect(samplesOf(on, 'chaos_daemon_tcs_rules').map((s) => [s.labels.container, s.value])).toEqual([['app', 3], ['sidecar', 3], ['coredns', 2]]);

    const off = await text(snap, { compatMetrics: false });
    expect(samplesOf(off, 'chaos_daemon_iptables_packets')).toHaveLength(4);
    expect(valueOf(off, 'chaos_daemon_iptables_packets', { ...WEB, container: '', ...drop })).toBe(5);
    expect(samplesOf(off, 'chaos_daemon_ipset_members').map((s) => [s.labels.pod, s.labels.container, s.value])).toEqual([
      ['web-1', '', 3], ['dns-1', '', 0],
    ]);
  });

  it('gives a pod with no running container (CrashLoopBackOff) no per-container series, its namespace read and its injection still shown', async () => {
    // Its sandbox (and network namespace) stays while every container has exited: read like any other pod.
    const web = chaosPod();
    const crash = { ...web, pod: { ...web.pod!, containers: web.pod!.containers.map((c) => ({ ...c, state: 'CONTAINER_EXITED' as const, pid: null })) } };
    const snap = snapshot([crash, cleanPod()]);
    const on = await text(snap, { compatMetrics: true });
    for (const name of ['chaos_daemon_iptables_packets', 'chaos_daemon_iptables_packet_bytes', 'chaos_daemon_ipset_members', 'chaos_daemon_tcs_rules']) {
      expect([name, samplesOf(on, name).filter((s) => s.labels.pod === 'web-1')]).toEqual([name, []]);
    }
    expect(samplesOf(on, 'chaos_daemon_ipset_members').map((s) => [s.labels.pod, s.labels.container])).toEqual([['dns-1', 'coredns']]);
    expect(samplesOf(on, 'chaos_daemon_injection_active').filter((s) => s.labels.pod === 'web-1').map((s) => [s.labels.kind, s.value])).toEqual([
      ['bandwidth', 1], ['delay', 1], ['loss', 1], ['partition', 1],
    ]);
    expect(valueOf(on, 'chaos_daemon_pod_verdict', { ...WEB, verdict: 'active' })).toBe(1);
    expect(valueOf(on, 'chaos_daemon_netem_delay_seconds', { ...WEB, interface: 'eth0', handle: '1:' })).toBe(0.1);
    // Not per container: each series once, with container="".
    const off = await text(snap, { compatMetrics: false });
    expect(samplesOf(off, 'chaos_daemon_ipset_members').map((s) => [s.labels.pod, s.labels.container, s.value])).toEqual([['web-1', '', 3], ['dns-1', '', 0]]);
    expect(samplesOf(off, 'chaos_daemon_iptables_packets').filter((s) => s.labels.pod === 'web-1')).toHaveLength(4);
  });

  it('sums iptables rules that map onto the same series instead of duplicating them', async () => {
    const pod = podInfo('default', 'twin', [container('app', 'c-twin')]);
    const rules = [rule('-j DROP', 1, 10), rule('-j DROP', 2, 20)];
    const r = report(pod, { iptables: [filterDump([chain('OUTPUT', 'ACCEPT', rules)], 'legacy'), filterDump([chain('OUTPUT', 'ACCEPT', [rule('-j DROP', 4, 40)])], 'nft')] });
    const t = await text(snapshot([r]));
    expect(samplesOf(t, 'chaos_daemon_iptables_packets').map((s) => s.value)).toEqual([7]);
    expect(samplesOf(t, 'chaos_daemon_iptables_packet_bytes').map((s) => s.value)).toEqual([70]);
    expect(lintExposition(t)).toEqual([]);
  });

  it('gives host-network pods no per-rule series and skips pods whose namespace was not read', async () => {
    const host = report(podInfo('kube-system', 'proxy', [container('kube-proxy', 'c-kp')], { hostNetwork: true }), {
      iptables: [filterDump([chain('INPUT', 'ACCEPT', [rule('-j KUBE-FIREWALL', 1, 1)])])],
    });
    const unresolved = report(podInfo('default', 'gone', [container('app', 'c-gone')], { netns: null, pid: null, reason: 'no pid' }), { netns: null, errors: ['no pid'] });
    const t = await text(snapshot([host, unresolved]));
    expect(samplesOf(t, 'chaos_daemon_iptables_packets')).toEqual([]);
    expect(samplesOf(t, 'chaos_daemon_tcs_rules').map((s) => s.labels.pod)).toEqual(['proxy']);
    expect(valueOf(t, 'chaos_daemon_pod_errors', { namespace: 'default', pod: 'gone' })).toBe(1);
  });

  it('exports no series of namespace content for a namespace not read (collector off, failed, timed out, host summary): absent, never 0', async () => {
    const empty = { iptables: [], ipsets: { sets: [], errors: [] }, tc: { qdiscs: [], classes: [], filters: [], errors: [] } };
    // --no-collector-netns: collection.ts's placeholder, no source, no error.
    const off = report(podInfo('default', 'off', [container('app', 'c-off')]), { ...empty, chaos: notInspected('namespace not read (netns collector off or not reached)'), sources: [], errors: [] });
    // A read past --namespace-timeout: every source failed (read.ts unreadableState).
    const timedOut = report(podInfo('default', 'slow', [container('app', 'c-slow')], { netns: { inode: 4026532001, path: '/proc/4300/ns/net' } }), {
      ...empty, chaos: notInspected('the namespace could not be read: netlink: read timed out (timeout)'),
      sources: completeSources().map((s) => ({ ...s, status: 'failed' as const, reason: 'timeout' })), errors: ['netlink: read timed out (timeout)'],
    });
    // One source failed: its count is absent, the other's stays.
    const noIpset = report(podInfo('default', 'half', [container('app', 'c-half')], { netns: { inode: 4026532002, path: '/proc/4400/ns/net' } }), {
      chaos: chaos('unknown'), sources: completeSources().map((s) => (s.source === 'ipset' ? { ...s, status: 'failed' as const, reason: 'exit' } : s)), errors: ['ipset: exit status 1 (exit)'],
    });
    // A host-network pod in serve / metrics: its entry is the summary, the node's namespace is the host entry.
    const host = report(podInfo('kube-system', 'proxy', [container('kube-proxy', 'c-kp')], { hostNetwork: true }), { ...empty, sources: [], hostNetwork: true });
    const t = await text(snapshot([off, timedOut, noIpset, host, cleanPod()]));
    expect(samplesOf(t, 'chaos_daemon_ipset_members').map((s) => [s.labels.pod, s.value])).toEqual([['dns-1', 0]]);
    expect(samplesOf(t, 'chaos_daemon_tcs_rules').map((s) => [s.labels.pod, s.value])).toEqual([['half', 2], ['dns-1', 2]]);
    expect(samplesOf(t, 'chaos_daemon_pod_errors').map((s) => [s.labels.pod, s.value])).toEqual([['slow', 1], ['half', 1], ['proxy', 0], ['dns-1', 0]]);
    // What is about the pod itself stays: the verdict, unknown for the pods not read.
    expect(valueOf(t, 'chaos_daemon_pod_verdict', { namespace: 'default', pod: 'off', verdict: 'unknown' })).toBe(1);
    expect(valueOf(t, 'chaos_daemon_pod_verdict', { namespace: 'default', pod: 'slow', verdict: 'unknown' })).toBe(1);
    expect(samplesOf(t, 'chaos_daemon_pod_verdict')).toHaveLength(20);
    expect(lintExposition(t)).toEqual([]);

    // The same when a pod is listed twice (compat.ts then builds series by series, not by block).
    const twice = await text(snapshot([off, timedOut, noIpset, host, cleanPod(), off]), { compatMetrics: false });
    expect(samplesOf(twice, 'chaos_daemon_ipset_members').map((s) => [s.labels.pod, s.labels.container])).toEqual([['dns-1', '']]);
    expect(samplesOf(twice, 'chaos_daemon_tcs_rules').map((s) => [s.labels.pod, s.value])).toEqual([['half', 2], ['dns-1', 2]]);
  });

  it('reports runtimes, pod/container counts by state and container stats of running containers only', async () => {
    const t = await text(snapshot([chaosPod(), cleanPod()]));
    expect(samplesOf(t, 'chaos_daemon_runtime_up').map((s) => [s.labels.runtime, s.labels.endpoint, s.value])).toEqual([
      ['containerd', 'unix:///run/containerd/containerd.sock', 1], ['docker', 'unix:///var/run/docker.sock', 0],
    ]);
    expect(samplesOf(t, 'chaos_daemon_runtime_info')).toEqual([{
      name: 'chaos_daemon_runtime_info', value: 1,
      labels: { runtime: 'containerd', endpoint: 'unix:///run/containerd/containerd.sock', version: '1.6.20', api_version: 'v1' },
    }]);
    expect(valueOf(t, 'chaos_daemon_pods', { runtime: 'containerd', state: 'ready' })).toBe(2);
    expect(valueOf(t, 'chaos_daemon_pods', { runtime: 'containerd', state: 'notready' })).toBe(0);
    expect(valueOf(t, 'chaos_daemon_containers', { runtime: 'containerd', state: 'running' })).toBe(3);
    expect(valueOf(t, 'chaos_daemon_containers', { runtime: 'containerd', state: 'exited' })).toBe(1);
    expect(samplesOf(t, 'chaos_daemon_container_cpu_usage_seconds_total')).toEqual([
      { name: 'chaos_daemon_container_cpu_usage_seconds_total', labels: { ...WEB, container: 'app' }, value: 12.5 },
    ]);
    expect(valueOf(t, 'chaos_daemon_container_memory_working_set_bytes', { ...WEB, container: 'app' })).toBe(1048576);
  });

  it('says where container CPU and memory come from: the cgroup, the runtime when the cgroup cannot be read', async () => {
    const snap = snapshot([chaosPod()], {
      containerStats: [
        { containerId: 'c-app', sandboxId: 'sb-web-1', name: 'app', cpuSeconds: 12.5, memoryWorkingSetBytes: 1048576, source: 'cgroup' },
        { containerId: 'c-side', sandboxId: 'sb-web-1', name: 'sidecar', cpuSeconds: 3, memoryWorkingSetBytes: 4096, source: 'runtime' },
      ],
    });
    const t = await text(snap);
    const help = (name: string): string | null | undefined => parseExposition(t).families.get(name)?.help;
    expect(help('chaos_daemon_container_cpu_usage_seconds_total')).toBe(
      "Cumulative CPU time of the container, read from its cgroup (v1 cpuacct.usage, v2 cpu.stat usage_usec), or from the runtime's CRI ListContainerStats when the cgroup cannot be read (chaos_daemon_container_stats_containers counts each source) (cached: from the last background collection, see chaos_daemon_last_collection_timestamp_seconds)",
    );
    expect(help('chaos_daemon_container_memory_working_set_bytes')).toBe(
      "Working-set memory of the container, read from its cgroup as containerd computes it (v1 memory.usage_in_bytes minus total_inactive_file, v2 memory.current minus inactive_file), or from the runtime's CRI ListContainerStats when the cgroup cannot be read (chaos_daemon_container_stats_containers counts each source) (cached: from the last background collection, see chaos_daemon_last_collection_timestamp_seconds)",
    );
    expect(samplesOf(t, 'chaos_daemon_container_stats_containers').map((s) => [s.labels.source, s.value])).toEqual([['cgroup', 1], ['runtime', 1]]);
  });

  it('reports collectors, the collection duration and the data age', async () => {
    const t = await text(snapshot([cleanPod()]), { extraCollectors: [{ collector: 'bpm', success: false, seconds: 0.002, error: 'EACCES' }] });
    expect(samplesOf(t, 'chaos_daemon_scrape_collector_success').map((s) => [s.labels.collector, s.value])).toEqual([['runtime', 1], ['netns', 1], ['bpm', 0]]);
    expect(valueOf(t, 'chaos_daemon_scrape_collector_duration_seconds', { collector: 'bpm' })).toBe(0.002);
    expect(valueOf(t, 'chaos_daemon_collection_duration_seconds')).toBe(0.25);
    expect(valueOf(t, 'chaos_daemon_collection_cpu_seconds')).toBe(0.05);
    expect(valueOf(t, 'chaos_daemon_last_collection_timestamp_seconds')).toBe(1_700_000_000.25);
    // A failed bpm scan registers no bpm family (a 0 would read as "no processes").
    expect(parseExposition(t).families.has('chaos_daemon_bpm_controlled_processes')).toBe(false);
  });

  it('reports the netlink spare threads started, when the collection read over netlink', async () => {
    const t = await text({ ...snapshot([cleanPod()]), netlinkSpareThreads: 2 });
    expect(parseExposition(t).families.get('chaos_daemon_netlink_spare_threads_total')?.type).toBe('counter');
    expect(valueOf(t, 'chaos_daemon_netlink_spare_threads_total')).toBe(2);
    expect(parseExposition(await text(snapshot([cleanPod()]))).families.has('chaos_daemon_netlink_spare_threads_total')).toBe(false);
  });

  it('reports the root reader threads abandoned and still blocked, when serve has a root reader', async () => {
    const t = await text({ ...snapshot([cleanPod()]), rootReader: { abandonedThreads: 3, blockedThreads: 1 } });
    const families = parseExposition(t).families;
    expect([families.get('chaos_daemon_root_reader_threads_abandoned_total')?.type, families.get('chaos_daemon_root_reader_blocked_threads')?.type]).toEqual(['counter', 'gauge']);
    expect([valueOf(t, 'chaos_daemon_root_reader_threads_abandoned_total'), valueOf(t, 'chaos_daemon_root_reader_blocked_threads')]).toEqual([3, 1]);
    // Without one (a one-shot command reading roots on its own thread), neither family: a 0 would claim nothing stuck.
    const bare = parseExposition(await text(snapshot([cleanPod()]))).families;
    expect([...bare.keys()].filter((n) => n.startsWith('chaos_daemon_root_reader'))).toEqual([]);
    // The skipped mount tables only while the reader follows mount events: absent, not 0, where the kernel gives none.
    expect(families.has('chaos_daemon_root_reader_mount_tables_skipped_total')).toBe(false);
    const watching = await text({ ...snapshot([cleanPod()]), rootReader: { abandonedThreads: 0, blockedThreads: 0, skippedMountTables: 440 } });
    expect(parseExposition(watching).families.get('chaos_daemon_root_reader_mount_tables_skipped_total')?.type).toBe('counter');
    expect(valueOf(watching, 'chaos_daemon_root_reader_mount_tables_skipped_total')).toBe(440);
  });

  it('reports the command lines of the last /proc scan left unknown and the reads still blocked, when the scan ran', async () => {
    const t = await text({ ...snapshot([cleanPod()]), procCmdlines: { unread: 2, blockedReads: 1 } });
    const families = parseExposition(t).families;
    expect([families.get('chaos_daemon_proc_cmdlines_unread')?.type, families.get('chaos_daemon_proc_cmdline_reads_blocked')?.type]).toEqual(['gauge', 'gauge']);
    expect([valueOf(t, 'chaos_daemon_proc_cmdlines_unread'), valueOf(t, 'chaos_daemon_proc_cmdline_reads_blocked')]).toEqual([2, 1]);
    // No scan in the collection (proc collector off or failed): neither family.
    const bare = parseExposition(await text(snapshot([cleanPod()]))).families;
    expect([...bare.keys()].filter((n) => n.startsWith('chaos_daemon_proc_cmdline'))).toEqual([]);
  });

  it('exposes bpm process counts: identified ones (toda, tproxy) as controlled, every tool by command', async () => {
    const bpm = bpmReport([[11, 'toda'], [12, 'toda'], [13, 'stress-ng']]);
    const t = await text(snapshot([]), { bpm });
    expect(valueOf(t, 'chaos_daemon_bpm_controlled_processes')).toBe(2);
    expect(samplesOf(t, 'chaos_daemon_bpm_processes').map((s) => [s.labels.command, s.value])).toEqual([['toda', 2], ['stress-ng', 1]]);
  });

  it('builds fresh metrics per collection: a vanished pod disappears', async () => {
    const first = await text(snapshot([chaosPod(), cleanPod()]));
    expect(first).toContain('pod="web-1"');
    const second = await text(snapshot([cleanPod()]));
    expect(second).not.toContain('web-1');
    expect(samplesOf(second, 'chaos_daemon_injection_active')).toEqual([]);
    expect(samplesOf(second, 'chaos_daemon_pod_verdict')).toHaveLength(4);
  });
});

describe('rendering with the long-lived registry', () => {
  it('passes the lint, in both formats, and keeps counter names across OpenMetrics renderings', async () => {
    const persistent = new PersistentMetrics();
    persistent.onCall({ runtime: 'containerd', endpoint: 'unix:///x.sock', method: '/runtime.v1.RuntimeService/Version', code: 'OK', seconds: 0.002 });
    persistent.onCommand({ tool: 'iptables-save', seconds: 0.004, ok: false, reason: 'timeout' });
    persistent.onCommand({ tool: 'tc', seconds: 0.003, ok: true });
    const snap = snapshot([chaosPod(), cleanPod()]);
    const bpm = bpmReport([[2, 'toda']]);
    for (let round = 0; round < 2; round++) {
      const r = await persistent.render(await buildCollectionFamilies(input(snap, { bpm })));
      const prom = (await r.body('prometheus', false)).toString('utf8');
      expect(lintExposition(prom, { allowNonCounterTotal: PROM_CLIENT_GAUGE_TOTALS })).toEqual([]);
      expect(valueOf(prom, 'chaos_daemon_netns_errors_total', { reason: 'timeout' })).toBe(1);
      expect(valueOf(prom, 'chaos_daemon_netns_errors_total', { reason: 'exit' })).toBe(0);
      expect(valueOf(prom, 'chaos_daemon_netns_command_duration_seconds_count', { tool: 'tc' })).toBe(1);
      expect(valueOf(prom, 'chaos_daemon_runtime_request_duration_seconds_count', { runtime: 'containerd', method: '/runtime.v1.RuntimeService/Version', code: 'OK' })).toBe(1);
      expect(prom).toContain('# TYPE chaos_daemon_netns_errors_total counter');
      expect(prom).toContain('# TYPE process_cpu_seconds_total counter');
      // Every family carries HELP text.
      for (const f of parseExposition(prom).families.values()) expect(f.help, f.name).toBeTruthy();

      const om = (await r.body('openmetrics', false)).toString('utf8');
      expect(om.endsWith('# EOF\n')).toBe(true);
      expect(om).toContain('# TYPE chaos_daemon_netns_errors counter');
      expect(om).toContain('chaos_daemon_netns_errors_total{reason="timeout"} 1');
      expect(r.samples).toBe(prom.split('\n').filter((l) => l && !l.startsWith('#')).length);
    }
  });

  it('samples the event loop delay every EVENT_LOOP_PRECISION_MS, not every 10 ms (prom-client\'s default)', async () => {
    // The histogram records the time between two firings of its timer, interval included: its minimum is about the
    // interval (a few ms less when a firing ran late after libuv took its loop time: CI saw 0.0935 s). At
    // prom-client's default (10 ms, 100 wake-ups a second, ~11 ms of CPU per second on an idle process) it is ~0.01 s.
    expect(EVENT_LOOP_PRECISION_MS).toBe(100);
    const persistent = new PersistentMetrics();
    await new Promise((r) => setTimeout(r, 4.5 * EVENT_LOOP_PRECISION_MS));
    const r = await persistent.render(await buildCollectionFamilies(input(snapshot([cleanPod()]))));
    const prom = (await r.body('prometheus', false)).toString('utf8');
    const min = valueOf(prom, 'nodejs_eventloop_lag_min_seconds', {});
    expect(min).toBeGreaterThanOrEqual(0.05);
    expect(min).toBeLessThan(5); // samples were taken (an empty histogram's minimum is ~9.2e9)
    // Every variant of the collection writes the same reading: prom-client resets the histogram on each read, and
    // the variant rendered second used to show an empty one (min 9223372036.85, mean NaN).
    const om = (await r.body('openmetrics', false)).toString('utf8');
    for (const name of ['nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_max_seconds', 'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(valueOf(om, name, {}), name).toBe(valueOf(prom, name, {}));
    }
  });

  it('renders one reading of the registry per collection: a variant asked for later shows the collection\'s values', async () => {
    const persistent = new PersistentMetrics();
    persistent.onCommand({ tool: 'tc', seconds: 0.003, ok: false, reason: 'timeout' });
    const r = await persistent.render(await buildCollectionFamilies(input(snapshot([cleanPod()]))), undefined, new ExpositionDemand([{ format: 'prometheus', gzip: false }]));
    const prom = (await r.body('prometheus', false)).toString('utf8');
    expect(valueOf(prom, 'chaos_daemon_netns_errors_total', { reason: 'timeout' })).toBe(1);
    persistent.onCommand({ tool: 'tc', seconds: 0.003, ok: false, reason: 'timeout' }); // after the collection
    const om = (await r.body('openmetrics', false)).toString('utf8'); // rendered now, on its first request
    expect(om).toContain('chaos_daemon_netns_errors_total{reason="timeout"} 1\n');
    const next = await persistent.render(await buildCollectionFamilies(input(snapshot([cleanPod()]))));
    expect(valueOf((await next.body('prometheus', false)).toString('utf8'), 'chaos_daemon_netns_errors_total', { reason: 'timeout' })).toBe(2);
  });

  it('gzips both renderings', async () => {
    const { gunzipSync } = await import('node:zlib');
    const r = await renderRegistry(new Registry(), { collection: await buildCollectionFamilies(input(snapshot([cleanPod()]))) });
    expect(gunzipSync(await r.body('prometheus', true)).equals(await r.body('prometheus', false))).toBe(true);
    expect(gunzipSync(await r.body('openmetrics', true)).equals(await r.body('openmetrics', false))).toBe(true);
  });
});
