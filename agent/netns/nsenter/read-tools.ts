/**
 * The tools reader: one namespace read through nsenter and the tools (iptables-*-save, nft, ipset, tc, ip), the
 * fallback of the netlink reader and `--reader nsenter`. It produces the same NetnsState model as the netlink
 * reader (the differential tests hold both to that), source by source, each with its completeness.
 *
 * The namespace file is opened once (an open that never blocks, ns-file.ts) and checked as an nsfs file and by
 * inode; every tool enters it through that fd (tools.ts), so a recycled PID can never attribute another namespace's
 * state to a pod. Each tool has the per-tool timeout, cut to
 * what is left of the namespace's time budget, and an output cap per source. Tools run one after the other.
 */
import { closeSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { NetnsCommandError, errorMessage } from '../../errors.js';
import { NsFileError, openNamespaceFile } from '../ns-file.js';
import { emptyNetnsState, type NetnsState, type SourceName, type SourceStatus } from '../state.js';
import { runTool, type ToolRun } from './tools.js';
import { TOOL_SOURCES } from './tool-sources.js';

export interface ToolsReaderOptions {
  nsenterPath: string;
  /** Timeout of one tool, ms (cut to what is left of the namespace budget). */
  toolTimeoutMs: number;
  /** Output cap per source (per tool), bytes. */
  maxSourceBytes: number;
  /** Time budget of one namespace read, ms. */
  budgetMs: number;
  /** Called after every tool run (metrics: per-tool duration and failures). */
  onCommand?: (run: ToolRun) => void;
}

export interface ToolsTarget {
  path: string;
  inode: number | null;
  /** A process in the namespace: /proc/<pid>/net says which legacy tables exist without a process. */
  pid: number | null;
  procRoot: string;
}

/** What a tool source sees: a runner bound to the namespace, facts known before any tool ran, the state to fill. */
export interface ToolContext {
  /** Run a tool in the namespace; `maxOutputBytes` lowers the output cap of this run (never above the reader's). */
  run(argv: readonly string[], input?: string, maxOutputBytes?: number): Promise<ToolRun>;
  /** The output cap of one run, bytes (ToolsReaderOptions.maxSourceBytes). */
  maxOutputBytes: number;
  /** Legacy xtables tables per family from /proc/<pid>/net (null: unknown, run the tool). */
  legacyTables: { ipv4: string[] | null; ipv6: string[] | null };
  /** Interface names, once the links source read them (tc asks about each). */
  interfaces: string[] | null;
  /** `nft list tables` (family, name), once the nftables source probed it (null: not probed or failed). */
  nftTables: { family: string; name: string }[] | null;
  state: NetnsState;
}

export interface ToolSource {
  sources: SourceName[];
  read(ctx: ToolContext): Promise<SourceStatus[]>;
}

/** The status of a source read by one tool run. */
export function statusOf(source: SourceName, run: ToolRun): SourceStatus {
  if (run.error === null) return { source, status: 'complete' };
  if (run.truncated) return { source, status: 'truncated', reason: 'output_limit', message: run.error.message };
  return { source, status: 'failed', reason: run.error.reason, message: run.error.message };
}

/** Names in /proc/<pid>/net/ip_tables_names (one per line). */
export function parseTableNames(text: string): string[] {
  return text.split('\n').map((s) => s.trim()).filter((s) => /^[a-z_]{1,32}$/.test(s));
}

async function procTables(procRoot: string, pid: number, file: string): Promise<string[] | null> {
  try {
    return parseTableNames((await readFile(posix.join(procRoot, String(pid), 'net', file))).subarray(0, 65536).toString('utf8'));
  } catch (err) {
    // A missing file means the module is not loaded: no legacy table of that family in any namespace.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return null;
  }
}

/** True while `path` still names the namespace `inode` (false once the pod's process or netns file is gone). */
function namesInode(path: string, inode: number): boolean {
  try {
    return statSync(path).ino === inode;
  } catch (err) {
    void err; // ENOENT / ESRCH: gone; anything else: cannot tell, treated as gone only for the wording of failures
    return false;
  }
}

/**
 * The pod went away during the read (its namespace lived on through our fd while CNI tore its interfaces down):
 * what failed failed because of that (`tc: Cannot find device "eth0"`), so it is reported as vanished.
 */
function markVanished(state: NetnsState): void {
  const why = 'the namespace vanished during the read';
  for (const x of state.sources!) {
    if (x.status === 'complete') continue;
    x.reason = 'vanished';
    x.message = `${x.message ?? x.status} (${why})`;
  }
  for (const e of state.errors) {
    e.reason = 'vanished';
    e.message = `${e.message} (${why})`;
  }
  state.notes!.push(`the pod's network namespace vanished during the read`);
}

export class ToolsReader {
  /** Processes spawned (one nsenter per tool run). */
  spawns = 0;

  constructor(private readonly opts: ToolsReaderOptions) {}

  /**
   * Read one namespace. Throws NetnsCommandError (vanished / spawn) only when the namespace cannot be opened or its
   * file is not a namespace (ns-file.ts: the open never blocks, whatever the path names).
   */
  async read(target: ToolsTarget, signal?: AbortSignal): Promise<NetnsState> {
    let fd: number;
    let inode: number;
    try {
      ({ fd, inode } = openNamespaceFile(target.path, target.inode));
    } catch (err) {
      // Not a namespace file (a FIFO, a plain file): refused as the kernel would refuse setns on it, before any tool.
      const reason = err instanceof NsFileError && err.problem === 'vanished' ? 'vanished' : 'spawn';
      throw new NetnsCommandError('nsenter', reason, errorMessage(err), { cause: err });
    }
    try {
      const state = await this.readOpen(fd, inode, target, signal);
      if (state.sources!.some((x) => x.status !== 'complete') && !namesInode(target.path, inode)) markVanished(state);
      return state;
    } finally {
      closeSync(fd);
    }
  }

  private async readOpen(fd: number, inode: number, target: ToolsTarget, signal?: AbortSignal): Promise<NetnsState> {
    const deadline = performance.now() + this.opts.budgetMs;
    const state = emptyNetnsState();
    state.reader = 'nsenter';
    state.sources = [];
    let legacy: ToolContext['legacyTables'] = { ipv4: null, ipv6: null };
    if (target.pid !== null) legacy = await this.legacyFacts(target, inode);
    const ctx: ToolContext = {
      legacyTables: legacy,
      interfaces: null,
      nftTables: null,
      state,
      maxOutputBytes: this.opts.maxSourceBytes,
      run: async (argv, input, maxOutputBytes) => {
        const left = Math.floor(deadline - performance.now());
        const r = await runTool(fd, argv, {
          nsenterPath: this.opts.nsenterPath,
          timeoutMs: Math.min(this.opts.toolTimeoutMs, left),
          maxOutputBytes: Math.min(this.opts.maxSourceBytes, maxOutputBytes ?? Infinity),
          ...(input !== undefined ? { input } : {}),
          ...(signal ? { signal } : {}),
        });
        if (left > 0) {
          this.spawns++;
          state.spawns++;
        }
        this.opts.onCommand?.(r);
        return r;
      },
    };
    for (const src of TOOL_SOURCES) {
      const statuses = await src.read(ctx);
      for (const s of statuses) {
        state.sources.push(s);
        if (s.status !== 'complete') state.errors.push({ tool: s.source, reason: s.reason ?? s.status, message: s.message ?? s.status });
      }
    }
    return state;
  }

  /** /proc/<pid>/net/ip{,6}_tables_names, trusted only when the PID is still in the namespace being read. */
  private async legacyFacts(target: ToolsTarget, inode: number): Promise<ToolContext['legacyTables']> {
    const pid = target.pid!;
    try {
      const { ino } = await stat(posix.join(target.procRoot, String(pid), 'ns', 'net'));
      if (ino !== inode) return { ipv4: null, ipv6: null };
    } catch (err) {
      void err; // the PID is gone or unreadable: the tools decide for themselves (both legacy saves run)
      return { ipv4: null, ipv6: null };
    }
    const [ipv4, ipv6] = await Promise.all([procTables(target.procRoot, pid, 'ip_tables_names'), procTables(target.procRoot, pid, 'ip6_tables_names')]);
    return { ipv4, ipv6 };
  }
}
