/**
 * `chaos-node-agent serve`: the exporter. Background collections (CollectionScheduler) feed /metrics,
 * /readyz and /debug/pods (AgentServer). On SIGTERM/SIGINT (io.signal): stop accepting, abort the collection in
 * progress, kill every child, close the runtime clients, exit 0, all within 2 s.
 */
import type { ChaosKind } from '../chaos/types.js';
import type { Config } from '../config.js';
import { errorMessage } from '../errors.js';
import { releaseFilePages } from '../file-pages.js';
import { lifecycleLimits, startKubeSource } from '../intent/setup.js';
import { ExpositionDemand, SCRAPER_VARIANTS } from '../metrics/exposition.js';
import { MetricsPipeline } from '../metrics/pipeline.js';
import { createNodeCollector } from '../metrics/node-collector.js';
import { PersistentMetrics } from '../metrics/registry.js';
import { CollectionScheduler } from '../scheduler.js';
import { TokenFile, type DebugAccess } from '../server/auth.js';
import { AgentServer } from '../server/http-server.js';
import { lowerOtherThreads } from '../thread-priority.js';
import type { CommandIo } from './io.js';

/** Time given to requests in progress at shutdown before their connections are dropped. */
const SHUTDOWN_GRACE_MS = 500;

/** The file pages mapped at start are released after the first collection, or after this long without one. */
const RELEASE_FILE_PAGES_AFTER_MS = 600_000;

/** /debug/* access from the flags; a token file is read once here so its state is logged at start. */
export async function debugAccess(cfg: Config, io: Pick<CommandIo, 'log'>): Promise<DebugAccess> {
  if (!cfg.debug) return { mode: 'off' };
  if (cfg.debugInsecure) return { mode: 'insecure' };
  if (cfg.debugTokenFile === null) return { mode: 'locked' };
  const token = new TokenFile(cfg.debugTokenFile, { log: io.log });
  await token.refresh();
  return { mode: 'token', token };
}

export async function run(cfg: Config, io: CommandIo): Promise<number> {
  const debug = await debugAccess(cfg, io);
  // Informers on Chaos Mesh's resources (when --kube resolves to on): they run on their own; every collection
  // reads their caches as they are.
  const kube = await startKubeSource(cfg, io.env, io.log);
  const persistent = new PersistentMetrics();
  const demand = new ExpositionDemand(SCRAPER_VARIANTS);
  const pipeline = new MetricsPipeline({ compatMetrics: cfg.compatMetrics, maxRulesPerPod: cfg.maxRulesPerPod, persistent, demand, log: io.log });
  const collector = createNodeCollector(cfg, {
    log: io.log,
    persistent,
    watchMounts: true,
    // Leftover ages count from the exporter's first-seen times; the owners' and apply state's clocks from the flags.
    ...(kube ? { kube: { source: kube, firstSeen: (ns: string, pod: string, kind: ChaosKind) => pipeline.tracker.firstSeen(ns, pod, kind), lifecycle: lifecycleLimits(cfg) } } : {}),
  });
  // node's helper threads (V8's platform threads, libuv's pool) below the event loop, as the reader threads are
  // (thread-priority.ts): at start, then at each collection for threads started since (libuv's pool starts at its
  // first use); a call that finds no new thread reads /proc/self/task only.
  const helperThreads = new Set<number>();
  const lowerHelpers = (): void => {
    const r = lowerOtherThreads(helperThreads);
    if (r.lowered.length > 0) io.log.debug({ threads: r.lowered.length, nice: r.nice }, 'helper threads lowered below the event loop');
    if (r.failed.length > 0) io.log.warn({ threads: r.failed.length, reason: r.failed[0]!.reason }, 'cannot lower helper threads; they keep the event loop\'s priority');
  };
  const scheduler = new CollectionScheduler({
    intervalMs: cfg.intervalMs,
    collect: (signal) => collector.collect(signal),
    process: (snapshot, signal) => {
      lowerHelpers();
      return pipeline.process(snapshot, signal);
    },
    log: io.log,
  });
  const server = new AgentServer({ state: scheduler, debug, log: io.log, maxRulesPerPod: cfg.maxRulesPerPod });

  try {
    const addr = await server.listen(cfg.listen.host, cfg.listen.port);
    io.log.info(
      { listen: `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`, intervalMs: cfg.intervalMs, debug: debug.mode, compatMetrics: cfg.compatMetrics, kube: kube !== null },
      'serving',
    );
  } catch (err) {
    await Promise.all([collector.close(), kube?.stop()]);
    io.err(`chaos-node-agent serve: cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${errorMessage(err)}\n`);
    return 1;
  }
  // The pages of node's executable and libraries that only start-up read leave VmRSS (file-pages.ts): once before the
  // first collection, so that they are not resident on top of what the first collection maps (its peak is VmHWM),
  // and once it is out (it loaded the remaining modules, koffi and the reader thread).
  if (!io.signal.aborted) await releaseFilePages(io.log, 'start');
  lowerHelpers();
  if (!io.signal.aborted) {
    scheduler.start();
    void scheduler.waitForFirst(RELEASE_FILE_PAGES_AFTER_MS).then(() => (io.signal.aborted ? null : releaseFilePages(io.log, 'first collection')));
  }

  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  io.log.info('shutting down');
  const closing = server.close(SHUTDOWN_GRACE_MS);
  const threads = collector.close(); // kills children first, so the aborted collection settles at once
  await Promise.all([scheduler.stop(), kube?.stop(), threads]);
  await closing;
  io.log.info('stopped');
  return 0;
}
