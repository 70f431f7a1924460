/**
 * One full collection: the collectors (collect/) in order, runtime -> netns -> proc -> bpm -> kube, with stats
 * waiting alongside them from the end of runtime on and proc's scan (its `start`) running alongside the namespace
 * reads, its merge after them; each timed and reporting success
 * (chaos_daemon_scrape_collector_*), into a Snapshot. Never throws: every failure ends up in the Snapshot (a
 * collector with success=false, a pod entry with errors). `inspect`, `metrics`, `serve` and the benchmark all run
 * this same collection.
 */
import { readFileSync } from 'node:fs';
import { stat, statfs } from 'node:fs/promises';
import { runCollector, type CollectContext, type Collector, type CollectorName } from './collect/collector.js';
import { emptyDraft, type Draft } from './collect/draft.js';
import { netnsCollector } from './collect/netns.js';
import type { VerdictMemo } from './collect/verdict-memo.js';
import { judge, notInspected, reportFrom } from './collect/report.js';
import { runtimeCollector } from './collect/runtime.js';
import { statsCollector } from './collect/stats.js';
import { bpmCollector, procCollector, withProcFacts, type ProcScanMemo } from './collect/proc.js';
import { collectPodFacts } from './proc/facts.js';
import { scanProc } from './proc/scan.js';
import { errorMessage } from './errors.js';
import { kubeCollector, type KubeCollectorOptions } from './intent/collector.js';
import { silentLogger, type Logger } from './log.js';
import { nonNamespaceKind } from './netns/ns-file.js';
import { namespaceType } from './netns/ns-type.js';
import type { NetnsReader } from './netns/read.js';
import { emptyNetnsState } from './netns/state.js';
import type { RootReader } from './proc/root-reader.js';
import type { CgroupStatsReader } from './runtime/cgroup-stats.js';
import { hostNetnsInode } from './runtime/netns-resolve.js';
import type { Inventory } from './runtime/inventory.js';
import type { PodInfo } from './runtime/types.js';
import type { CollectorResult, PodReport, Snapshot } from './snapshot.js';

export { notInspected, notInspectedReason, podReportJson, wasInspected, iptablesJson, ipsetsJson, tcJson, stateErrors, podIdentityJson, kernelJson } from './collect/report.js';
export { namedNetnsDir } from './collect/netns.js';

export interface CollectDeps {
  inventory: Inventory;
  reader: NetnsReader;
  procRoot: string;
  /** Reads the containers' roots for the proc collector in a worker thread (default: on the main thread). */
  rootReader?: RootReader;
  log: Logger;
  /** Collectors switched off by flags (--no-collector-stats...); runtime always runs. */
  disabled?: ReadonlySet<CollectorName>;
  /** The node's /run/netns (under --host-root): HTTPChaos's proxy namespaces `<p>ns` (namedNetnsDir(cfg.hostRoot)). */
  namedNetnsDir?: string;
  /** Chaos Mesh's intent (the Kubernetes API source on): the kube collector runs last. */
  kube?: KubeCollectorOptions;
  /** Verdicts kept from one collection to the next (serve): a state object the reader hands back again is not re-judged. */
  verdicts?: VerdictMemo;
  /** The last /proc scan kept from one collection to the next (serve): pod processes seen again are not re-read. */
  procScans?: ProcScanMemo;
  /** The agent's reader of the host's cgroup filesystem (runtime/cgroup-stats.ts): container stats read there; absent: from the runtimes. */
  cgroups?: CgroupStatsReader;
}

export interface CollectOptions {
  signal?: AbortSignal;
  /** The pods reported (inspect NS/POD, diff); only they are resolved unless placing processes needs the others. */
  filter?: (p: Pick<PodInfo, 'namespace' | 'name'>) => boolean;
  /** ms from the start by which namespace reads still running are abandoned and reported unread (default 25 s). */
  deadlineMs?: number;
  /** Host-network pods: the node's namespace reported once (default) or given to each pod (inspect POD). */
  hostSharing?: 'summarise' | 'full';
}

const DEFAULT_DEADLINE_MS = 25_000;

/** Each pod's report in pod order (a loop, not a per-call closure: see chaos/processes.ts). */
function reportsOf(draft: Draft): PodReport[] {
  const out: PodReport[] = [];
  for (const p of draft.pods) out.push(draft.reports.get(p) ?? unreadPlaceholder(p));
  return out;
}

export async function collect(deps: CollectDeps, opts: CollectOptions = {}): Promise<Snapshot> {
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  const children0 = childrenCpuSeconds();
  const spawns0 = deps.reader.spawns;
  const reads0 = deps.reader.reads;
  const ctx = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    deadline: performance.now() + (opts.deadlineMs ?? DEFAULT_DEADLINE_MS),
    log: deps.log,
  };
  const collectors: Collector[] = [
    runtimeCollector(deps.inventory, opts.filter),
    netnsCollector({
      reader: deps.reader,
      ...(opts.hostSharing ? { hostSharing: opts.hostSharing } : {}),
      ...(deps.namedNetnsDir !== undefined ? { namedNetnsDir: deps.namedNetnsDir } : {}),
      ...(deps.verdicts ? { verdicts: deps.verdicts } : {}),
    }),
    statsCollector(deps.inventory, deps.cgroups ?? null),
    procCollector({ procRoot: deps.procRoot, ...(deps.rootReader ? { facts: { rootReader: deps.rootReader } } : {}), ...(deps.procScans ? { memo: deps.procScans } : {}) }),
    bpmCollector(),
    ...(deps.kube ? [kubeCollector(deps.kube)] : []),
  ].filter((c) => c.name === 'runtime' || !deps.disabled?.has(c.name));
  const draft = emptyDraft();
  const results = await runAll(collectors, draft, ctx);

  const cpu = process.cpuUsage(cpu0);
  const finished = Date.now();
  return {
    startedAt: started / 1000,
    finishedAt: finished / 1000,
    durationSeconds: (finished - started) / 1000,
    // The agent's own CPU (every thread: the netlink readers included) plus the tools it ran and waited for.
    cpuSeconds: (cpu.user + cpu.system) / 1e6 + Math.max(0, childrenCpuSeconds() - children0),
    runtimes: draft.runtimes,
    pods: reportsOf(draft),
    containerStats: draft.containerStats,
    collectors: results,
    spawns: deps.reader.spawns - spawns0,
    reads: deps.reader.reads - reads0,
    stale: draft.stale,
    host: draft.host,
    incompleteNamespaces: draft.incompleteNamespaces,
    netlinkSpareThreads: deps.reader.spareThreads,
    ...(deps.rootReader ? { rootReader: rootReaderCounts(deps.rootReader) } : {}),
    ...(draft.proc ? { procCmdlines: { unread: draft.proc.scan.cmdlineUnread.size, blockedReads: draft.proc.scan.cmdlineBlocked } } : {}),
    bpm: draft.bpm,
    ...(draft.kube ? { kube: draft.kube } : {}),
  };
}

/**
 * Collectors that need only the runtime collector's pods and clients and write only their own part of the draft:
 * stats (containerd's ListContainerStats: ~0.5 s of waiting at 110 pods for ~10-45 ms of CPU here). They start as
 * soon as runtime is done and wait alongside the namespace reads and the /proc scan instead of after them.
 */
const OVERLAPPING: ReadonlySet<CollectorName> = new Set(['stats']);

/**
 * The first collector (runtime) alone, then the overlapping ones started at once and the others in order. The
 * collectors with a `start` (proc's scan) are started one turn after the collector that follows runtime (netns)
 * began, so its synchronous head (posting every namespace read to the reader thread) goes first and the scan then
 * runs on the main thread while the reader thread reads. Each is timed from its own start to its own end
 * (chaos_daemon_scrape_collector_duration_seconds stays that collector's time) and never throws (runCollector), so
 * one failing never stops another; results in the collectors' order.
 */
async function runAll(collectors: readonly Collector[], draft: Draft, ctx: CollectContext): Promise<CollectorResult[]> {
  const results: CollectorResult[] = new Array<CollectorResult>(collectors.length);
  const [first, ...rest] = collectors;
  if (first === undefined) return results;
  results[0] = await runCollector(first, draft, ctx);
  const overlapping = rest.map(async (c, k) => {
    if (OVERLAPPING.has(c.name)) results[k + 1] = await runCollector(c, draft, ctx);
  });
  const startedAt = new Map<Collector, number>();
  let startedEarly = false;
  const startEarly = (after: Collector): void => {
    for (const c of rest) {
      if (c === after || c.start === undefined || startedAt.has(c) || OVERLAPPING.has(c.name) || ctx.signal?.aborted) continue;
      startedAt.set(c, performance.now());
      try {
        c.start(draft, ctx);
      } catch (err) {
        // A start must not throw (Collector.start); if one does, its collect() does the work itself.
        ctx.log.warn({ collector: c.name, err: errorMessage(err) }, 'collector start failed');
      }
    }
  };
  for (const [k, c] of rest.entries()) {
    if (OVERLAPPING.has(c.name)) continue;
    // Each collector starts on a turn of the event loop of its own: the synchronous tail of one (netns building its
    // reports) and the head of the next (the /proc scan's first batch) ran as one stretch of ~10 ms at 110 pods.
    // Two immediates: one queued from the poll phase runs in that same turn's check phase, before timers and I/O
    // get their turn; the second is queued from the check phase, so it waits for the next turn.
    await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
    const running = runCollector(c, draft, ctx, startedAt.get(c));
    if (!startedEarly) {
      startedEarly = true;
      setImmediate(startEarly, c);
    }
    results[k + 1] = await running;
  }
  await Promise.all(overlapping);
  return results;
}

/** A pod the netns collector did not reach (disabled, or aborted before it ran). */
function unreadPlaceholder(p: PodInfo): PodReport {
  return reportFrom({ namespace: p.namespace, name: p.name, runtime: p.runtime, netns: p.netns, pod: p }, emptyNetnsState(), notInspected('namespace not read (netns collector off or not reached)'), 0);
}

/** `inspect --netns PATH` / `--pid PID`: one namespace, no runtime. Never throws. */
export async function inspectTarget(
  reader: NetnsReader,
  target: { netnsPath: string; pid: number | null; procRoot: string },
  log: Logger = silentLogger(),
): Promise<PodReport> {
  const base = { namespace: '', name: '', runtime: '', pod: null };
  const unread = (why: string): PodReport => reportFrom({ ...base, netns: null }, emptyNetnsState(), notInspected(why), 0, [why]);
  let inode: number;
  let notNetns: string | null;
  try {
    const st = await stat(target.netnsPath);
    inode = st.ino;
    // A plain file, a directory, a FIFO...: said so before any reader tries it (the kernel would refuse its setns).
    notNetns = nonNamespaceKind(st, st.isFile() ? (await statfs(target.netnsPath)).type : 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return unread(code === 'ENOENT' || code === 'ESRCH' ? await missingTarget(target) : `cannot stat ${target.netnsPath}: ${code ?? String(err)}`);
  }
  if (notNetns === null) {
    // An nsfs file of another kind (a mount, a PID namespace), which setns(CLONE_NEWNET) would refuse.
    try {
      const type = namespaceType(target.netnsPath);
      if (type !== 'net') notNetns = `a ${type} namespace`;
    } catch (err) {
      log.debug({ err: errorMessage(err) }, 'cannot tell the namespace type; the reader checks it');
    }
  }
  if (notNetns !== null) return unread(`${target.netnsPath} is not a network namespace (${notNetns})`);
  const state = await reader.read({ path: target.netnsPath, inode, pid: target.pid });
  const nodeNamespace = inode === (await nodeNetnsInode(target.procRoot, log));
  const report = reportFrom({ ...base, netns: { inode, path: target.netnsPath } }, state, judge(state, log, { nodeNamespace }), state.spawns);
  return target.pid === null ? report : withPidFacts(report, target.pid, target.procRoot, { inode, path: target.netnsPath });
}

/** Why a --pid / --netns target's namespace file is not there: no such process (or one that has exited), no such file. */
async function missingTarget(target: { netnsPath: string; pid: number | null; procRoot: string }): Promise<string> {
  if (target.pid === null) return `${target.netnsPath}: no such file`;
  try {
    await stat(`${target.procRoot}/${target.pid}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? `no such process: ${target.pid}` : `${target.netnsPath} is gone; cannot stat ${target.procRoot}/${target.pid}: ${code ?? String(err)}`;
  }
  // /proc/<pid> without ns/net: a zombie, exited but not yet reaped.
  return `process ${target.pid} has exited (${target.netnsPath} is gone)`;
}

/** The node's network namespace inode (PID 1's), or null when it cannot be known (logged: the target is then not taken for the node's). */
async function nodeNetnsInode(procRoot: string, log: Logger): Promise<number | null> {
  try {
    return await hostNetnsInode(procRoot);
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'cannot tell whether the namespace is the node\'s');
    return null;
  }
}

/** `--pid PID`: the /proc facts of that process's root and namespaces, as if it were a one-container pod. */
async function withPidFacts(report: PodReport, pid: number, procRoot: string, netns: { inode: number; path: string }): Promise<PodReport> {
  const id = `pid-${pid}`;
  const pod: PodInfo = {
    namespace: '', name: '', uid: '', runtime: '', endpoint: '', sandboxId: id, state: 'SANDBOX_READY', pid, hostNetwork: false, netns,
    containers: [{ id, name: `pid ${pid}`, state: 'CONTAINER_RUNNING', pid }],
  };
  try {
    const scan = await scanProc({ procRoot, detailPids: [pid] });
    const { facts } = await collectPodFacts(scan, [pod], { procRoot });
    return withProcFacts(report, pod, facts.get(id) ?? null, 'no facts');
  } catch (err) {
    return withProcFacts(report, pod, null, `the /proc scan failed: ${errorMessage(err)}`);
  }
}

/** CPU time of the children this process waited for (the tools), seconds: /proc/self/stat cutime + cstime. */
export function childrenCpuSeconds(): number {
  try {
    const text = readFileSync('/proc/self/stat', 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / CLK_TCK;
  } catch (err) {
    void err; // no /proc: children are simply not counted
    return 0;
  }
}
const CLK_TCK = 100;

/** The root reader's counts for the self metrics; the skipped mount tables only while it follows mount events. */
function rootReaderCounts(r: RootReader): NonNullable<Snapshot['rootReader']> {
  const counts: NonNullable<Snapshot['rootReader']> = { abandonedThreads: r.abandoned, blockedThreads: r.blockedThreads };
  if (r.watchesMounts) counts.skippedMountTables = r.quietMountTables;
  return counts;
}
