/**
 * The nsenter runner: every tool the agent runs inside a pod's network namespace goes through here.
 * `nsenter --net=<netns file> -- <tool> <args...>` with an argument array (never a shell), a minimal
 * environment, a per-command timeout that kills the child, an output size cap, and a bounded number of
 * children at once (a FIFO semaphore). Failures are NetnsCommandError with a reason
 * (timeout | exit | output_limit | spawn | vanished) and the child's stderr.
 *
 * `runScript` is the hot path: ONE spawn per namespace runs the constant read script (read-script.ts) that runs
 * every tool in turn and frames each tool's output (frames.ts), so per-tool results, durations and onCommand
 * events survive. Why: each Node spawn costs the agent's main thread ~2.5 ms CPU with child_process.spawn and
 * ~7 ms with execa (measured on the 2-core test machine, 100 spawns of `nsenter --net=... true`). Chaos Mesh's
 * sequential per-container reads (issue 5) took 1.0-1.5 s for 40 namespaces; 4 spawns per namespace 0.5-0.84 s
 * (ratio ~2-2.6, short of the 3x target); one spawn per namespace 0.28-0.49 s with agent CPU 78-105 ms instead of
 * 234-300 ms (ratio ~3-5). For the same reason children are spawned with node:child_process `spawn` (argument
 * array, shell false, not detached, stdio pipes), not execa: the output cap counts bytes and kills the child,
 * the timeout sends SIGTERM then SIGKILL after the grace period.
 * A script child has grandchildren (the tools): to kill it, the runner stops the bash process (SIGSTOP, so it
 * can neither reap nor start anything and its children's PIDs cannot be reused), signals the children listed in
 * /proc/<pid>/task/<pid>/children (SIGTERM, SIGKILL after the grace period), then SIGKILLs bash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { NetnsCommandError, ValidationError, errorMessage, type NetnsErrorReason } from '../errors.js';
import { splitFrames, type Frame } from './frames.js';
import { FRAME_TOOL, NOT_FOUND_STATUS, READ_SCRIPT, STEP_TOOLS, isScriptStep, type ScriptStep } from './read-script.js';

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
}

export interface RunOptions {
  /** Written to the child's stdin (e.g. `tc -batch -`). */
  input?: string;
  /** Aborting rejects the call while queued and kills the child while running. */
  signal?: AbortSignal;
  /** Called when a process is actually spawned for this call (per-caller spawn accounting on a shared runner). */
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

/** Check a netns path before it reaches nsenter: absolute, no NUL, no `..` component, bounded length. */
export function validateNetnsPath(p: unknown): string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096) {
    throw new ValidationError(`netns path: invalid ${JSON.stringify(p)}`.slice(0, 200));
  }
  if (!p.startsWith('/') || p.includes('\0') || p.split('/').includes('..')) {
    throw new ValidationError(`netns path: unsafe ${JSON.stringify(p.slice(0, 200))}`);
  }
  return p;
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

/** Steps: a non-empty list of distinct allow-listed tokens; `tc` (batch on stdin) needs the input. */
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
  if (seen.has('tc') && input === undefined) throw new ValidationError('netns script step tc needs its batch as input');
  return steps as ScriptStep[];
}

/** nsenter's own failure to open the namespace file: the namespace (or its process) is gone. */
const NSENTER_VANISHED = /^nsenter: (?:cannot open|reassociate to namespace)[^\n]*(?:No such file or directory|No such process|Invalid argument)/m;
/** nsenter could not exec the tool (not installed in this image). */
const NSENTER_EXEC_FAILED = /^nsenter: failed to execute/m;
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
  /** The child has children of its own (the script): kill the tree. */
  tree: boolean;
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

  /** Processes spawned since creation (each one nsenter that execs the tool, or bash for a script). */
  spawns = 0;
  /** Children running right now, and the highest number seen at once. */
  active = 0;
  maxActive = 0;

  private readonly queue: Waiter[] = [];
  private readonly running = new Set<Running>();
  private stopped = false;

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
   * Run the read script's `steps` (read-script.ts) inside the namespace in ONE process. Throws ValidationError
   * (refused path or steps) or NetnsCommandError (namespace gone, runner stopped, aborted while queued) when
   * nothing was spawned; once spawned it resolves: per-tool outcomes in `frames`, the script's own failure
   * (timeout = timeoutMs x tools, output cap, abort, stop, vanished) in `error`. One onCommand per tool.
   */
  async runScript(netnsPath: string, steps: readonly ScriptStep[], opts: RunOptions = {}): Promise<ScriptResult> {
    validateNetnsPath(netnsPath);
    const valid = validateSteps(steps, opts.input);
    if (this.stopped) throw new NetnsCommandError(SCRIPT_TOOL, 'spawn', 'not started: the runner was stopped');
    await this.acquire(SCRIPT_TOOL, opts.signal);
    try {
      return await this.scriptOne(netnsPath, valid, opts);
    } finally {
      this.release();
    }
  }

  /** For shutdown: kill every running child (SIGKILL), reject every queued command, refuse new ones. */
  killAll(): void {
    this.stopped = true;
    for (const w of this.queue.splice(0)) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.reject(new NetnsCommandError('nsenter', 'spawn', 'not started: the runner was stopped'));
    }
    for (const r of this.running) r.killNow();
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
      tree: false,
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

  private async scriptOne(netnsPath: string, steps: ScriptStep[], opts: RunOptions): Promise<ScriptResult> {
    const started = performance.now();
    await this.checkBeforeSpawn(netnsPath, SCRIPT_TOOL, (reason) => {
      this.emit({ tool: SCRIPT_TOOL, seconds: (performance.now() - started) / 1000, ok: false, reason });
    });
    const tools = steps.reduce((n, s) => n + STEP_TOOLS[s].length, 0);
    const timeoutMs = this.timeoutMs * tools;
    const maxBytes = this.maxOutputBytes * tools + MARKER_ALLOWANCE;
    const boundary = randomBytes(16).toString('hex');

    this.spawns += 1;
    opts.onSpawn?.();
    const r = await this.spawnChild({
      args: [`--net=${netnsPath}`, '--', SCRIPT_SHELL, '-c', READ_SCRIPT, 'bash', boundary, ...steps],
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      timeoutMs,
      maxBytes,
      tree: true,
    });
    const split = splitFrames(r.stdout, r.stderr, boundary);
    let open: Frame | undefined; // the tool that was running when the script stopped, if any
    for (const f of split.frames) if (f.status === null && FRAME_TOOL[f.name] !== undefined) open = f;
    const openTool = open ? (FRAME_TOOL[open.name] ?? SCRIPT_TOOL) : SCRIPT_TOOL;
    let error = this.classifyProcess({ ...r, stderr: open ? open.stderr : split.stray.stderr }, openTool, timeoutMs, maxBytes);
    if (error === null && !(r.exitCode === 0 && split.done)) {
      // The script ended early: nsenter could not enter (vanished), bash is missing, or it died.
      const stray = split.stray.stderr;
      const how = r.signal ? `killed by ${r.signal}` : `exit status ${r.exitCode}`;
      const tail = stray.trim().slice(-2000);
      const o = { cause: childCause(r), stderr: tail };
      if (NSENTER_VANISHED.test(stray)) error = new NetnsCommandError(openTool, 'vanished', firstLine(stray), o);
      else if (NSENTER_EXEC_FAILED.test(stray)) error = new NetnsCommandError(openTool, 'spawn', firstLine(stray), o);
      else error = new NetnsCommandError(openTool, 'exit', `read script ended early (${how})${tail ? `: ${firstLine(tail)}` : ''}`, o);
    }

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

      const killTree = (graceful: boolean): void => {
        const pid = child.pid;
        if (exited || pid === undefined) return;
        if (!spec.tree) {
          if (!graceful) {
            child.kill('SIGKILL');
            return;
          }
          child.kill('SIGTERM');
          later(this.killGraceMs, () => {
            if (!exited) child.kill('SIGKILL');
          });
          return;
        }
        // Freeze the shell first: stopped, it cannot reap its children (their PIDs stay theirs) nor start more.
        child.kill('SIGSTOP');
        const kids = childrenOf(pid);
        if (!graceful) {
          for (const k of kids) signalPid(k, 'SIGKILL');
          child.kill('SIGKILL');
          return;
        }
        for (const k of kids) signalPid(k, 'SIGTERM');
        const deadline = Date.now() + this.killGraceMs;
        const poll = (): void => {
          if (exited) return;
          if (kids.every(isGone) || Date.now() >= deadline) {
            for (const k of kids) signalPid(k, 'SIGKILL');
            child.kill('SIGKILL');
            return;
          }
          later(10, poll);
        };
        poll();
      };
      const terminate = (): void => {
        if (terminating) return;
        terminating = true;
        killTree(true);
      };
      const entry: Running = {
        killNow: () => {
          terminating = true;
          killTree(false);
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

function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return null;
}

function firstLine(s: string): string {
  const line = s.trim().split('\n', 1)[0] ?? '';
  return line.slice(0, 300);
}

/** Children of `pid` (all its threads), from /proc; a scan of /proc/<n>/stat when the kernel lacks that file. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const w of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
        const n = Number(w);
        if (Number.isInteger(n) && n > 0) out.push(n);
      }
    }
    return out;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || !procExists(pid)) return out; // the process is gone: nothing left to kill
  }
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st !== null && st.ppid === pid) out.push(Number(e));
  }
  return out;
}

function procExists(pid: number): boolean {
  return procStat(pid) !== null;
}

/** State and parent from /proc/<pid>/stat; null when the process is gone. */
function procStat(pid: number): { state: string; ppid: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw err;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '', ppid: Number(rest[1]) };
}

/** Exited (zombie: its parent is stopped and has not reaped it) or gone. */
function isGone(pid: number): boolean {
  const st = procStat(pid);
  return st === null || st.state === 'Z' || st.state === 'X';
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return; // already gone
    process.emitWarning(`netns: cannot send ${sig} to ${pid}: ${errorMessage(err)}`);
  }
}
