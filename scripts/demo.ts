/**
 * The quick start's end-to-end run on real components (as root, after scripts/install-deps.sh and npm ci):
 * a real containerd with three real pods, Chaos Mesh's injection sequences replayed into two of them, the agent's
 * own CLI (runtimes, pods, inspect, metrics) against that containerd, then the monitoring loop: `serve` scraped by
 * a real Prometheus (Debian's, its own port and data directory) with the shipped alerting rules, Prometheus' view
 * of the pods with active injections and of the alerts, a recovery, and teardown.
 *   node dist/scripts/demo.js [--keep]   (--keep leaves everything running, prints the URLs, and tears it all
 *                                         down on Ctrl-C)
 */
import { execFile } from 'node:child_process';
import { startContainerd, type ContainerdHarness } from '../test/helpers/containerd.js';
import { ChaosMeshReplay } from '../test/helpers/chaos-mesh.js';
import { enterNetns } from '../test/helpers/netns.js';
import { waitFor, type PrometheusHarness } from '../test/helpers/prometheus.js';
import { shippedRuleGroups, type RuleGroupSpec } from '../test/helpers/prometheus-rules.js';
import { CLI } from '../test/helpers/repo.js';
import { startScrapeLoop, type ScrapeLoop } from '../test/helpers/scrape-loop.js';

/** The leftover alert's thresholds in the demo: an injection over 10 s old, for 5 s (shipped: 1 h, for 10 m). */
const DEMO_LEFTOVER_AGE_S = 10;
const DEMO_LEFTOVER_FOR = '5s';

function agent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function show(title: string, args: string[], filter?: (line: string) => boolean): Promise<void> {
  process.stdout.write(`\n$ chaos-node-agent ${args.join(' ')}${filter ? '   # filtered' : ''}\n`);
  const r = await agent(args);
  const out = filter ? r.stdout.split('\n').filter(filter).join('\n') + '\n' : r.stdout;
  process.stdout.write(out);
  if (r.stderr.trim()) process.stdout.write(r.stderr);
  if (r.code !== 0) throw new Error(`${title}: exit ${r.code}`);
}

/** The shipped rules with the leftover alert made to fire within the demo; throws if the rule changed shape. */
export function demoRuleGroups(groups: RuleGroupSpec[]): RuleGroupSpec[] {
  const out = structuredClone(groups);
  const leftover = out.flatMap((g) => g.rules).find((r) => r.alert === 'ChaosInjectionLongRunning');
  if (!leftover || !/> 3600\b/.test(leftover.expr)) throw new Error('ChaosInjectionLongRunning no longer compares the age with 3600: update the demo');
  leftover.expr = leftover.expr.replace(/> 3600\b/, `> ${DEMO_LEFTOVER_AGE_S}`);
  leftover.for = DEMO_LEFTOVER_FOR;
  return out;
}

/** Prometheus' view: pods with an active injection (with their age) and the alerts pending or firing. */
async function showPrometheus(prom: PrometheusHarness): Promise<void> {
  const active = await prom.query('time() - chaos_daemon_injection_first_seen_timestamp_seconds and chaos_daemon_injection_active == 1');
  process.stdout.write(`\nPrometheus ${prom.version} (${prom.url}): pods with an active injection\n`);
  process.stdout.write(`  ${'POD'.padEnd(14)}${'KIND'.padEnd(12)}AGE\n`);
  for (const s of active.sort((a, b) => `${a.metric.pod}${a.metric.kind}`.localeCompare(`${b.metric.pod}${b.metric.kind}`))) {
    process.stdout.write(`  ${`${s.metric.namespace}/${s.metric.pod}`.padEnd(14)}${String(s.metric.kind).padEnd(12)}${Math.round(Number(s.value[1]))}s\n`);
  }
  if (active.length === 0) process.stdout.write('  (none)\n');
  const alerts = await prom.alerts();
  process.stdout.write('Prometheus: alerts pending or firing\n');
  for (const a of alerts.sort((x, y) => `${x.labels.alertname}${x.labels.pod}`.localeCompare(`${y.labels.alertname}${y.labels.pod}`))) {
    process.stdout.write(`  ${a.state.padEnd(8)}${a.labels.alertname}  ${a.annotations.summary ?? ''}\n`);
  }
  if (alerts.length === 0) process.stdout.write('  (none)\n');
}

async function firingFor(prom: PrometheusHarness, pods: string[]): Promise<boolean> {
  const firing = (await prom.alerts()).filter((a) => a.labels.alertname === 'ChaosInjectionLongRunning' && a.state === 'firing');
  return pods.every((p) => firing.some((a) => a.labels.pod === p));
}

/**
 * Ctrl-C or SIGTERM: the demo stops at the next step or poll and tears everything down (the default would kill
 * node at once and leave containerd, its pods and Prometheus behind).
 */
const interrupt = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (!interrupt.signal.aborted) process.stdout.write(`\n${sig}: stopping after the current step, then tearing down...\n`);
    interrupt.abort(new Error(`interrupted by ${sig}`));
  });
}

/** waitFor, abandoned when the demo is interrupted. */
function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  return waitFor(what, async () => {
    interrupt.signal.throwIfAborted();
    return fn();
  }, timeoutMs, 500).catch((err: unknown) => {
    interrupt.signal.throwIfAborted();
    throw err;
  });
}

function step(): void {
  interrupt.signal.throwIfAborted();
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (containerd, network namespaces, iptables)');
  const keep = process.argv.includes('--keep');
  let h: ContainerdHarness | null = null;
  let loop: ScrapeLoop | null = null;
  try {
    process.stdout.write('Starting a real containerd (own socket, CNI bridge) and three pods...\n');
    h = await startContainerd({ name: 'demo' });
    const web = await h.runPod({ name: 'web', namespace: 'shop', containers: ['nginx', 'sidecar'] });
    const api = await h.runPod({ name: 'api', namespace: 'shop' });
    await h.runPod({ name: 'cart', namespace: 'shop' });

    process.stdout.write('Replaying Chaos Mesh: a partition into shop/web (iptables-legacy + ipsets), a bandwidth limit into shop/api (tbf)...\n');
    const webCm = new ChaosMeshReplay(enterNetns(web.netnsPath), 'legacy');
    await webCm.partition({ experiment: 'web-partition', direction: 'to', cidrs: ['10.96.0.0/16', '192.0.2.10/32'], cidrPorts: ['10.97.0.0/16,tcp:5432'] });
    await new ChaosMeshReplay(enterNetns(api.netnsPath), 'nft').bandwidth({ rate: 1_000_000, burst: 32_768, limit: 100_000 });

    const ep = ['--runtime-endpoint', h.endpoint];
    step();
    await show('runtimes', ['runtimes', ...ep]);
    await show('pods', ['pods', ...ep]);
    await show('inspect', ['inspect', '--all', ...ep]);
    step();
    await show('metrics', ['metrics', ...ep], (l) => /^chaos_daemon_(injection_active|pod_verdict\{.*\} 1|tbf_rate|runtime_up|ipset_members)/.test(l));

    process.stdout.write(`\nStarting the loop: chaos-node-agent serve (--interval 2s) and a real Prometheus scraping it every 2 s with\n`
      + `deploy/prometheusrule.yaml's alerts (demo thresholds: ChaosInjectionLongRunning after ${DEMO_LEFTOVER_AGE_S} s for ${DEMO_LEFTOVER_FOR}, shipped: 1 h for 10 m)...\n`);
    step();
    loop = await startScrapeLoop({ name: 'demo', runtimeEndpoint: h.endpoint, interval: '2s', scrapeInterval: '2s', ruleGroups: demoRuleGroups(shippedRuleGroups()), node: 'demo-node' });
    const prom = loop.prom;
    await until('Prometheus firing ChaosInjectionLongRunning for shop/web and shop/api', () => firingFor(prom, ['web', 'api']), 90_000);
    await showPrometheus(prom);

    process.stdout.write('\nRecovering the partition as Chaos Mesh does (empty chains and ipsets stay behind)...\n');
    step();
    await webCm.recover();
    await show('inspect', ['inspect', 'shop/web', ...ep]);
    await until('shop/web gone from Prometheus\' active injections and alerts', async () => {
      const active = await prom.query('chaos_daemon_injection_active{namespace="shop",pod="web"}');
      return active.length === 0 && !(await prom.alerts()).some((a) => a.labels.pod === 'web');
    }, 30_000);
    await showPrometheus(prom);

    if (keep) {
      process.stdout.write(`\nEverything keeps running:\n  Prometheus  ${prom.url}  (e.g. ${prom.url}/alerts)\n  agent       ${loop.serve.url}/metrics\n`
        + `  containerd  ${h.endpoint}\nPress Ctrl-C to tear everything down.\n`);
      await new Promise((resolve) => interrupt.signal.addEventListener('abort', resolve, { once: true }));
    }
  } finally {
    process.stdout.write('\nTearing down Prometheus, the agent, pods and containerd...\n');
    const failures: unknown[] = [];
    await loop?.stop().catch((err: unknown) => failures.push(err));
    await h?.stop().catch((err: unknown) => failures.push(err));
    for (const f of failures) process.stderr.write(`teardown: ${f instanceof Error ? f.message : String(f)}\n`);
    if (failures.length) process.exitCode = 1;
  }
  process.stdout.write('Done.\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
