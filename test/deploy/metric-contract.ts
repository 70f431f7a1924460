/**
 * Issue 4's metric contract (names and types that dashboards and alerts may rely on): the Prometheus test checks
 * each is in Prometheus' metadata with this type. New metrics need not be listed: the test also checks every family
 * the agent declares, whatever its name.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

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
