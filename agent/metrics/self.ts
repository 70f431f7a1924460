/**
 * The agent itself: per-collector success/duration (node_exporter's scrape_collector_* shape), the last
 * collection's duration, CPU, spawns and end time (fresh per collection), and the long-lived
 * chaos_daemon_netns_command_duration_seconds{tool} histogram and chaos_daemon_netns_errors_total{reason}
 * counter fed by every command run inside a network namespace.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { NetnsErrorReason } from '../errors.js';
import type { CollectorResult, Snapshot } from '../snapshot.js';
import { CACHED, counter, gauge, type CollectionFamilies } from './families.js';

/** 1 ms .. 10 s: nsenter + iptables-save takes a few ms; the per-command timeout defaults to 5 s. */
export const COMMAND_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** 100 µs .. 10 s: a netlink read of a pod takes well under a millisecond, a tools read tens of milliseconds. */
export const READ_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const NETNS_ERROR_REASONS: readonly NetnsErrorReason[] = ['timeout', 'exit', 'output_limit', 'spawn', 'vanished', 'parse'];

/** What the tools reader reports for each tool it ran (NetnsReader hook onCommand). */
export interface CommandObservation {
  tool: string;
  seconds: number;
  ok: boolean;
  reason?: string | null;
}

export function registerSelfMetrics(registry: CollectionFamilies, snapshot: Snapshot, extra: readonly CollectorResult[]): void {
  const success = gauge(registry, 'chaos_daemon_scrape_collector_success',
    `1 if the collector succeeded in the last collection, else 0 ${CACHED}`, ['collector']);
  const duration = gauge(registry, 'chaos_daemon_scrape_collector_duration_seconds',
    `Duration of the collector in the last collection ${CACHED}`, ['collector']);
  const seen = new Set<string>();
  for (const c of [...snapshot.collectors, ...extra]) {
    if (seen.has(c.collector)) continue;
    seen.add(c.collector);
    success.set([c.collector], c.success ? 1 : 0);
    duration.set([c.collector], c.seconds);
  }
  gauge(registry, 'chaos_daemon_collection_duration_seconds',
    'Wall time of the last complete collection (runtimes, namespaces, tools)', []).set([], snapshot.durationSeconds);
  gauge(registry, 'chaos_daemon_collection_cpu_seconds',
    'CPU time (user+system) of the last complete collection: the agent process plus its netns workers and the tools they ran', []).set([], snapshot.cpuSeconds);
  gauge(registry, 'chaos_daemon_collection_spawned_processes',
    'Processes the agent spawned in the last complete collection: one nsenter per tool run by the tools reader (--reader nsenter, or a namespace --reader auto read again through the tools); 0 when every namespace was read over netlink', []).set([], snapshot.spawns);
  gauge(registry, 'chaos_daemon_collection_namespace_reads',
    'Network namespaces read in the last complete collection (over netlink in the reader threads, or through nsenter and the tools)', []).set([], snapshot.reads ?? 0);
  gauge(registry, 'chaos_daemon_collection_incomplete_namespaces',
    'Network namespaces whose read in the last complete collection had a source that failed or was cut at its cap (those pods read unknown unless an active injection was proven; see chaos_daemon_pod_truncated and chaos_daemon_pod_errors)', []).set([], snapshot.incompleteNamespaces ?? 0);
  const stale = gauge(registry, 'chaos_daemon_stale_sandboxes',
    'Sandboxes listed for a pod that another sandbox stands for (a recreated sandbox\'s old one, a pod recreated under the same name): not read, reported apart in /debug/pods', ['runtime']);
  for (const rt of new Set(snapshot.runtimes.filter((r) => r.up).map((r) => r.runtime ?? ''))) stale.set([rt], 0);
  for (const s of snapshot.stale ?? []) stale.add([s.runtime], 1);
  if (snapshot.netlinkSpareThreads !== undefined) {
    counter(registry, 'chaos_daemon_netlink_spare_threads_total',
      'Netlink reader threads started beyond the first since the agent started: each when every running reader thread had been on one namespace (or one lent root read) for 250 ms, a slow or stuck read (a lock held in the kernel, a huge ruleset); a spare stops once the queue is empty. Rising steadily: reads that slow are the rule on this node', []).set([], snapshot.netlinkSpareThreads);
  }
  if (snapshot.rootReader) {
    counter(registry, 'chaos_daemon_root_reader_threads_abandoned_total',
      'Root reader threads abandoned since the agent started: a container\'s mount table or root read past its budget (a FUSE or network mount that does not answer) or a thread that died; that container\'s mounts, dns and jvm sources read timeout', []).set([], snapshot.rootReader.abandonedThreads);
    gauge(registry, 'chaos_daemon_root_reader_blocked_threads',
      'Abandoned root reader threads still blocked in the kernel: each holds a thread and its open files until its call returns, and its container is reported unread without being read again meanwhile', []).set([], snapshot.rootReader.blockedThreads);
    if (snapshot.rootReader.skippedMountTables !== undefined) {
      counter(registry, 'chaos_daemon_root_reader_mount_tables_skipped_total',
        'Containers\' mount tables not read since the agent started because they showed no FUSE or network filesystem and no __chaosfs__ mount point last time and no mount event happened in their namespace since (fanotify mount events, Linux 6.15+; absent where the kernel gives none)', []).set([], snapshot.rootReader.skippedMountTables);
    }
  }
  if (snapshot.procCmdlines) {
    gauge(registry, 'chaos_daemon_proc_cmdlines_unread',
      'Processes of the last /proc scan whose command line was wanted (chaos-daemon\'s tools, java) but is unknown: read past its deadline, or an earlier read of it still blocked in the kernel (a pod with such a chaos process reads unknown unless an active injection was proven)', []).set([], snapshot.procCmdlines.unread);
    gauge(registry, 'chaos_daemon_proc_cmdline_reads_blocked',
      'Command-line reads abandoned at their deadline and still blocked in the kernel (the target holds its mmap lock: a hung page fault, a frozen cgroup): each holds a thread of the agent\'s I/O pool, and its process is not read again until it returns', []).set([], snapshot.procCmdlines.blockedReads);
  }
  gauge(registry, 'chaos_daemon_last_collection_timestamp_seconds',
    'Unix time the last complete collection finished: every cached series is this old', []).set([], snapshot.finishedAt);
}

export interface NetnsInstruments {
  histogram: Histogram<'tool'>;
  errors: Counter<'reason'>;
  observe: (c: CommandObservation) => void;
  fallback: (reason: string) => void;
  read: (e: { reader: string; seconds: number; failures: string[]; unchanged?: boolean }) => void;
}

/** Why `--reader auto` read a namespace through the tools (read.ts FallbackReason). */
export const FALLBACK_REASONS = ['opaque', 'unavailable', 'failed'] as const;

export function netnsInstruments(registry: Registry): NetnsInstruments {
  const histogram = new Histogram({
    name: 'chaos_daemon_netns_command_duration_seconds',
    help: 'Duration of every tool run inside a network namespace (iptables-save, ipset, tc, ...), failures included',
    labelNames: ['tool'],
    buckets: COMMAND_BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'chaos_daemon_netns_errors_total',
    help: 'Failures reading network namespaces, by reason (timeout, exit, output_limit, spawn, vanished, parse): every failed tool run of the tools reader and every failed or truncated source of a netlink read',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of NETNS_ERROR_REASONS) errors.inc({ reason }, 0);
  const observe = (c: CommandObservation): void => {
    histogram.observe({ tool: c.tool }, c.seconds);
    if (!c.ok) errors.inc({ reason: c.reason ?? 'unknown' });
  };
  const fallbacks = new Counter({
    name: 'chaos_daemon_netns_reader_fallbacks_total',
    help: 'Namespaces --reader auto read through nsenter and the tools instead of netlink, by reason: opaque (a rule the decoders cannot render exactly), unavailable (netlink cannot work on this node), failed (a netlink read failed)',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of FALLBACK_REASONS) fallbacks.inc({ reason }, 0);
  const fallback = (reason: string): void => fallbacks.inc({ reason });
  const reads = new Histogram({
    name: 'chaos_daemon_netns_read_duration_seconds',
    help: 'Duration of every network namespace read, by reader (netlink: in-process from a worker thread; nsenter: the tools, one process each)',
    labelNames: ['reader'],
    buckets: READ_BUCKETS,
    registers: [registry],
  });
  const unchanged = new Counter({
    name: 'chaos_daemon_netns_reads_unchanged_total',
    help: 'Netlink namespace reads answered by replaying the last read: every kernel answer byte-identical to it (counters included), so its state was reused and nothing decoded. Its share of chaos_daemon_netns_read_duration_seconds_count{reader="netlink"} is the replay hit rate',
    registers: [registry],
  });
  const read = (e: { reader: string; seconds: number; failures: string[]; unchanged?: boolean }): void => {
    reads.observe({ reader: e.reader }, e.seconds);
    for (const reason of e.failures) errors.inc({ reason });
    if (e.unchanged) unchanged.inc();
  };
  return { histogram, errors, observe, fallback, read };
}
