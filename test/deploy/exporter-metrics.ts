/**
 * What the agent's /metrics exposes, for test/deploy/metric-names.test.ts: the text of a real
 * `chaos-node-agent metrics` run (the built CLI) against a real containerd pod carrying replayed Chaos Mesh
 * state (partition: CHAOS-* chains, DROP rule, ipsets; bandwidth: tbf root qdisc), so every injection, qdisc,
 * iptables and runtime family has series. CNA_METRICS_TEXT_FILE=<file> checks against a saved output instead.
 * ISSUE4_METRICS is issue 4's contract list: the test also asserts each of those families is really exported.
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { startContainerd } from '../helpers/containerd.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { enterNetns } from '../helpers/netns.js';

const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;

type MetricType = 'counter' | 'gauge' | 'histogram';

/** Issue 4, "Metrics (exact names...)". */
export const ISSUE4_METRICS: ReadonlyArray<readonly [string, MetricType]> = [
  // Chaos Mesh compatible
  ['chaos_daemon_iptables_packets', 'gauge'],
  ['chaos_daemon_iptables_packet_bytes', 'gauge'],
  ['chaos_daemon_ipset_members', 'gauge'],
  ['chaos_daemon_tcs_rules', 'gauge'],
  ['chaos_daemon_bpm_controlled_processes', 'gauge'],
  ['chaos_daemon_bpm_processes', 'gauge'],
  // Injection state per pod
  ['chaos_daemon_injection_active', 'gauge'],
  ['chaos_daemon_injection_first_seen_timestamp_seconds', 'gauge'],
  ['chaos_daemon_pod_verdict', 'gauge'],
  ['chaos_daemon_netem_delay_seconds', 'gauge'],
  ['chaos_daemon_netem_loss_ratio', 'gauge'],
  ['chaos_daemon_tbf_rate_bytes_per_second', 'gauge'],
  ['chaos_daemon_qdisc_bytes_total', 'counter'],
  ['chaos_daemon_qdisc_packets_total', 'counter'],
  ['chaos_daemon_qdisc_drops_total', 'counter'],
  ['chaos_daemon_qdisc_overlimits_total', 'counter'],
  ['chaos_daemon_qdisc_requeues_total', 'counter'],
  ['chaos_daemon_qdisc_backlog_bytes', 'gauge'],
  // Runtimes
  ['chaos_daemon_runtime_up', 'gauge'],
  ['chaos_daemon_runtime_info', 'gauge'],
  ['chaos_daemon_pods', 'gauge'],
  ['chaos_daemon_containers', 'gauge'],
  ['chaos_daemon_runtime_request_duration_seconds', 'histogram'],
  ['chaos_daemon_container_cpu_usage_seconds_total', 'counter'],
  ['chaos_daemon_container_memory_working_set_bytes', 'gauge'],
  // The agent itself
  ['chaos_daemon_scrape_collector_success', 'gauge'],
  ['chaos_daemon_scrape_collector_duration_seconds', 'gauge'],
  ['chaos_daemon_collection_duration_seconds', 'gauge'],
  ['chaos_daemon_last_collection_timestamp_seconds', 'gauge'],
  ['chaos_daemon_netns_command_duration_seconds', 'histogram'],
  ['chaos_daemon_netns_errors_total', 'counter'],
];

/** Run the real CLI against a real containerd pod with chaos state; needs root, containerd and dist/. */
async function realMetricsText(): Promise<string> {
  const h = await startContainerd({ name: 'deploynames' });
  try {
    const pod = await h.runPod({ name: 'names', namespace: 'deploy-test', containers: ['app', 'sidecar'] });
    const replay = new ChaosMeshReplay(enterNetns(pod.netnsPath), 'legacy');
    await replay.partition({ experiment: 'names-partition', direction: 'to', cidrs: ['192.0.2.0/24'] });
    await replay.bandwidth({ rate: 1_000_000, burst: 32_000, limit: 64_000 });
    const r = await execa(process.execPath, [CLI, 'metrics', '--runtime-endpoint', h.endpoint, '--log-level', 'error'], {
      reject: false, timeout: 60_000, maxBuffer: 64 << 20,
    });
    if (r.exitCode !== 0) throw new Error(`metrics exited ${r.exitCode}: ${String(r.stderr)}`);
    return String(r.stdout);
  } finally {
    await h.stop();
  }
}

/** The metrics text the deploy files are checked against. */
export async function exposedMetricsText(env: NodeJS.ProcessEnv = process.env): Promise<{ source: string; text: string }> {
  const file = env.CNA_METRICS_TEXT_FILE;
  if (file) return { source: file, text: readFileSync(file, 'utf8') };
  return { source: 'real metrics run against containerd', text: await realMetricsText() };
}

/**
 * Every series name an exposition text can produce: sample names, plus the names of families declared by
 * `# TYPE` (a histogram x gives x_bucket, x_sum, x_count), so a family with no series right now (no netem in
 * this kernel, say) still counts as exported.
 */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line);
    if (t) {
      const [, name, type] = t as unknown as [string, string, string];
      if (type === 'histogram') for (const sfx of ['_bucket', '_sum', '_count']) names.add(name + sfx);
      else if (type === 'summary') for (const sfx of ['', '_sum', '_count']) names.add(name + sfx);
      else names.add(name);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}
