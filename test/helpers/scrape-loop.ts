/**
 * The monitoring loop on one node, for the Prometheus tests and the demo: the built `serve` against a runtime
 * endpoint, and a real Prometheus scraping it the way the shipped ServiceMonitor does (`honor_labels: true`,
 * `job="chaos-node-agent"`, a `node` label, and the agent pod's own namespace/pod as target labels), with the
 * shipped alerting rules or others. One scrape job per exposition format:
 * - OpenMetrics: Prometheus' own negotiation (2.42 prefers OpenMetrics);
 * - text 0.0.4: the same target through an Accept-rewriting proxy (accept-proxy.ts), when `textFormat` is set.
 * The two jobs differ only in their `node` label (NODE_OPENMETRICS, NODE_TEXT), so every query can be asked of both.
 */
import { startAcceptProxy, type AcceptProxy } from './accept-proxy.js';
import { startPrometheus, type PrometheusHarness } from './prometheus.js';
import { LOADED_MACHINE_DEADLINES, startServe, type ServeProcess } from './serve.js';

export const AGENT_JOB = 'chaos-node-agent';
export const NODE_OPENMETRICS = 'node-om';
export const NODE_TEXT = 'node-text';
/** The namespace/pod Prometheus attaches to series that carry none (runtime, collector, process metrics). */
export const AGENT_NAMESPACE = 'chaos-node-agent';

export interface ScrapeLoopOptions {
  name: string;
  runtimeEndpoint: string;
  /** serve --interval (default 1s). */
  interval?: string;
  /** Prometheus scrape and rule evaluation interval (default 1s). */
  scrapeInterval?: string;
  /** Also scrape through a proxy that makes the agent answer in the text format. */
  textFormat?: boolean;
  ruleGroups?: unknown[];
  /** Extra serve flags. */
  serveArgs?: string[];
  /** Node label of the OpenMetrics job (default NODE_OPENMETRICS). */
  node?: string;
}

export interface ScrapeLoop {
  serve: ServeProcess;
  prom: PrometheusHarness;
  proxy: AcceptProxy | null;
  /** Node labels of the jobs, OpenMetrics first. */
  nodes: string[];
  stop(): Promise<void>;
}

/** Samples Prometheus accepts per scrape of one agent (sample_limit); a scrape above it fails and is counted. */
export const SAMPLE_LIMIT = 20_000;

function job(name: string, target: string, node: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    job_name: name,
    honor_labels: true,
    sample_limit: SAMPLE_LIMIT,
    metrics_path: '/metrics',
    static_configs: [{ targets: [target], labels: { job: AGENT_JOB, node, namespace: AGENT_NAMESPACE, pod: `chaos-node-agent-${node}` } }],
    ...extra,
  };
}

export async function startScrapeLoop(opts: ScrapeLoopOptions): Promise<ScrapeLoop> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    const errors: string[] = [];
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => errors.push(String(err)));
    cleanups.length = 0;
    if (errors.length) throw new Error(`scrape loop ${opts.name} cleanup: ${errors.join('; ')}`);
  };
  try {
    const serve = await startServe(['--runtime-endpoint', opts.runtimeEndpoint, '--interval', opts.interval ?? '1s', '--debug=false', ...LOADED_MACHINE_DEADLINES, ...(opts.serveArgs ?? [])]);
    cleanups.push(() => serve.stop());
    const target = `127.0.0.1:${serve.port}`;
    const node = opts.node ?? NODE_OPENMETRICS;
    const jobs = [job('agent-openmetrics', target, node)];
    let proxy: AcceptProxy | null = null;
    if (opts.textFormat) {
      proxy = await startAcceptProxy('text/plain;version=0.0.4');
      const p = proxy;
      cleanups.push(() => p.close());
      jobs.push(job('agent-text', target, NODE_TEXT, { proxy_url: proxy.url }));
    }
    const prom = await startPrometheus({
      name: opts.name,
      scrapeConfigs: jobs,
      scrapeInterval: opts.scrapeInterval ?? '1s',
      evaluationInterval: opts.scrapeInterval ?? '1s',
      ...(opts.ruleGroups ? { ruleGroups: opts.ruleGroups } : {}),
    });
    cleanups.push(() => prom.stop());
    return { serve, prom, proxy, nodes: opts.textFormat ? [node, NODE_TEXT] : [node], stop };
  } catch (err) {
    try {
      await stop();
    } catch (cleanupErr) {
      throw new Error(`${(err as Error).message}; cleanup after it failed too: ${(cleanupErr as Error).message}`, { cause: err });
    }
    throw err;
  }
}
