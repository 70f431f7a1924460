/**
 * One full collection: the runtime inventory (runtimes + pods), every distinct network namespace read once
 * (pods sharing a namespace, deduped by inode, share the read) and fingerprinted, container stats, and the
 * per-collector timing/success the exporter publishes. Never throws: every failure ends up in the Snapshot
 * (a collector with success=false, a pod entry with errors).
 *
 * Also the JSON shape of a PodReport (`inspect --json`, /debug/pods): `podReportJson`.
 */
import { stat } from 'node:fs/promises';
import { fingerprint } from './chaos/fingerprint.js';
import type { ChaosReport } from './chaos/types.js';
import { errorMessage } from './errors.js';
import { driftJson, intentJson } from './intent/json.js';
import { silentLogger, type Logger } from './log.js';
import type { NetnsRunner } from './netns/nsenter/exec.js';
import { emptyNetnsState, readNetnsState, type ReadTarget } from './netns/reader.js';
import type { IpsetDump, IptablesDump, NetnsState, TcDump } from './netns/state.js';
import type { Inventory } from './runtime/inventory.js';
import type { ContainerStat, PodInfo, RuntimeStatus } from './runtime/types.js';
import type { CollectorResult, PodReport, Snapshot } from './snapshot.js';

export interface CollectDeps {
  inventory: Inventory;
  runner: NetnsRunner;
  procRoot: string;
  log: Logger;
}

export interface CollectOptions {
  signal?: AbortSignal;
  filter?: (p: PodInfo) => boolean;
}

/** A report for a namespace that could not be read: verdict `unknown` (nothing can be claimed), the finding says why. */
export function notInspected(reason: string): ChaosReport {
  return { verdict: 'unknown', kinds: [], findings: [`not inspected: ${reason}`], details: [] };
}

function fingerprintSafe(state: NetnsState, log: Logger): ChaosReport {
  try {
    return fingerprint(state);
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'fingerprint failed');
    return notInspected(`fingerprint failed: ${errorMessage(err)}`);
  }
}

/** Human sentences for a read's tool failures. */
export function stateErrors(state: NetnsState): string[] {
  return state.errors.map((e) => (e.message.startsWith(`${e.tool}:`) ? `${e.message} (${e.reason})` : `${e.tool}: ${e.message} (${e.reason})`));
}

/** True when the namespace itself could not be read at all (gone before anything was read). */
function vanished(state: NetnsState): boolean {
  return state.errors.some((e) => e.tool === 'netns' && e.reason === 'vanished') && state.spawns === 0;
}

function reportFrom(
  base: { namespace: string; name: string; runtime: string; netns: PodReport['netns']; pod: PodInfo | null },
  state: NetnsState,
  chaos: ChaosReport,
  spawns: number,
  extraErrors: string[] = [],
): PodReport {
  const report: PodReport = {
    ...base,
    chaos,
    iptables: state.iptables,
    ipsets: state.ipsets,
    tc: state.tc,
    ipRules: state.ipRules,
    dnsChaos: state.dnsChaos,
    errors: [...extraErrors, ...stateErrors(state)],
    spawns,
  };
  if (state.notes && state.notes.length > 0) report.notes = state.notes;
  return report;
}

function unreadReport(pod: PodInfo, why: string): PodReport {
  const state = emptyNetnsState();
  return reportFrom(
    { namespace: pod.namespace, name: pod.name, runtime: pod.runtime, netns: pod.netns, pod },
    state,
    notInspected(why),
    0,
    [why],
  );
}

function targetFor(pods: PodInfo[], procRoot: string): ReadTarget {
  const first = pods[0]!;
  const containerPids: { name: string; pid: number }[] = [];
  for (const p of pods) {
    for (const c of p.containers) {
      if (c.pid !== null && c.state === 'CONTAINER_RUNNING') {
        containerPids.push({ name: pods.length > 1 ? `${p.namespace}/${p.name}/${c.name}` : c.name, pid: c.pid });
      }
    }
  }
  // The sandbox PID when known; otherwise a running container's (same namespace; the reader verifies the inode).
  const pid = first.pid ?? containerPids[0]?.pid ?? null;
  return { netnsPath: first.netns!.path, pid, procRoot, containerPids };
}

export async function collect(deps: CollectDeps, opts: CollectOptions = {}): Promise<Snapshot> {
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  const workerCpu0 = deps.runner.workerCpuSeconds();
  const spawns0 = deps.runner.spawns;
  const reads0 = deps.runner.reads;
  const collectors: CollectorResult[] = [];
  const signal = opts.signal;

  // --- runtime
  let runtimes: RuntimeStatus[] = [];
  let pods: PodInfo[] = [];
  {
    const t0 = performance.now();
    try {
      const inv = await deps.inventory.collect();
      runtimes = inv.runtimes;
      pods = opts.filter ? inv.pods.filter(opts.filter) : inv.pods;
      const r: CollectorResult = { collector: 'runtime', success: inv.errors.length === 0 && runtimes.some((s) => s.up), seconds: (performance.now() - t0) / 1000 };
      if (inv.errors.length > 0) r.error = inv.errors.join('; ');
      else if (!runtimes.some((s) => s.up)) r.error = 'no container runtime reachable';
      collectors.push(r);
    } catch (err) {
      deps.log.warn({ err: errorMessage(err) }, 'runtime inventory failed');
      collectors.push({ collector: 'runtime', success: false, seconds: (performance.now() - t0) / 1000, error: errorMessage(err) });
    }
  }

  // --- netns: group by inode, read each namespace once
  const reports = new Map<PodInfo, PodReport>();
  {
    const t0 = performance.now();
    const groups = new Map<number, PodInfo[]>();
    for (const p of pods) {
      if (!p.netns) {
        reports.set(p, unreadReport(p, `network namespace not resolved: ${p.reason ?? 'unknown reason'}`));
        continue;
      }
      const g = groups.get(p.netns.inode);
      if (g) g.push(p);
      else groups.set(p.netns.inode, [p]);
    }
    let failedReads = 0;
    await Promise.all(
      [...groups.values()].map(async (group) => {
        let state: NetnsState;
        if (signal?.aborted) {
          for (const p of group) reports.set(p, unreadReport(p, 'collection aborted'));
          failedReads++;
          return;
        }
        try {
          state = await readNetnsState(deps.runner, targetFor(group, deps.procRoot), signal ? { signal } : {});
        } catch (err) {
          // readNetnsState reports tool failures in the state; anything thrown is a bug, kept visible.
          deps.log.error({ err: errorMessage(err), netns: group[0]!.netns!.path }, 'netns read failed');
          failedReads++;
          for (const p of group) reports.set(p, unreadReport(p, `read failed: ${errorMessage(err)}`));
          return;
        }
        if (state.errors.some((e) => e.reason !== 'vanished')) failedReads++;
        const chaos = vanished(state) ? notInspected('the pod or its network namespace vanished') : fingerprintSafe(state, deps.log);
        group.forEach((p, i) => {
          reports.set(p, reportFrom(
            { namespace: p.namespace, name: p.name, runtime: p.runtime, netns: p.netns, pod: p },
            state, chaos, i === 0 ? state.spawns : 0,
          ));
        });
      }),
    );
    const r: CollectorResult = { collector: 'netns', success: failedReads === 0 && !signal?.aborted, seconds: (performance.now() - t0) / 1000 };
    if (signal?.aborted) r.error = 'aborted';
    else if (failedReads > 0) r.error = `${failedReads} of ${groups.size} namespaces had tool failures`;
    collectors.push(r);
  }

  // --- stats
  let containerStats: ContainerStat[] = [];
  {
    const t0 = performance.now();
    try {
      containerStats = signal?.aborted ? [] : await deps.inventory.containerStats();
      collectors.push({ collector: 'stats', success: !signal?.aborted, seconds: (performance.now() - t0) / 1000, ...(signal?.aborted ? { error: 'aborted' } : {}) });
    } catch (err) {
      deps.log.warn({ err: errorMessage(err) }, 'container stats failed');
      collectors.push({ collector: 'stats', success: false, seconds: (performance.now() - t0) / 1000, error: errorMessage(err) });
    }
  }

  const cpu = process.cpuUsage(cpu0);
  const finished = Date.now();
  return {
    startedAt: started / 1000,
    finishedAt: finished / 1000,
    durationSeconds: (finished - started) / 1000,
    // The agent's own CPU plus its netns workers' (nsenter, the read script and the tools they ran).
    cpuSeconds: (cpu.user + cpu.system) / 1e6 + Math.max(0, deps.runner.workerCpuSeconds() - workerCpu0),
    runtimes,
    pods: pods.map((p) => reports.get(p)!),
    containerStats,
    collectors,
    spawns: deps.runner.spawns - spawns0,
    reads: deps.runner.reads - reads0,
  };
}

/** `inspect --netns PATH` / `--pid PID`: one namespace, no runtime. Never throws. */
export async function inspectTarget(
  runner: NetnsRunner,
  target: { netnsPath: string; pid: number | null; procRoot: string },
  log?: Logger,
): Promise<PodReport> {
  const base = { namespace: '', name: '', runtime: '', pod: null };
  let inode: number;
  try {
    inode = (await stat(target.netnsPath)).ino;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ESRCH' ? `${target.netnsPath} does not exist (vanished)` : `cannot stat ${target.netnsPath}: ${code ?? errorMessage(err)}`;
    return reportFrom({ ...base, netns: null }, emptyNetnsState(), notInspected(why), 0, [why]);
  }
  const state = await readNetnsState(runner, { ...target, containerPids: target.pid !== null ? [{ name: `pid ${target.pid}`, pid: target.pid }] : [] });
  const chaos = vanished(state) ? notInspected('the network namespace vanished') : fingerprintSafe(state, log ?? silentLogger());
  return reportFrom({ ...base, netns: { inode, path: target.netnsPath } }, state, chaos, state.spawns);
}

/** True when something was read from the entry's namespace. */
export function wasInspected(r: PodReport): boolean {
  return r.netns !== null && !r.chaos.findings.some((f) => f.startsWith('not inspected:'));
}

// ---------------------------------------------------------------------------------------------------------------
// JSON shape (inspect --json, /debug/pods)

interface ErrLike {
  line?: number;
  text?: string;
  message?: string;
}
const errJson = (e: ErrLike) => ({ line: e.line ?? 0, text: e.text ?? '', message: e.message ?? String(e) });

export function iptablesJson(d: IptablesDump) {
  return { backend: d.backend, family: d.family, tables: d.tables, errors: d.errors.map(errJson) };
}
export function ipsetsJson(d: IpsetDump) {
  return { sets: d.sets, errors: d.errors.map(errJson) };
}
export function tcJson(d: TcDump) {
  return { qdiscs: d.qdiscs, classes: d.classes, filters: d.filters, errors: d.errors.map(errJson) };
}

/**
 * `{namespace, name, runtime, netns: {inode, path} | null, chaos: {verdict, kinds, findings, intent?, drift?},
 * iptables, ipsets, tc, ipRules, dnsChaos, errors, spawns, notes?}`; parse errors as `{line, text, message}`;
 * `chaos.intent` / `chaos.drift` only when the Kubernetes API source is on (intent/json.ts).
 */
export function podReportJson(r: PodReport) {
  return {
    namespace: r.namespace,
    name: r.name,
    runtime: r.runtime,
    netns: r.netns ? { inode: r.netns.inode, path: r.netns.path } : null,
    chaos: {
      verdict: r.chaos.verdict,
      kinds: r.chaos.kinds,
      findings: r.chaos.findings,
      ...(r.intent ? { intent: intentJson(r.intent) } : {}),
      ...(r.drift ? { drift: driftJson(r.drift) } : {}),
    },
    iptables: r.iptables.map(iptablesJson),
    ipsets: ipsetsJson(r.ipsets),
    tc: tcJson(r.tc),
    ipRules: r.ipRules,
    dnsChaos: r.dnsChaos,
    errors: r.errors,
    spawns: r.spawns,
    ...(r.notes ? { notes: r.notes } : {}),
  };
}
