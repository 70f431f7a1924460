/**
 * The node's collection wired for the exporter: one Inventory (CRI/Docker clients, their requests feeding
 * chaos_daemon_runtime_request_duration_seconds) and one NetnsRunner (its commands feeding
 * chaos_daemon_netns_command_duration_seconds and chaos_daemon_netns_errors_total), shared by every collection.
 */
import { collect, namedNetnsDir } from '../collection.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { NetnsRunner } from '../netns/nsenter/exec.js';
import { Inventory } from '../runtime/inventory.js';
import type { Snapshot } from '../snapshot.js';
import type { PersistentMetrics } from './registry.js';

export interface NodeCollector {
  /** One full collection (runtimes, pods, namespaces); honours `signal`. */
  collect(signal: AbortSignal): Promise<Snapshot>;
  /** Kill every running child at once and close the runtime clients. Idempotent. */
  close(): void;
}

export function createNodeCollector(cfg: Config, deps: { log: Logger; persistent: PersistentMetrics }): NodeCollector {
  const inventory = new Inventory(cfg, { log: deps.log, onCall: deps.persistent.onCall });
  const runner = new NetnsRunner({
    nsenterPath: cfg.nsenterPath,
    concurrency: cfg.netnsConcurrency,
    timeoutMs: cfg.commandTimeoutMs,
    maxOutputBytes: cfg.maxOutputBytes,
    onCommand: deps.persistent.onCommand,
  });
  let closed = false;
  return {
    collect: (signal) => collect({ inventory, runner, procRoot: cfg.procRoot, log: deps.log, namedNetnsDir: namedNetnsDir(cfg.hostRoot) }, { signal }),
    close: () => {
      if (closed) return;
      closed = true;
      runner.killAll();
      inventory.close();
    },
  };
}
