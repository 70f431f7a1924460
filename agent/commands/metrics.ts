/**
 * `chaos-node-agent metrics`: one collection, the Prometheus text on stdout, then exit.
 * Exit 0 when at least one runtime was up; 1 otherwise (the text is printed anyway, it says why).
 */
import type { Config } from '../config.js';
import { beginKubeLists, oneShotKube } from '../intent/setup.js';
import { MetricsPipeline } from '../metrics/pipeline.js';
import { createNodeCollector } from '../metrics/node-collector.js';
import { PersistentMetrics } from '../metrics/registry.js';
import type { CommandIo } from './io.js';

export async function run(cfg: Config, io: CommandIo): Promise<number> {
  // The Kubernetes API lists (when the source is on) run while the namespaces are read.
  const intent = beginKubeLists(cfg, io.env, io.log, io.signal);
  const persistent = new PersistentMetrics();
  const kube = oneShotKube(intent);
  const collector = createNodeCollector(cfg, { log: io.log, persistent, ...(kube ? { kube } : {}) });
  const pipeline = new MetricsPipeline({ compatMetrics: cfg.compatMetrics, maxRulesPerPod: cfg.maxRulesPerPod, persistent, log: io.log });
  try {
    const snapshot = await collector.collect(io.signal);
    await intent.result; // `--kube on` with credentials that do not load: an error
    const { metrics } = await pipeline.process(snapshot, io.signal);
    io.out((await metrics.body('prometheus', false)).toString('utf8'));
    const up = snapshot.runtimes.filter((r) => r.up).length;
    if (up === 0) {
      io.err(`chaos-node-agent metrics: no container runtime reachable (${snapshot.runtimes.map((r) => `${r.endpoint}: ${r.error ?? 'down'}`).join('; ') || 'none found'})\n`);
      return 1;
    }
    return 0;
  } finally {
    await collector.close();
  }
}
