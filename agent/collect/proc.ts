/**
 * The proc and bpm collectors: faults that are not network state, from ONE /proc scan per collection shared by
 * every pod (agent/proc/). `proc` scans, gathers each pod's facts (chaos processes, IOChaos mounts, DNSChaos,
 * JVMChaos) and merges their findings into the pod's report after the netns collector judged it; `bpm` builds
 * chaos-daemon's background-process view from the same scan.
 *
 * A pod's own trouble (a refused path in its root, a cut mount table) is recorded on that pod (its report's
 * `errors`, `proc.sources`, an `unknown` verdict unless something proves `active`), never as a collector failure;
 * the collector fails only when the scan itself cannot run or is cut.
 */
import { mergeProcReport, procErrors } from '../chaos/processes.js';
import { AgentError, errorMessage } from '../errors.js';
import { bpmFromScan } from '../proc/bpm.js';
import { collectPodFacts, type FactsOptions } from '../proc/facts.js';
import type { PodProcFacts } from '../proc/model.js';
import { otherNetnsNote } from '../proc/other-netns.js';
import { otherPodsMatter } from '../proc/placement-scope.js';
import { KeptProcFiles } from '../proc/kept-files.js';
import { scanProc, type ProcScan, type ScanOptions } from '../proc/scan.js';
import { Slicer } from '../metrics/slicer.js';
import type { PodInfo } from '../runtime/types.js';
import type { PodReport } from '../snapshot.js';
import type { CollectContext, Collector, CollectorOutcome } from './collector.js';
import type { Draft } from './draft.js';

export interface ProcCollectorOptions {
  procRoot: string;
  /** Scan bounds (default: 65,536 processes, 3 s). */
  scan?: Omit<ScanOptions, 'procRoot' | 'detailPids' | 'signal' | 'previous' | 'kept'>;
  facts?: Omit<FactsOptions, 'procRoot'>;
  /** Where the last scan is kept across collections (absent: every scan reads every pod PID's details). */
  memo?: ProcScanMemo;
}

/** The pods' own PIDs: their details are read in the scan (the index needs their namespaces and cgroups). */
export function podPids(pods: readonly PodInfo[]): number[] {
  const out: number[] = [];
  for (const p of pods) {
    if (p.pid !== null) out.push(p.pid);
    for (const c of p.containers) if (c.pid !== null) out.push(c.pid);
  }
  return out;
}

/** The report with the pod's /proc facts merged in (a new object: reports may share chaos and errors arrays). */
export function withProcFacts(report: PodReport, pod: PodInfo, facts: PodProcFacts | null, why: string): PodReport {
  // Object.assign, not `{ ...report }`: on Node 20's V8 a property added (proc) to a spread copy takes a slow path
  // (~10 µs a report, measured; 110 per collection); the copy is the same own enumerable properties in the same order.
  const out: PodReport = Object.assign({}, report);
  out.chaos = mergeProcReport(report.chaos, facts, pod, why);
  if (facts === null) {
    out.errors = [...report.errors, `proc: ${why}`];
    return out;
  }
  out.proc = facts;
  out.errors = [...report.errors, ...procErrors(facts)];
  if (facts.otherNetns !== undefined && facts.otherNetns.length > 0) out.notes = [...(report.notes ?? []), ...facts.otherNetns.map(otherNetnsNote)];
  out.dnsChaos = facts.dns.filter((d) => d.backupNameservers !== null).map((d) => ({ container: d.container, pid: d.pid }));
  return out;
}

/**
 * The last /proc scan, kept by the caller from one collection to the next (serve): see read-process.ts reuseDetail; and the
 * processes' stat and cgroup files kept open for the next scan (kept-files.ts), closed by close().
 */
export class ProcScanMemo {
  last: ProcScan | null = null;
  readonly files = new KeptProcFiles();

  close(): void {
    this.files.close();
  }
}

/** What the proc collector gathered before merging: each pod's facts by sandbox id, or why there are none. */
/** The collection's scan, or why there is none. */
type Scanned = { scan: ProcScan; error?: undefined } | { scan?: undefined; error: string };

/**
 * The /proc scan: needs only the runtime collector's pods (draft.pods, allPods), so it runs on the main thread
 * alongside the namespace reads (Collector.start). Never rejects: a failure is the returned error.
 */
async function scanOnly(opts: ProcCollectorOptions, draft: Draft, ctx: CollectContext): Promise<Scanned> {
  const all = draft.allPods.length > 0 ? draft.allPods : draft.pods;
  try {
    const scan = await scanProc({ ...opts.scan, procRoot: opts.procRoot, detailPids: podPids(all), previous: opts.memo?.last ?? null, kept: opts.memo?.files ?? null, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (opts.memo) opts.memo.last = scan;
    return { scan };
  } catch (err) {
    return { error: `the /proc scan failed: ${errorMessage(err)}` };
  }
}

/**
 * Every pod's facts from the scan. After the namespace reads, not alongside them: the containers' roots are read on
 * a thread the netlink pool lends, and a lease goes before queued reads (pool.ts), so started early they would hold
 * the reads up, and a root stuck on a dead FUSE mount would hold them for the root reader's whole budget.
 */
async function factsOf(opts: ProcCollectorOptions, scan: ProcScan, draft: Draft, ctx: CollectContext): Promise<{ facts: Map<string, PodProcFacts> | null; error: string | undefined }> {
  let all = draft.allPods.length > 0 ? draft.allPods : draft.pods;
  try {
    const factsOpts = { ...opts.facts, procRoot: opts.procRoot };
    let r = await collectPodFacts(scan, all, factsOpts, draft.pods);
    // Only the reported pods were resolved (inspect NS/POD): placed without the others' PIDs unless that could
    // change their facts (placement-scope.ts); then every pod is resolved and the facts computed again.
    const why = draft.resolveAll ? otherPodsMatter(scan, r.index, r.facts.values()) : null;
    if (draft.resolveAll && why !== null) {
      ctx.log.debug({ why }, 'placing processes needs every pod: resolving them');
      try {
        all = draft.allPods = await draft.resolveAll();
      } catch (err) {
        throw new AgentError('PROC_PLACEMENT', `the other pods, needed to place processes (${why}), could not be resolved: ${errorMessage(err)}`, { cause: err });
      }
      draft.resolveAll = null;
      r = await collectPodFacts(scan, all, factsOpts, draft.pods);
    }
    draft.proc = { scan, index: r.index };
    return { facts: r.facts, error: scan.complete ? undefined : `the /proc scan is incomplete: ${scan.incomplete ?? 'unknown reason'}` };
  } catch (err) {
    return { facts: null, error: `the /proc scan failed: ${errorMessage(err)}` };
  }
}

export function procCollector(opts: ProcCollectorOptions): Collector {
  return new ProcCollector(opts);
}

/** A class: its methods are one function each for the process's life, not closures per collection (collect/netns.ts readGroup). */
class ProcCollector implements Collector {
  readonly name = 'proc';
  private scanning: Promise<Scanned> | null = null;
  constructor(private readonly opts: ProcCollectorOptions) {}

  // The scan does not need the namespace reads: started as soon as the netns collector has posted them, the main
  // thread's scan runs while the reader thread reads (collection wall, not CPU). Timed from here.
  start(draft: Draft, ctx: CollectContext): void {
    this.scanning ??= scanOnly(this.opts, draft, ctx);
  }

  async collect(draft: Draft, ctx: CollectContext): Promise<CollectorOutcome> {
    const opts = this.opts;
    const scanned = await (this.scanning ??= scanOnly(opts, draft, ctx));
    const { facts, error } = scanned.scan === undefined ? { facts: null, error: scanned.error } : await factsOf(opts, scanned.scan, draft, ctx);
    // ~0.1 ms per pod (merging the findings, copying the report): yields between slices at 110 pods. No signal:
    // every report gets its facts or its error, never half of them. After the netns collector: its reports.
    const slicer = new Slicer();
    for (const p of draft.pods) {
      if (slicer.due) await slicer.point(); // no promise per pod when the slice is not used up
      const report = draft.reports.get(p);
      if (report) draft.reports.set(p, withProcFacts(report, p, facts?.get(p.sandboxId) ?? null, error ?? 'no facts'));
    }
    return error === undefined ? { success: true } : { success: false, error };
  }
}

export function bpmCollector(): Collector {
  return new BpmCollector();
}

class BpmCollector implements Collector {
  readonly name = 'bpm';

  async collect(draft: Draft): Promise<CollectorOutcome> {
    if (draft.proc === null) return { success: false, error: 'no /proc scan in this collection (proc collector off or failed)' };
    // chaos-daemon's own pod and the processes' owners need every pod's PIDs: not built from a partial listing.
    if (draft.resolveAll !== null) return { success: false, error: 'only the pods asked for were resolved (inspect NS/POD, diff)' };
    const bpm = (draft.bpm = bpmFromScan(draft.proc.scan, draft.allPods.length > 0 ? draft.allPods : draft.pods, draft.proc.index));
    // Counted, but maybe short: say so (the counts stay, as lower bounds).
    if (bpm.unknown.length > 0) return { success: false, error: `command line of chaos-daemon's children ${bpm.unknown.join(', ')} unknown (${draft.proc.scan.cmdlineUnread.get(bpm.unknown[0]!)!.message}): the bpm counts may miss them` };
    return { success: true };
  }
}
