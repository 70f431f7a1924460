/**
 * The one entry point the rest of the agent uses to read a network namespace: `--reader auto|netlink|nsenter`.
 *
 * - netlink: in-process, from a pool of worker threads (netlink/pool.ts): setns + netlink / getsockopt dumps,
 *   decoded into the NetnsState model; no process per read.
 * - nsenter: nsenter + the tools, one plain process per tool (nsenter/read-tools.ts).
 * - auto (default): netlink; a namespace whose rules the decoders cannot render exactly (`opaque`) is read again
 *   through the tools, and if the netlink path cannot work on this node at all (koffi cannot load, setns or the
 *   sockets are refused), every read goes through the tools from then on. Each fallback is counted by reason.
 *
 * Where the netlink reads run: worker threads (netlink/pool.ts, `serve`), or the calling thread (netlink/in-thread.ts)
 * for one-shot commands, which saves a worker's start-up. The tools reader (and execa) is loaded only when a read
 * goes through the tools.
 *
 * Never throws: a namespace that cannot be read gives a state whose sources say why.
 */
import { NetlinkError, NetnsCommandError, ValidationError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { pathProblem } from '../runtime/netns-resolve.js';
import { Semaphore } from '../map-limit.js';
import type { NetlinkPool, PoolResult, ThreadLease } from './netlink/pool.js';
import type { NetlinkJob } from './netlink/read-namespace.js';
import type { ToolsReader } from './nsenter/read-tools.js';
import type { ToolRun } from './nsenter/tools.js';
import { ALL_SOURCES, emptyNetnsState, type NetnsState } from './state.js';

export type ReaderMode = 'auto' | 'netlink' | 'nsenter';
export const READER_MODES: readonly ReaderMode[] = ['auto', 'netlink', 'nsenter'];

/** Why `auto` read a namespace through the tools. */
/** opaque: something the netlink decoders cannot give exactly (a rule, a source); unavailable: netlink cannot work on
 * this node; failed: one netlink read failed. */
export type FallbackReason = 'opaque' | 'unavailable' | 'failed';

export interface ReaderConfig {
  mode: ReaderMode;
  /** Namespace reads at once (worker threads, or tool sequences). */
  concurrency: number;
  nsenterPath: string;
  /** Timeout of one tool (tools reader). */
  toolTimeoutMs: number;
  /** Bytes kept per source at most. */
  maxSourceBytes: number;
  /** Time budget of one namespace read. */
  budgetMs: number;
  procRoot: string;
  /** Where netlink reads run: a pool of worker threads (default) or the calling thread (one-shot commands). */
  netlinkThread?: NetlinkThread;
}

export type NetlinkThread = 'workers' | 'caller';

export interface ReaderHooks {
  onCommand?: (run: ToolRun) => void;
  /** Every namespace read: its reader, wall time, the worker thread's CPU (netlink), and why sources failed. */
  onRead?: (e: { reader: 'netlink' | 'nsenter'; seconds: number; cpuSeconds: number; failures: string[]; unchanged: boolean }) => void;
  onFallback?: (reason: FallbackReason, detail: string) => void;
  /** Where the netlink pool's threads say what the operator should know (fds an ended thread left that could not be closed). */
  log?: Logger;
}

export interface ReadTarget {
  /** The namespace file: /proc/<pid>/ns/net or a runtime's netns path (validated by the runtime layer). */
  path: string;
  /** The inode the runtime layer resolved (null: accept what the path names, e.g. inspect --netns). */
  inode: number | null;
  /** A process in the namespace (lets the tools reader skip legacy saves /proc shows are empty). */
  pid: number | null;
}


/** A state for a namespace that could not be read at all: every source failed with the reason. */
export function unreadableState(reader: 'netlink' | 'nsenter', reason: string, message: string): NetnsState {
  const state = emptyNetnsState();
  state.reader = reader;
  state.sources = ALL_SOURCES.map((source) => ({ source, status: 'failed', reason, message }));
  state.errors.push({ tool: reader === 'netlink' ? 'netlink' : 'nsenter', reason, message });
  return state;
}

/** Control characters: never in a real netns path. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Check a netns path before it touches the filesystem: absolute, no `..` component, bounded, no control character. */
export function validateNetnsPath(p: unknown): string {
  const problem = pathProblem(p, CONTROL_CHARS);
  if (problem === 'invalid') throw new ValidationError(`netns path: invalid ${JSON.stringify(p)}`.slice(0, 200));
  if (problem === 'unsafe') throw new ValidationError(`netns path: unsafe ${JSON.stringify((p as string).slice(0, 200))}`);
  return p as string;
}

/** True when some rule (or an ipset of an unknown type) could not be rendered exactly by the netlink decoders. */
export function hasOpaqueRules(state: NetnsState): boolean {
  if (state.ipsets.sets.some((s) => s.opaque !== undefined)) return true;
  return state.iptables.some((d) => d.tables.some((t) => t.chains.some((c) => c.rules.some((r) => (r.opaque?.length ?? 0) > 0))));
}

/** What the netlink read could not give exactly: opaque rules, or sources it does not read. Null when nothing. */
export function netlinkGap(state: NetnsState): string | null {
  const unsupported: string[] = [];
  for (const s of state.sources ?? []) if (s.reason === 'unsupported') unsupported.push(s.source);
  if (unsupported.length > 0) return `sources the netlink reader does not read: ${unsupported.join(', ')}`;
  if (hasOpaqueRules(state)) return 'rules the netlink decoders cannot render exactly';
  if ((state.tc.opaque?.length ?? 0) > 0) return `tc state the netlink decoders cannot render exactly: ${state.tc.opaque![0]}`;
  return null;
}

/** A netlink failure that will happen for every namespace on this node (not this namespace's problem). */
function isSystemic(err: unknown): boolean {
  if (err instanceof NetlinkError) return err.op === 'setns' || err.op === 'netlink pool' || (err.op === 'netlink read' && /koffi|Cannot find module|libc/.test(err.message));
  return true;
}

export class NetnsReader {
  reads = 0;
  readonly fallbacks = new Map<FallbackReason, number>();
  private pool: Promise<NetlinkPool> | null = null;
  private poolLoaded: NetlinkPool | null = null;
  private closing: Promise<void> = Promise.resolve();
  private tools: Promise<ToolsReader> | null = null;
  private toolsLoaded: ToolsReader | null = null;
  private readonly toolSlots: Semaphore;
  private netlinkBroken: string | null = null;

  constructor(
    readonly config: ReaderConfig,
    private readonly hooks: ReaderHooks = {},
  ) {
    this.toolSlots = new Semaphore(config.concurrency);
  }

  /** Processes spawned by the tools reader so far. */
  get spawns(): number {
    return this.toolsLoaded?.spawns ?? 0;
  }

  /** Netlink threads started beyond the first so far, every running one being slow or stuck (pool.ts). */
  get spareThreads(): number {
    return this.poolLoaded?.spares ?? 0;
  }

  /**
   * Lends one of this reader's pool threads whole to another synchronous reader (the root reader,
   * agent/proc/root-reader.ts: one isolate for both); null when this reader runs no pool (tools only, or netlink on
   * the calling thread). A lease fails while netlink is off for this node (its threads could not start).
   */
  threadLease(): (() => Promise<ThreadLease>) | null {
    if (this.config.mode === 'nsenter' || this.config.netlinkThread === 'caller') return null;
    return async () => {
      if (this.netlinkBroken !== null) throw new NetlinkError('netlink pool', 'spawn', `netlink is off on this node: ${this.netlinkBroken}`);
      return (await this.workers()).lease();
    };
  }

  /** Why the netlink path is off for this node in `auto` (null while it works). */
  get netlinkUnavailable(): string | null {
    return this.netlinkBroken;
  }

  async read(target: ReadTarget, signal?: AbortSignal): Promise<NetnsState> {
    this.reads++;
    try {
      validateNetnsPath(target.path);
    } catch (err) {
      return unreadableState(this.config.mode === 'nsenter' ? 'nsenter' : 'netlink', 'spawn', errorMessage(err));
    }
    const mode = this.config.mode;
    if (mode === 'nsenter' || (mode === 'auto' && this.netlinkBroken !== null)) return this.viaTools(target, signal);
    let state: NetnsState;
    try {
      state = await this.viaNetlink(target, signal);
    } catch (err) {
      const reason = err instanceof NetlinkError ? err.reason : 'spawn';
      if (mode === 'netlink' || reason === 'vanished' || reason === 'timeout') return unreadableState('netlink', reason, errorMessage(err));
      if (isSystemic(err)) {
        this.netlinkBroken = errorMessage(err);
        this.fallback('unavailable', this.netlinkBroken);
      } else {
        this.fallback('failed', errorMessage(err));
      }
      return this.viaTools(target, signal);
    }
    const gap = mode === 'auto' ? netlinkGap(state) : null;
    if (gap !== null) {
      this.fallback('opaque', `${target.path}: ${gap}`);
      const tools = await this.viaTools(target, signal);
      tools.notes!.push(`read through the tools: ${gap}`);
      return tools;
    }
    return state;
  }

  /**
   * After a collection: the namespaces it read (`targets`). The pool's threads keep the sockets of these open for the
   * next one and close the others' (netlink/sessions.ts). Nothing to do without a pool.
   */
  retain(targets: readonly ReadTarget[]): void {
    this.poolLoaded?.retain(targets);
  }

  /**
   * Terminate the pool's threads (a later read starts a new pool). Every call resolves only once every close so far
   * is done: a command that closed on abort and closes again at its end waits for the first one, so it never exits
   * while a thread is still being terminated (process.exit() would join it, or abort the process while it loads
   * koffi: worker-loaded.ts).
   */
  close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    // A pool that could not even load has nothing to close (its reads already failed with the reason).
    if (p) this.closing = Promise.all([this.closing, p.then((pool) => pool.close(), () => undefined)]).then(() => undefined);
    return this.closing;
  }

  private fallback(reason: FallbackReason, detail: string): void {
    this.fallbacks.set(reason, (this.fallbacks.get(reason) ?? 0) + 1);
    this.hooks.onFallback?.(reason, detail);
  }

  private async viaNetlink(target: ReadTarget, signal?: AbortSignal): Promise<NetnsState> {
    const job: NetlinkJob = { path: target.path, inode: target.inode, maxSourceBytes: this.config.maxSourceBytes, budgetMs: this.config.budgetMs };
    const t0 = performance.now();
    let r: PoolResult;
    if (this.config.netlinkThread === 'caller') {
      if (signal?.aborted) throw new NetlinkError('netlink read', 'timeout', 'aborted before it started');
      r = await this.onThisThread(job);
    } else {
      r = await (await this.workers()).read(job, signal);
    }
    // Failures of the netlink read itself (a source the reader does not cover is not a failure: auto falls back).
    // A loop, not per-call closures, as netlinkGap (see chaos/processes.ts: V8 recompiles those).
    const failures: string[] = [];
    for (const s of r.state.sources ?? []) {
      if (s.status !== 'complete' && s.reason !== 'unsupported') failures.push(s.reason ?? (s.status === 'truncated' ? 'output_limit' : 'spawn'));
    }
    this.hooks.onRead?.({ reader: 'netlink', seconds: (performance.now() - t0) / 1000, cpuSeconds: r.cpuSeconds, failures, unchanged: r.unchanged });
    return r.state;
  }

  /** The worker pool, loaded on first use (node:worker_threads too). */
  private workers(): Promise<NetlinkPool> {
    this.pool ??= import('./netlink/pool.js').then(
      ({ NetlinkPool }) => (this.poolLoaded = new NetlinkPool({ size: this.config.concurrency, ...(this.hooks.log ? { log: this.hooks.log } : {}) })),
      (err: unknown) => {
        throw new NetlinkError('netlink pool', 'spawn', `cannot load the netlink pool: ${errorMessage(err)}`, { cause: err });
      },
    );
    return this.pool;
  }

  /** The in-thread reader, loaded on first use (koffi and the decoders are loaded only then). */
  private async onThisThread(job: NetlinkJob): Promise<PoolResult> {
    let mod: typeof import('./netlink/in-thread.js');
    try {
      mod = await import('./netlink/in-thread.js');
    } catch (err) {
      throw new NetlinkError('netlink pool', 'spawn', `cannot load the netlink reader: ${errorMessage(err)}`, { cause: err });
    }
    return mod.readOnThisThread(job);
  }

  /** The tools reader, loaded on first use: execa and the text parsers cost nothing to reads that never need them. */
  private toolsReader(): Promise<ToolsReader> {
    this.tools ??= import('./nsenter/read-tools.js').then(({ ToolsReader }) => {
      this.toolsLoaded = new ToolsReader({
        nsenterPath: this.config.nsenterPath,
        toolTimeoutMs: this.config.toolTimeoutMs,
        maxSourceBytes: this.config.maxSourceBytes,
        budgetMs: this.config.budgetMs,
        ...(this.hooks.onCommand ? { onCommand: this.hooks.onCommand } : {}),
      });
      return this.toolsLoaded;
    });
    return this.tools;
  }

  private async viaTools(target: ReadTarget, signal?: AbortSignal): Promise<NetnsState> {
    let release: () => void;
    try {
      release = await this.toolSlots.acquire(signal);
    } catch (err) {
      // Aborted while every tool slot was taken (or before): this namespace is unread, as a netlink read aborted in
      // the pool's queue is; nothing ran, so nothing is observed.
      return unreadableState('nsenter', 'timeout', `aborted while waiting for a tool slot: ${errorMessage(err)}`);
    }
    const t0 = performance.now();
    try {
      const tools = await this.toolsReader();
      return await tools.read({ path: target.path, inode: target.inode, pid: target.pid, procRoot: this.config.procRoot }, signal);
    } catch (err) {
      const reason = err instanceof NetnsCommandError ? err.reason : 'spawn';
      return unreadableState('nsenter', reason, errorMessage(err));
    } finally {
      release();
      // Tool failures are reported per tool run (onCommand).
      this.hooks.onRead?.({ reader: 'nsenter', seconds: (performance.now() - t0) / 1000, cpuSeconds: 0, failures: [], unchanged: false });
    }
  }
}

/** The reader as the CLI and `serve` configure it. */
export function createNetnsReader(
  cfg: { reader: ReaderMode; netnsConcurrency: number; nsenterPath: string; commandTimeoutMs: number; maxOutputBytes: number; namespaceTimeoutMs: number; procRoot: string },
  hooks: ReaderHooks = {},
  opts: { netlinkThread?: NetlinkThread } = {},
): NetnsReader {
  return new NetnsReader({
    mode: cfg.reader,
    concurrency: cfg.netnsConcurrency,
    nsenterPath: cfg.nsenterPath,
    toolTimeoutMs: cfg.commandTimeoutMs,
    maxSourceBytes: cfg.maxOutputBytes,
    budgetMs: cfg.namespaceTimeoutMs,
    procRoot: cfg.procRoot,
    ...(opts.netlinkThread ? { netlinkThread: opts.netlinkThread } : {}),
  }, hooks);
}
