/**
 * What the agent's /metrics exposes, for test/deploy/metric-names.test.ts.
 *
 * FIXTURE: the metric names and types issue 4 (the exporter) fixes as the contract, written down while the
 * exporter is being built. prom-client's default process_* / nodejs_* metrics are taken from prom-client
 * itself, not typed in.
 *
 * >>> HOOK FOR THE LEAD (switch to the real output once agent/commands/metrics.ts works) <<<
 * Replace the body of `exposedMetricsText()` with a real run: start containerd with a pod via
 * test/helpers/containerd.ts, inject chaos state into its netns via test/helpers/chaos-mesh.ts (a netem or tbf
 * qdisc, CHAOS-* chains with a DROP rule, an ipset) so every injection/qdisc/iptables family has a series,
 * then run `node bin/chaos-node-agent.js metrics --runtime-endpoint unix://<sock>` (after `npx tsc -p
 * tsconfig.json`) and return its stdout. Until then, CNA_METRICS_TEXT_FILE=<file with a real `metrics` run's
 * output> makes the test check against that file instead of the fixture.
 */
import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Registry } from 'prom-client';

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

/** Exposition text equivalent to the fixture: HELP and TYPE lines, as prom-client prints a family with no series. */
async function fixtureText(): Promise<string> {
  const lines: string[] = [];
  for (const [name, type] of ISSUE4_METRICS) lines.push(`# HELP ${name} (fixture)`, `# TYPE ${name} ${type}`);
  const reg = new Registry();
  collectDefaultMetrics({ register: reg });
  lines.push(await reg.metrics());
  return lines.join('\n') + '\n';
}

/** The metrics text the deploy files are checked against. See the HOOK above. */
export async function exposedMetricsText(env: NodeJS.ProcessEnv = process.env): Promise<{ source: string; text: string }> {
  const file = env.CNA_METRICS_TEXT_FILE;
  if (file) return { source: file, text: readFileSync(file, 'utf8') };
  return { source: 'issue-4 fixture', text: await fixtureText() };
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
