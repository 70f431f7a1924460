/**
 * The netns collector: every distinct network namespace read once (pods sharing a namespace, by inode, share the
 * read), judged, and attached to its pods.
 *
 * - One slow namespace costs that namespace, never the node: each read has the reader's own time budget
 *   (--namespace-timeout), and reads still running at the collection's deadline are abandoned (aborted) and
 *   reported unread, so the collection is still published.
 * - The node's own namespace (host-network pods) is read once. With `hostSharing: 'summarise'` (serve, metrics,
 *   inspect --all) it is reported once as `draft.host`, and each host-network pod carries the verdict with a note
 *   instead of a copy of the node's rules (kube-proxy can hold thousands); `full` (inspect POD) gives each the state.
 */
import { setMaxListeners } from 'node:events';
import { readdir } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { NetnsReader, ReadTarget } from '../netns/read.js';
import { emptyNetnsState, type NetnsState } from '../netns/state.js';
import type { PodInfo } from '../runtime/types.js';
import { HOST_SUMMARY_NOTE, type PodReport } from '../snapshot.js';
import type { CollectContext, Collector, CollectorOutcome } from './collector.js';
import type { Draft } from './draft.js';
import type { FingerprintContext } from '../chaos/fingerprint.js';
import { baseOf, judge, reportFrom, unreadReport } from './report.js';
import type { VerdictMemo } from './verdict-memo.js';

export interface NetnsCollectorOptions {
  reader: NetnsReader;
  hostSharing?: 'summarise' | 'full';
  /** The node's /run/netns (under --host-root), listed once per collection: HTTPChaos's proxy namespaces `<p>ns`. */
  namedNetnsDir?: string;
  /** Last collection's verdicts (kept by the caller across collections): reused for the same state objects. */
  verdicts?: VerdictMemo;
}

/** The node's named-namespace directory under --host-root. */
export function namedNetnsDir(hostRoot: string): string {
  return `${hostRoot.replace(/\/+$/, '')}/run/netns`;
}

/** Names in the node's /run/netns; undefined when not configured or not readable (findings then say "not listed"). */
export async function listNamedNetns(dir: string | undefined, log: Logger): Promise<string[] | undefined> {
  if (dir === undefined) return undefined;
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return []; // no named namespace on this node
    log.warn({ err: errorMessage(err), dir }, 'cannot list named network namespaces');
    return undefined;
  }
}

interface Group {
  pods: PodInfo[];
  host: boolean;
}

function targetOf(pods: PodInfo[]): ReadTarget {
  const first = pods[0]!;
  // The sandbox PID when known; otherwise a running container's (same namespace; the reader checks the inode).
  const pid = first.pid ?? first.containers.find((c) => c.pid !== null && c.state === 'CONTAINER_RUNNING')?.pid ?? null;
  return { path: first.netns!.path, inode: first.netns!.inode, pid };
}

/**
 * The collection's reads against its deadline and its signal, with ONE timer and ONE abort listener for the whole
 * collection (one of each per namespace put 110 listeners on the collection's signal: MaxListenersExceededWarning).
 * Every read of the collection gets the gate's one signal (the pool listens on it only while that read is pending):
 * reads are only ever aborted all together, at the deadline or on the collection's abort, so one AbortController per
 * read (~1.5 KB with its signal and listener lists, 110 per collection) bought nothing. The reads still running then
 * are aborted and resolve with null (late) or with whatever the reader answers for an aborted read.
 */
export class ReadGate {
  /** Aborted at the deadline or on the collection's abort; the reads' signal. */
  private readonly ac = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: () => void;
  private readonly late: Promise<null>;
  private expired = false;

  constructor(deadline: number, private readonly signal?: AbortSignal) {
    let resolveLate!: (v: null) => void;
    this.late = new Promise<null>((resolve) => {
      resolveLate = resolve;
    });
    // Each pending read listens on the one signal (110 at a time is the design, not a leak).
    setMaxListeners(0, this.ac.signal);
    this.timer = setTimeout(() => {
      this.expired = true;
      resolveLate(null);
      this.ac.abort();
    }, Math.max(0, deadline - performance.now()));
    this.onAbort = () => this.ac.abort(signal?.reason);
    if (signal?.aborted) this.ac.abort(signal.reason);
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The read, or null when the deadline came first (the read is then aborted: the gate's signal is). */
  read(reader: NetnsReader, target: ReadTarget): Promise<NetnsState | null> {
    if (this.expired) return Promise.resolve(null);
    return Promise.race([reader.read(target, this.ac.signal), this.late]);
  }

  close(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** One collection's namespace reads: what readGroup needs besides its group, and the counts it keeps. */
interface NetnsRun {
  opts: NetnsCollectorOptions;
  draft: Draft;
  ctx: CollectContext;
  gate: ReadGate;
  namedNetns: string[] | undefined;
  fctx: FingerprintContext;
  incomplete: number;
  unreadable: number;
  late: number;
}

/**
 * Read one namespace and attach its report to its pods. Module-level, not a closure made per collection: V8 keeps
 * a closure's optimised code only while a closure of that site is alive, so a per-collection closure this size was
 * compiled again by TurboFan after every full GC (20-44 ms of V8's threads each time, every ~25 s at 110 pods).
 */
async function readGroup(run: NetnsRun, group: Group, target: ReadTarget): Promise<void> {
  const { draft, ctx, opts } = run;
  if (ctx.signal?.aborted) {
    for (const p of group.pods) draft.reports.set(p, unreadReport(p, 'collection aborted'));
    return;
  }
  const state = await run.gate.read(opts.reader, target);
  if (state === null) {
    run.late++;
    for (const p of group.pods) draft.reports.set(p, unreadReport(p, 'not read before the collection deadline'));
    return;
  }
  const sources = state.sources ?? [];
  let complete = 0;
  let failed = 0;
  for (const s of sources) {
    if (s.status === 'complete') complete++;
    else if (s.status === 'failed' && s.reason !== 'vanished') failed++;
  }
  if (complete < sources.length) run.incomplete++;
  if (sources.length > 0 && failed === sources.length) run.unreadable++;
  const first = group.pods[0]!;
  const gctx = group.host ? { ...run.fctx, nodeNamespace: true } : run.fctx;
  const chaos = opts.verdicts ? opts.verdicts.verdict(first.netns!, state, run.namedNetns, () => judge(state, ctx.log, gctx), group.host) : judge(state, ctx.log, gctx);
  if (group.host && (opts.hostSharing ?? 'summarise') === 'summarise') {
    draft.host = { ...reportFrom({ namespace: '', name: '', runtime: first.runtime, netns: first.netns, pod: null }, state, chaos, state.spawns), hostNetwork: true };
    const summary = emptyNetnsState();
    for (const p of group.pods) {
      const r: PodReport = { ...reportFrom(baseOf(p), summary, chaos, 0), hostNetwork: true, hostSummary: true, notes: [HOST_SUMMARY_NOTE] };
      r.errors = draft.host.errors;
      draft.reports.set(p, r);
    }
    return;
  }
  for (let i = 0; i < group.pods.length; i++) {
    const p = group.pods[i]!;
    const r = reportFrom(baseOf(p), state, chaos, i === 0 ? state.spawns : 0);
    if (group.host) r.hostNetwork = true;
    draft.reports.set(p, r);
  }
}

/** A class, not an object literal made per collection: its collect() is one function for the process's life (readGroup). */
class NetnsCollector implements Collector {
  readonly name = 'netns';
  constructor(private readonly opts: NetnsCollectorOptions) {}

  async collect(draft: Draft, ctx: CollectContext): Promise<CollectorOutcome> {
    const opts = this.opts;
    const groups = new Map<number, Group>();
    for (const p of draft.pods) {
      if (!p.netns) {
        draft.reports.set(p, unreadReport(p, `network namespace not resolved: ${p.reason ?? 'unknown reason'}`));
        continue;
      }
      const g = groups.get(p.netns.inode);
      if (g) {
        g.pods.push(p);
        g.host ||= p.hostNetwork;
      } else {
        groups.set(p.netns.inode, { pods: [p], host: p.hostNetwork });
      }
    }
    const namedNetns = await listNamedNetns(opts.namedNetnsDir, ctx.log);
    const run: NetnsRun = {
      opts, draft, ctx, gate: new ReadGate(ctx.deadline, ctx.signal), namedNetns,
      fctx: namedNetns === undefined ? {} : { namedNetns }, incomplete: 0, unreadable: 0, late: 0,
    };
    const reads: Promise<void>[] = [];
    const targets: ReadTarget[] = [];
    for (const g of groups.values()) {
      const target = targetOf(g.pods);
      targets.push(target);
      reads.push(readGroup(run, g, target));
    }
    try {
      await Promise.all(reads);
    } finally {
      run.gate.close();
      opts.verdicts?.endCollection();
      // The reader keeps these namespaces' sockets open for the next collection, and no other's.
      if (!ctx.signal?.aborted) opts.reader.retain?.(targets);
    }
    if (ctx.signal?.aborted) return { success: false, error: 'aborted' };
    // A pod's own problem (a source cut at its cap, a vanished pod) is counted on that pod, not as an agent
    // failure; the collector fails when reads could not happen at all or ran out of time.
    draft.incompleteNamespaces = run.incomplete;
    const problems: string[] = [];
    if (run.unreadable > 0) problems.push(`${run.unreadable} of ${groups.size} namespaces could not be read at all`);
    if (run.late > 0) problems.push(`${run.late} of ${groups.size} namespaces not read before the collection deadline`);
    return problems.length > 0 ? { success: false, error: problems.join('; ') } : { success: true };
  }
}

export function netnsCollector(opts: NetnsCollectorOptions): Collector {
  return new NetnsCollector(opts);
}
