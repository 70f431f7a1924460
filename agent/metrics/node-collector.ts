/**
 * The node's collection wired for the exporter: one Inventory (CRI/Docker clients, their requests feeding
 * chaos_daemon_runtime_request_duration_seconds) and one NetnsReader (its tool runs feeding
 * chaos_daemon_netns_command_duration_seconds and chaos_daemon_netns_errors_total, its fallbacks
 * chaos_daemon_netns_reader_fallbacks_total) and one RootReader (the /proc facts, read on a thread the NetnsReader's
 * pool lends it, with the containers' mount events where the kernel gives them), shared by every collection.
 */
import { VerdictMemo } from '../collect/verdict-memo.js';
import { ProcScanMemo } from '../collect/proc.js';
import { collect, namedNetnsDir } from '../collection.js';
import { collectionSoftDeadlineMs } from '../scheduler.js';
import { disabledCollectors, type Config } from '../config.js';
import type { Logger } from '../log.js';
import type { KubeCollectorOptions } from '../intent/collector.js';
import { createNetnsReader, type NetnsReader } from '../netns/read.js';
import { MountEvents } from '../proc/mount-events.js';
import { RootReader } from '../proc/root-reader.js';
import { Inventory } from '../runtime/inventory.js';
import { CgroupStatsReader, OWN_CGROUP_ROOT, hostCgroupRoot } from '../runtime/cgroup-stats.js';
import type { Snapshot } from '../snapshot.js';
import type { PersistentMetrics } from './registry.js';

export interface NodeCollector {
  /** One full collection (runtimes, pods, namespaces); honours `signal`. */
  collect(signal: AbortSignal): Promise<Snapshot>;
  /**
   * Kill every running child at once and close the runtime clients (synchronously, before it returns); resolves
   * once the reader threads are terminated (terminateLoaded: never while one loads koffi). Idempotent: every call
   * gets the same promise.
   */
  close(): Promise<void>;
}

export function createNodeCollector(
  cfg: Config,
  deps: {
    log: Logger;
    persistent: PersistentMetrics;
    kube?: KubeCollectorOptions;
    /** `serve`: follow the containers' mount events (exporterRootReader); a one-shot command reads each table once anyway. */
    watchMounts?: boolean;
  },
): NodeCollector {
  const inventory = new Inventory(cfg, { log: deps.log, onCall: deps.persistent.onCall });
  const reader = createNetnsReader(cfg, {
    log: deps.log,
    onCommand: (r) => deps.persistent.onCommand({ tool: r.tool, seconds: r.seconds, ok: r.error === null, reason: r.error?.reason ?? null }),
    onRead: (e) => deps.persistent.onRead(e),
    onFallback: (reason, detail) => {
      deps.persistent.onFallback(reason);
      deps.log.debug({ reason, detail }, 'namespace read through the tools');
    },
  });
  const rootReader = exporterRootReader(reader, deps.log, deps.watchMounts === true);
  const disabled = disabledCollectors(cfg);
  const verdicts = new VerdictMemo();
  const procScans = new ProcScanMemo();
  const proxyNetnsDir = namedNetnsDir(cfg.hostRoot);
  const cgroups = new CgroupStatsReader({ cgroupRoot: hostCgroupRoot(cfg.hostRoot), procRoot: cfg.procRoot, ownCgroupRoot: OWN_CGROUP_ROOT });
  let closed: Promise<void> | null = null;
  return {
    collect: (signal) => collect(
      { inventory, reader, rootReader, procRoot: cfg.procRoot, log: deps.log, disabled, namedNetnsDir: proxyNetnsDir, verdicts, procScans, cgroups, ...(deps.kube ? { kube: deps.kube } : {}) },
      { signal, deadlineMs: collectionSoftDeadlineMs(cfg.intervalMs) },
    ),
    close: () => {
      if (closed) return closed;
      const threads = Promise.all([reader.close(), rootReader.close()]).then(() => undefined);
      inventory.close();
      cgroups.close();
      procScans.close();
      closed = threads;
      return closed;
    },
  };
}

/**
 * The containers' roots and mount tables as the exporter reads them (bench/agent.ts too): on a netlink pool thread
 * lent for each collection (one isolate for both readers), else in a worker thread of its own, shared by every
 * collection. With `watchMounts`, a mount table that showed nothing is read again only after a mount event in its
 * namespace, where the kernel gives them (Linux 6.15+: mount-events.ts).
 */
export function exporterRootReader(reader: NetnsReader, log: Logger, watchMounts: boolean): RootReader {
  const lease = reader.threadLease();
  const events = watchMounts ? MountEvents.open() : null;
  if (events !== null && !(events instanceof MountEvents)) log.debug({ reason: events.unavailable }, 'no mount events: every mount table is read every collection');
  return new RootReader({ log, ...(lease ? { lease } : {}), ...(events instanceof MountEvents ? { mountEvents: events } : {}) });
}
