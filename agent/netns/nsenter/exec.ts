/**
 * The nsenter runner: every tool the agent runs inside a pod's network namespace goes through here. Failures are
 * NetnsCommandError with a reason (timeout | exit | output_limit | spawn | vanished) and the tool's stderr; at most
 * `concurrency` namespace commands run at once (a FIFO semaphore shared by `run` and `runScript`).
 *
 * `runScript` is the hot path and forks NOTHING from Node: the read script (read-script.ts: every tool of one
 * namespace in turn, each tool's output framed, frames.ts) is sent as a one-line request to one of at most
 * `concurrency` long-lived netns workers (worker.ts, worker-script.ts), bash processes that run
 *   timeout -k <grace> <timeoutMs x tools> nsenter --net=<netns> -- /bin/bash -c READ_SCRIPT bash <boundary> <steps>
 * and frame the reply. Why: Node/libuv spawns with fork(), whose cost grows with the parent's RSS and blocks the
 * event loop (bench: 1.15 ms per spawn at 48 MB RSS, 3.7 ms at 257 MB, ~12 ms under load at the agent's ~130 MB;
 * 0.6-1.3 s of main-thread time per collection at 110 pods); a small bash (a few MB) forks cheaply, and off Node's
 * event loop.
 * Workers are started lazily (one Node spawn each), restarted when one dies or had to be killed, and stopped after
 * `idleTimeoutMs` without work (default 60 s: longer than the collection interval, so a serving agent keeps them).
 * Timeouts: timeout(1) in the worker kills the request's whole process group at the deadline (reason timeout,
 * the worker lives on); Node's watchdog (deadline + grace + 1 s) kills the worker itself if it does not answer.
 * The output cap, an abort and killAll() also kill the worker (and every process of the request); a fresh worker
 * is started for the next request.
 * Counters: `spawns` = processes Node spawned (workers + `run` children), `reads` = read-script runs (each one
 * nsenter in a namespace), `active`/`maxActive` = namespace commands in flight.
 *
 * `run(netnsPath, argv)` (rare: inspect's one-off commands) still spawns `nsenter --net=<netns file> -- <tool>`
 * directly from Node (node:child_process `spawn`, argument array, shell false, minimal environment, timeout with
 * SIGTERM then SIGKILL after the grace period, output cap counted in bytes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { NetnsCommandError, ValidationError, errorMessage, type NetnsErrorReason } from '../../errors.js';
import { splitFrames, type Frame } from './frames.js';
import { FRAME_TOOL, NOT_FOUND_STATUS, READ_SCRIPT, STEP_TOOLS, isScriptStep, type ScriptStep } from './read-script.js';
import { procTreeCpuSeconds } from './proc-tree.js';
import { NetnsWorker, type WorkerReply } from './worker.js';
import { encodeRequest } from './worker-script.js';
import { pathProblem } from '../../runtime/netns-resolve.js';

/** Tools that may be run inside a namespace (argv[0]); anything else is refused before a spawn. */
export const ALLOWED_TOOLS: ReadonlySet<string> = new Set([
  'iptables-legacy-save',
  'ip6tables-legacy-save',
  'iptables-nft-save',
  'ip6tables-nft-save',
  'ipset',
  'tc',
  'ip',
  // `nft list tables`: one spawn tells whether the ip / ip6 nf_tables families hold any table, so the two
  // iptables-nft-save calls can be skipped on the (common) namespace without nft tables.
  'nft',
]);

/** The shell that runs READ_SCRIPT inside the namespace (needs bash >= 5 for $EPOCHREALTIME). */
export const SCRIPT_SHELL = '/bin/bash';
/** Tool label of a script failure that happened outside any tool's frame (nsenter, bash). */
export const SCRIPT_TOOL = 'nsenter';

export interface CommandEvent {
  tool: string;
  seconds: number;
  ok: boolean;
  reason?: NetnsErrorReason;
}

export interface NetnsRunnerOptions {
  /** nsenter executable (looked up on the child PATH when not absolute). */
  nsenterPath: string;
  /** Children running at once (>= 1). */
  concurrency: number;
  /** Per-command timeout; the child gets SIGTERM, then SIGKILL after `killGraceMs`. A script gets this x its tools. */
  timeoutMs: number;
  /** Cap on each of stdout and stderr, in bytes, per command (a script: per tool, and this x its tools in all). */
  maxOutputBytes: number;
  /** Called once per finished command (metrics, logs); for a script, once per tool it ran. Must not throw. */
  onCommand?: (e: CommandEvent) => void;
  /** Delay between SIGTERM and SIGKILL (default min(1000, timeoutMs)). */
  killGraceMs?: number;
  /** Stop a netns worker after this long without a request (default 60000; 0: keep workers until killAll). */
  idleTimeoutMs?: number;
}

export interface RunOptions {
  /** Written to the child's stdin (e.g. `tc -batch -`); `run` only (a script request has no stdin). */
  input?: string;
  /** Aborting rejects the call while queued and kills the child (a script: its worker) while running. */
  signal?: AbortSignal;
  /**
   * Called when the call actually starts a process in the namespace (nsenter: a `run` child, or a script request
   * handed to a worker): per-caller accounting of namespace entries on a shared runner.
   */
  onSpawn?: () => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** One tool's part of a script run. */
export interface ScriptFrame {
  /** Frame name (read-script.ts: nft, iptables-legacy-save, tc, tc-batch, ipset, ip-rule, ...). */
  name: string;
  /** Tool label (null for tc-batch, which runs no tool). */
  tool: string | null;
  stdout: string;
  stderr: string;
  /** Exit status; null when the frame never ended (the script was killed during this tool). */
  status: number | null;
  seconds: number;
  /** The tool's failure, classified like `run` (exit, spawn, output_limit, or the script's timeout/abort/stop). */
  error: NetnsCommandError | null;
}

export interface ScriptResult {
  /** Frames in the order the tools ran; a tool the script skipped (or never reached) has none. */
  frames: ScriptFrame[];
  /** The script ran every step to its end (then `error` is null). */
  complete: boolean;
  /**
   * The failure of the script as a whole (timeout, output cap, abort, runner stopped, namespace vanished, bash
   * missing, early exit). When it happened during a tool, the same object is that frame's `error`.
   */
  error: NetnsCommandError | null;
}

/** PATH of the child: where Debian and most images keep iproute2, iptables, ipset and nsenter. */
const CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ARG_MAX_LEN = 4096;
/** Room for the frame markers on top of the per-tool output caps. */
const MARKER_ALLOWANCE = 64 * 1024;
/** Node's watchdog on a script request: timeout(1)'s deadline + its kill grace + this. */
const WATCHDOG_SLACK_MS = 1000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Control characters: refused in a netns path (a worker request is one TAB-separated line). */
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Check a netns path before it reaches nsenter: absolute, no `..` component, bounded length, no control character
 * (NUL, TAB, newline...: none occurs in a real netns path, and a TAB or newline would split a worker request).
 */
export function validateNetnsPath(p: unknown): string {
  const problem = pathProblem(p, CONTROL_CHARS);
  if (problem === 'invalid') throw new ValidationError(`netns path: invalid ${JSON.stringify(p)}`.slice(0, 200));
  if (problem === 'unsafe') throw new ValidationError(`netns path: unsafe ${JSON.stringify((p as string).slice(0, 200))}`);
  return p as string;
}

function validateArgv(argv: readonly string[]): void {
  const tool = argv[0];
  if (tool === undefined || !ALLOWED_TOOLS.has(tool)) {
    throw new ValidationError(`netns tool ${JSON.stringify(String(tool)).slice(0, 80)} is not allowed (allowed: ${[...ALLOWED_TOOLS].join(', ')})`);
  }
  for (const a of argv) {
    if (typeof a !== 'string' || a.includes('\0') || a.length > ARG_MAX_LEN) {
      throw new ValidationError(`netns ${tool}: invalid argument ${JSON.stringify(String(a)).slice(0, 80)}`);
    }
  }
}

/** Steps: a non-empty list of distinct allow-listed tokens; a script request has no stdin. */
function validateSteps(steps: readonly unknown[], input: string | undefined): ScriptStep[] {
  if (!Array.isArray(steps) || steps.length === 0) throw new ValidationError('netns script: no steps');
  const seen = new Set<string>();
  for (const s of steps) {
    if (!isScriptStep(s)) {
      throw new ValidationError(`netns script step ${JSON.stringify(String(s)).slice(0, 80)} is not allowed (allowed: ${Object.keys(STEP_TOOLS).join(', ')})`);
    }
    if (seen.has(s)) throw new ValidationError(`netns script step ${s} given twice`);
    seen.add(s);
  }
  if (input !== undefined) throw new ValidationError('netns script: no input can be given (tc-auto builds the tc batch inside the namespace)');
  return steps as ScriptStep[];
}

/** nsenter's own failure to open the namespace file: the namespace (or its process) is gone. */
const NSENTER_VANISHED = /^nsenter: (?:cannot open|reassociate to namespace)[^\n]*(?:No such file or directory|No such process|Invalid argument)/m;
/** nsenter could not exec the tool (not installed in this image). */
const NSENTER_EXEC_FAILED = /^nsenter: failed to execute/m;
/** timeout(1) could not run nsenter (status 126/127), or the worker could not exec timeout(1). */
const TIMEOUT_EXEC_FAILED = /^timeout: failed to run command|exec: timeout: not found|timeout: command not found/m;
/** timeout(1)'s status when the deadline passed (SIGKILL after the grace: 128 + 9). */
const TIMEOUT_STATUS = 124;
const TIMEOUT_KILLED_STATUS = 137;
/** bash (or the script) could not find a tool. */
const NOT_FOUND = /command not found|failed to execute/;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** What happened to one child process. */
interface ChildRun {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  overflow: boolean;
  canceled: boolean;
  spawnError: Error | null;
}

interface SpawnSpec {
  args: string[];
  input?: string;
  signal?: AbortSignal;
  timeoutMs: number;
  maxBytes: number;
}

interface Running {
  /** Kill at once (SIGKILL), children first. */
  killNow: () => void;
}

export class NetnsRunner {
  readonly nsenterPath: string;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  private readonly onCommand: ((e: CommandEvent) => void) | undefined;
  private readonly killGraceMs: number;

  /** Processes Node spawned since creation: netns workers (started or restarted) and `run` children. */
  spawns = 0;
  /** Read-script runs since creation (each one nsenter into a namespace, forked by a worker, not by Node). */
  reads = 0;
  /** Namespace commands running right now, and the highest number seen at once. */
  active = 0;
  maxActive = 0;

  private readonly queue: Waiter[] = [];
  private readonly running = new Set<Running>();
  private stopped = false;
  private readonly idleTimeoutMs: number;
  private readonly workers = new Set<NetnsWorker>();
  private readonly idleWorkers: NetnsWorker[] = [];
  private readonly idleTimers = new Map<NetnsWorker, NodeJS.Timeout>();
  /** workerCpuSeconds(): CPU of workers that are gone, and the last reading of each live one. */
  private retiredCpu = 0;
  private readonly lastCpu = new Map<NetnsWorker, number>();

  constructor(opts: NetnsRunnerOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new ValidationError(`netns concurrency must be >= 1, got ${opts.concurrency}`);
    if (!(opts.timeoutMs > 0)) throw new ValidationError(`netns command timeout must be > 0, got ${opts.timeoutMs}`);
    if (!(opts.maxOutputBytes > 0)) throw new ValidationError(`netns max output must be > 0, got ${opts.maxOutputBytes}`);
    if (typeof opts.nsenterPath !== 'string' || opts.nsenterPath === '' || opts.nsenterPath.includes('\0')) {
      throw new ValidationError(`invalid nsenter path ${JSON.stringify(opts.nsenterPath)}`);
    }
    this.nsenterPath = opts.nsenterPath;
    this.concurrency = opts.concurrency;
    this.timeoutMs = opts.timeoutMs;
    this.maxOutputBytes = opts.maxOutputBytes;
    this.onCommand = opts.onCommand;
    this.killGraceMs = opts.killGraceMs ?? Math.min(1000, opts.timeoutMs);
    const idle = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!(idle >= 0)) throw new ValidationError(`netns worker idle timeout must be >= 0, got ${idle}`);
    this.idleTimeoutMs = idle;
  }

  /**
   * CPU seconds used by the netns workers and everything they ran (nsenter, the read script, the tools: children a
   * worker has reaped count in its /proc stat). Node's own rusage of children does not see them (a worker is not
   * reaped while it lives). Live workers are read now; a worker that is gone counts with what was last read of it.
   */
  workerCpuSeconds(): number {
    let live = 0;
    for (const w of this.workers) {
      const pid = w.pid;
      const cpu = pid === undefined ? null : procTreeCpuSeconds(pid);
      if (cpu !== null) {
        this.lastCpu.set(w, cpu);
        live += cpu;
      }
    }
    return this.retiredCpu + live;
  }

  /** PIDs of the live netns workers (for tests and diagnostics). */
  workerPids(): number[] {
    return [...this.workers].map((w) => w.pid).filter((p): p is number => p !== undefined);
  }

  /** Commands waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Run `argv` (argv[0] = an allowed tool) inside the network namespace at `netnsPath`.
   * Resolves with stdout/stderr on exit status 0; otherwise throws NetnsCommandError (or ValidationError
   * for a refused tool or path, before anything is spawned).
   */
  async run(netnsPath: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    validateNetnsPath(netnsPath);
    validateArgv(argv);
    const tool = argv[0]!;
    if (this.stopped) throw new NetnsCommandError(tool, 'spawn', 'not started: the runner was stopped');
    await this.acquire(tool, opts.signal);
    try {
      return await this.runOne(netnsPath, argv, tool, opts);
    } finally {
      this.release();
    }
  }

  /**
   * Run the read script's `steps` (read-script.ts) inside the namespace as ONE request to a netns worker (one
   * nsenter, forked by the worker). Throws ValidationError (refused path or steps, an `input`) or
   * NetnsCommandError (namespace gone, runner stopped, aborted while queued) when nothing was run; once sent it
   * resolves: per-tool outcomes in `frames`, the script's own failure (timeout = timeoutMs x tools, output cap,
   * abort, stop, vanished, the worker died) in `error`. One onCommand per tool.
   */
  async runScript(netnsPath: string, steps: readonly ScriptStep[], opts: RunOptions = {}): Promise<ScriptResult> {
    validateNetnsPath(netnsPath);
    const valid = validateSteps(steps, opts.input);
    const tools = valid.reduce((n, s) => n + STEP_TOOLS[s].length, 0);
    const timeoutMs = this.timeoutMs * tools;
    const boundary = randomBytes(16).toString('hex');
    const line = encodeRequest({ boundary, timeoutMs, graceMs: this.killGraceMs, netnsPath, steps: valid });
    if (this.stopped) throw new NetnsCommandError(SCRIPT_TOOL, 'spawn', 'not started: the runner was stopped');
    await this.acquire(SCRIPT_TOOL, opts.signal);
    try {
      return await this.scriptOne(netnsPath, { boundary, line, timeoutMs, maxBytes: this.maxOutputBytes * tools + MARKER_ALLOWANCE }, opts);
    } finally {
      this.release();
    }
  }

  /**
   * For shutdown: kill every running child and every netns worker with all it runs (SIGKILL, synchronously), reject
   * every queued command, refuse new ones.
   */
  killAll(): void {
    this.stopped = true;
    for (const w of this.queue.splice(0)) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.reject(new NetnsCommandError('nsenter', 'spawn', 'not started: the runner was stopped'));
    }
    for (const r of this.running) r.killNow();
    for (const w of [...this.workers]) w.kill();
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
    this.idleWorkers.length = 0;
  }

  /** An idle worker, or a new one (one Node spawn) when none is idle; there is one per running script at most. */
  private takeWorker(): NetnsWorker {
    for (;;) {
      const w = this.idleWorkers.pop();
      if (w === undefined) break;
      const t = this.idleTimers.get(w);
      if (t) clearTimeout(t);
      this.idleTimers.delete(w);
      if (w.idle) return w;
    }
    const w = new NetnsWorker({
      shell: SCRIPT_SHELL,
      nsenterPath: this.nsenterPath,
      readScript: READ_SCRIPT,
      env: { PATH: CHILD_PATH, LC_ALL: 'C' },
      closeGraceMs: this.killGraceMs + 500,
      onGone: (gone) => this.forget(gone),
    });
    this.workers.add(w);
    this.spawns += 1;
    w.start();
    return w;
  }

  private giveBack(w: NetnsWorker): void {
    if (!w.idle || this.stopped) return;
    this.idleWorkers.push(w);
    if (this.idleTimeoutMs > 0) {
      const t = setTimeout(() => {
        this.idleTimers.delete(w);
        const i = this.idleWorkers.indexOf(w);
        if (i >= 0) this.idleWorkers.splice(i, 1);
        w.close();
      }, this.idleTimeoutMs);
      t.unref();
      this.idleTimers.set(w, t);
    }
  }

  private forget(w: NetnsWorker): void {
    if (!this.workers.has(w)) return;
    // Still readable when it is being killed (stopped first) or closed; otherwise its last reading.
    const pid = w.pid;
    const cpu = pid === undefined ? null : procTreeCpuSeconds(pid);
    this.retiredCpu += cpu ?? this.lastCpu.get(w) ?? 0;
    this.lastCpu.delete(w);
    this.workers.delete(w);
    const i = this.idleWorkers.indexOf(w);
    if (i >= 0) this.idleWorkers.splice(i, 1);
    const t = this.idleTimers.get(w);
    if (t) clearTimeout(t);
    this.idleTimers.delete(w);
  }

  private acquire(tool: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new NetnsCommandError(tool, 'spawn', 'not started: aborted'));
    if (this.active < this.concurrency) {
      this.take();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      if (signal) {
        w.signal = signal;
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new NetnsCommandError(tool, 'spawn', 'not started: aborted'));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
    });
  }

  private take(): void {
    this.active += 1;
    if (this.active > this.maxActive) this.maxActive = this.active;
  }

  private release(): void {
    this.active -= 1;
    const next = this.queue.shift();
    if (next) {
      if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
      this.take();
      next.resolve();
    }
  }

  private emit(e: CommandEvent): void {
    try {
      this.onCommand?.(e);
    } catch (err) {
      // An observer bug must not turn a good read into a failure; keep the evidence on the error path.
      process.emitWarning(`netns onCommand observer threw: ${errorMessage(err)}`);
    }
  }

  /** A namespace file that no longer exists costs a stat, not a spawn. Throws the classified error. */
  private async checkBeforeSpawn(netnsPath: string, tool: string, failed: (reason: NetnsErrorReason) => void): Promise<void> {
    try {
      await stat(netnsPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason: NetnsErrorReason = code === 'ENOENT' || code === 'ESRCH' ? 'vanished' : 'spawn';
      failed(reason);
      throw new NetnsCommandError(tool, reason, `cannot stat ${netnsPath}: ${code ?? errorMessage(err)}`, { cause: err });
    }
    if (this.stopped) {
      failed('spawn');
      throw new NetnsCommandError(tool, 'spawn', 'not started: the runner was stopped');
    }
  }

  private async runOne(netnsPath: string, argv: string[], tool: string, opts: RunOptions): Promise<RunResult> {
    const started = performance.now();
    const finish = (ok: boolean, reason?: NetnsErrorReason): void => {
      const seconds = (performance.now() - started) / 1000;
      this.emit(reason === undefined ? { tool, seconds, ok } : { tool, seconds, ok, reason });
    };
    await this.checkBeforeSpawn(netnsPath, tool, (reason) => finish(false, reason));

    this.spawns += 1;
    opts.onSpawn?.();
    const r = await this.spawnChild({
      args: [`--net=${netnsPath}`, '--', ...argv],
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      timeoutMs: this.timeoutMs,
      maxBytes: this.maxOutputBytes,
    });
    const err = this.classifyProcess(r, tool, this.timeoutMs, this.maxOutputBytes);
    if (err === null && r.exitCode === 0) {
      finish(true);
      return { stdout: r.stdout, stderr: r.stderr };
    }
    const e = err ?? classifyExit(r, tool);
    finish(false, e.reason);
    throw e;
  }

  private async scriptOne(
    netnsPath: string,
    req: { boundary: string; line: string; timeoutMs: number; maxBytes: number },
    opts: RunOptions,
  ): Promise<ScriptResult> {
    const started = performance.now();
    await this.checkBeforeSpawn(netnsPath, SCRIPT_TOOL, (reason) => {
      this.emit({ tool: SCRIPT_TOOL, seconds: (performance.now() - started) / 1000, ok: false, reason });
    });
    const { boundary, timeoutMs, maxBytes } = req;
    // Aborted while queued or during the stat: nothing was sent (and no worker is killed for it).
    if (opts.signal?.aborted) throw new NetnsCommandError(SCRIPT_TOOL, 'spawn', 'not started: aborted');
    const worker = this.takeWorker();
    this.reads += 1;
    opts.onSpawn?.();
    const sent = performance.now();
    const r = await worker.request({
      line: req.line,
      boundary,
      watchdogMs: timeoutMs + this.killGraceMs + WATCHDOG_SLACK_MS,
      maxBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const elapsedMs = performance.now() - sent;
    this.giveBack(worker);

    const split = splitFrames(r.stdout, r.stderr, boundary);
    // The tool that was running when the script stopped (or whose output hit the cap), if any: the FIRST frame
    // without an end. Frames are in stdout order and the script is sequential; a frame seen only on stderr (stdout
    // was cut while stderr had gone further, as when the cap is hit) comes later and is not where it stopped.
    const open: Frame | undefined = split.frames.find((f) => f.status === null && FRAME_TOOL[f.name] !== undefined);
    const openTool = open ? (FRAME_TOOL[open.name] ?? SCRIPT_TOOL) : SCRIPT_TOOL;
    const error = this.classifyReply(r, elapsedMs, open ? open.stderr : split.stray.stderr, split.stray.stderr, split.done, openTool, timeoutMs, maxBytes);

    const now = Date.now() / 1000;
    const frames: ScriptFrame[] = [];
    let attached = false;
    for (const f of split.frames) {
      const tool = FRAME_TOOL[f.name];
      if (tool === undefined) continue; // not a frame of this script (cannot happen with a random boundary)
      const seconds = Math.max(0, (f.end ?? now) - f.begin);
      let ferr: NetnsCommandError | null;
      if (f.status === null) {
        ferr = f === open && error !== null ? error : new NetnsCommandError(tool ?? f.name, 'exit', 'no end marker: the read script stopped during this step');
        if (ferr === error) attached = true;
      } else {
        ferr = frameError(f, tool ?? f.name, this.maxOutputBytes);
      }
      frames.push({ name: f.name, tool, stdout: f.stdout, stderr: f.stderr, status: f.status, seconds, error: ferr });
      if (tool !== null) this.emit(ferr === null ? { tool, seconds, ok: true } : { tool, seconds, ok: false, reason: ferr.reason });
    }
    if (error !== null && !attached) {
      this.emit({ tool: error.tool, seconds: (performance.now() - started) / 1000, ok: false, reason: error.reason });
    }
    return { frames, complete: error === null, error };
  }

  /** The script's failure as a whole from a worker's reply; null when it ran every step to its end. */
  private classifyReply(
    r: WorkerReply,
    elapsedMs: number,
    stderr: string,
    stray: string,
    done: boolean,
    tool: string,
    timeoutMs: number,
    maxBytes: number,
  ): NetnsCommandError | null {
    const tail = stderr.trim().slice(-2000);
    const o = { cause: replyCause(r), stderr: tail };
    switch (r.failure) {
      case 'timeout':
        return new NetnsCommandError(tool, 'timeout', `killed after ${timeoutMs} ms (the netns worker did not answer; worker killed)`, o);
      case 'output_limit':
        return new NetnsCommandError(tool, 'output_limit', `output larger than ${maxBytes} bytes; child killed`, o);
      case 'aborted':
        return new NetnsCommandError(tool, 'spawn', 'aborted; child killed', o);
      case 'stopped':
        return new NetnsCommandError(tool, 'spawn', 'killed by SIGKILL: the runner was stopped', o);
      case 'spawn':
        return new NetnsCommandError(tool, 'spawn', `cannot run ${SCRIPT_SHELL}: ${r.spawnError ? errorMessage(r.spawnError) : 'spawn failed'}`, o);
      case 'died': {
        const e = r.workerExit;
        const how = e?.signal ? `killed by ${e.signal}` : `exit status ${e?.code ?? '?'}`;
        const why = firstLine(stray.replace(/\n\S+ pid \d+\n/, '\n'));
        return new NetnsCommandError(tool, 'exit', `the netns worker died during the read (${how})${why ? `: ${why}` : ''}`, o);
      }
      case null:
        break;
    }
    const status = r.status;
    if (status === TIMEOUT_STATUS || (status === TIMEOUT_KILLED_STATUS && elapsedMs >= timeoutMs)) {
      return new NetnsCommandError(tool, 'timeout', `killed after ${timeoutMs} ms`, o);
    }
    if (status === 0 && done) return null;
    // The script ended early: nsenter could not enter (vanished), nsenter or bash is missing, or it died.
    const how = status !== null && status > 128 ? `killed by ${signalName(status - 128) ?? `signal ${status - 128}`}` : `exit status ${status}`;
    const st = stray.trim().slice(-2000);
    const so = { cause: replyCause(r), stderr: st };
    if (TIMEOUT_EXEC_FAILED.test(stray)) return new NetnsCommandError(tool, 'spawn', `cannot run ${this.nsenterPath}: ${firstLine(stray)}`, so);
    if (NSENTER_VANISHED.test(stray)) return new NetnsCommandError(tool, 'vanished', firstLine(stray), so);
    if (NSENTER_EXEC_FAILED.test(stray)) return new NetnsCommandError(tool, 'spawn', firstLine(stray), so);
    return new NetnsCommandError(tool, 'exit', `read script ended early (${how})${st ? `: ${firstLine(st)}` : ''}`, so);
  }

  /** Failures of the process as a whole (not a tool's exit status); null when it ran to its own exit. */
  private classifyProcess(r: ChildRun, tool: string, timeoutMs: number, maxBytes: number): NetnsCommandError | null {
    const tail = r.stderr.trim().slice(-2000);
    const o = { cause: childCause(r), stderr: tail };
    if (r.timedOut) return new NetnsCommandError(tool, 'timeout', `killed after ${timeoutMs} ms`, o);
    if (r.overflow) return new NetnsCommandError(tool, 'output_limit', `output larger than ${maxBytes} bytes; child killed`, o);
    if (r.canceled) return new NetnsCommandError(tool, 'spawn', 'aborted; child killed', o);
    if (this.stopped && r.signal) return new NetnsCommandError(tool, 'spawn', `killed by ${r.signal}: the runner was stopped`, o);
    if (r.spawnError) return new NetnsCommandError(tool, 'spawn', `cannot run ${this.nsenterPath}: ${r.spawnError.message}`, o);
    return null;
  }

  private spawnChild(spec: SpawnSpec): Promise<ChildRun> {
    return new Promise<ChildRun>((resolve) => {
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let timedOut = false;
      let overflow = false;
      let canceled = false;
      let terminating = false;
      let exited = false;
      let settled = false;
      let exitCode: number | null = null;
      let exitSignal: NodeJS.Signals | null = null;
      let spawnError: Error | null = null;
      const timers = new Set<NodeJS.Timeout>();
      const later = (ms: number, fn: () => void): void => {
        const t = setTimeout(() => {
          timers.delete(t);
          fn();
        }, ms);
        timers.add(t);
      };

      let child: ChildProcess;
      try {
        child = spawn(this.nsenterPath, spec.args, {
          shell: false,
          detached: false,
          env: { PATH: CHILD_PATH, LC_ALL: 'C' },
          stdio: [spec.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
          windowsHide: true,
        });
      } catch (err) {
        resolve({ stdout: '', stderr: '', exitCode: null, signal: null, timedOut, overflow, canceled, spawnError: err as Error });
        return;
      }

      const settle = (): void => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        spec.signal?.removeEventListener('abort', onAbort);
        this.running.delete(entry);
        resolve({
          stdout: Buffer.concat(out, outBytes).toString('utf8'),
          stderr: Buffer.concat(errOut, errBytes).toString('utf8'),
          exitCode,
          signal: exitSignal,
          timedOut,
          overflow,
          canceled,
          spawnError,
        });
      };

      const killChild = (graceful: boolean): void => {
        const pid = child.pid;
        if (exited || pid === undefined) return;
        if (!graceful) {
          child.kill('SIGKILL');
          return;
        }
        child.kill('SIGTERM');
        later(this.killGraceMs, () => {
          if (!exited) child.kill('SIGKILL');
        });
      };
      const terminate = (): void => {
        if (terminating) return;
        terminating = true;
        killChild(true);
      };
      const entry: Running = {
        killNow: () => {
          terminating = true;
          killChild(false);
        },
      };
      const onAbort = (): void => {
        canceled = true;
        terminate();
      };

      const collect = (into: Buffer[], isOut: boolean) => (b: Buffer): void => {
        const have = isOut ? outBytes : errBytes;
        if (overflow) return;
        if (have + b.length > spec.maxBytes) {
          into.push(b.subarray(0, spec.maxBytes - have));
          if (isOut) outBytes = spec.maxBytes;
          else errBytes = spec.maxBytes;
          overflow = true;
          terminate();
          return;
        }
        into.push(b);
        if (isOut) outBytes += b.length;
        else errBytes += b.length;
      };
      child.stdout!.on('data', collect(out, true));
      child.stderr!.on('data', collect(errOut, false));
      child.on('error', (err) => {
        if (child.pid === undefined) {
          // The spawn itself failed (nsenter missing, EAGAIN, ...): no process, no 'exit'.
          spawnError = err;
          settle();
        } else {
          process.emitWarning(`netns child ${child.pid}: ${errorMessage(err)}`);
        }
      });
      child.on('exit', (code, sig) => {
        exited = true;
        exitCode = code;
        exitSignal = sig;
        // 'close' waits for the pipes; a grandchild that escaped the kill could hold them open: do not wait forever.
        later(this.killGraceMs + 500, () => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          settle();
        });
      });
      child.on('close', settle);
      if (spec.input !== undefined && child.stdin) {
        // EPIPE when the child exits without reading everything: its exit status tells what happened.
        child.stdin.on('error', (err) => {
          if ((err as NodeJS.ErrnoException).code !== 'EPIPE') process.emitWarning(`netns child stdin: ${errorMessage(err)}`);
        });
        child.stdin.end(spec.input);
      }
      if (child.pid !== undefined) this.running.add(entry);
      later(spec.timeoutMs, () => {
        timedOut = true;
        terminate();
      });
      if (spec.signal) {
        if (spec.signal.aborted) onAbort();
        else spec.signal.addEventListener('abort', onAbort, { once: true });
      }
      if (this.stopped) entry.killNow();
    });
  }
}

/** A tool's outcome from its end marker: exit status, tool missing (127), or more output than one tool may print. */
function frameError(f: Frame, tool: string, maxOutput: number): NetnsCommandError | null {
  const tail = f.stderr.trim().slice(-2000);
  const o = { cause: Object.assign(new Error(`${tool} frame`), { stdout: f.stdout, stderr: f.stderr, exitCode: f.status }), stderr: tail };
  if (f.status === 0) {
    if (Buffer.byteLength(f.stdout) > maxOutput || Buffer.byteLength(f.stderr) > maxOutput) {
      return new NetnsCommandError(tool, 'output_limit', `output larger than ${maxOutput} bytes; output discarded`, o);
    }
    return null;
  }
  if (f.status === NOT_FOUND_STATUS && NOT_FOUND.test(f.stderr)) {
    return new NetnsCommandError(tool, 'spawn', `failed to execute ${tool}: command not found`, o);
  }
  const sig = f.status !== null && f.status > 128 ? signalName(f.status - 128) : null;
  const how = sig ? `killed by ${sig}` : `exit status ${f.status}`;
  return new NetnsCommandError(tool, 'exit', tail ? `${how}: ${firstLine(tail)}` : how, o);
}

/** A tool's exit status through nsenter (run): vanished namespace, missing tool, or the tool's own failure. */
function classifyExit(r: ChildRun, tool: string): NetnsCommandError {
  const tail = r.stderr.trim().slice(-2000);
  const o = { cause: childCause(r), stderr: tail };
  if (NSENTER_VANISHED.test(r.stderr)) return new NetnsCommandError(tool, 'vanished', firstLine(r.stderr), o);
  if (NSENTER_EXEC_FAILED.test(r.stderr)) return new NetnsCommandError(tool, 'spawn', firstLine(r.stderr), o);
  const how = r.signal ? `killed by ${r.signal}` : `exit status ${r.exitCode}`;
  return new NetnsCommandError(tool, 'exit', tail ? `${how}: ${firstLine(tail)}` : how, o);
}

/** The `cause` of a failed child: an Error carrying its output (callers may keep partial stdout). */
function childCause(r: ChildRun): Error {
  const what = r.signal ? `signal ${r.signal}` : r.exitCode !== null ? `exit status ${r.exitCode}` : 'no exit';
  return Object.assign(new Error(`nsenter child: ${what}`, r.spawnError ? { cause: r.spawnError } : {}), {
    stdout: r.stdout,
    stderr: r.stderr,
    exitCode: r.exitCode,
    signal: r.signal,
  });
}

/** The `cause` of a failed script request: an Error carrying its output (callers may keep partial stdout). */
function replyCause(r: WorkerReply): Error {
  const what = r.failure ? `request ${r.failure}` : `exit status ${r.status}`;
  return Object.assign(new Error(`netns worker: ${what}`, r.spawnError ? { cause: r.spawnError } : {}), {
    stdout: r.stdout,
    stderr: r.stderr,
    exitCode: r.status,
    signal: r.workerExit?.signal ?? null,
  });
}

function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return null;
}

function firstLine(s: string): string {
  const line = s.trim().split('\n', 1)[0] ?? '';
  return line.slice(0, 300);
}
