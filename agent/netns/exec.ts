/**
 * The nsenter runner: every tool the agent runs inside a pod's network namespace goes through here.
 * `nsenter --net=<netns file> -- <tool> <args...>` with an argument array (never a shell), a minimal
 * environment, a per-command timeout that kills the child, an output size cap, and a bounded number of
 * children at once (a FIFO semaphore). Failures are NetnsCommandError with a reason
 * (timeout | exit | output_limit | spawn | vanished) and the child's stderr.
 */
import { stat } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { NetnsCommandError, ValidationError, errorMessage, type NetnsErrorReason } from '../errors.js';

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
  /** Per-command timeout; the child gets SIGTERM, then SIGKILL after `killGraceMs`. */
  timeoutMs: number;
  /** Cap on each of stdout and stderr, in characters (bytes for the ASCII these tools print). */
  maxOutputBytes: number;
  /** Called once per finished command (metrics, logs). Must not throw. */
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

/** PATH of the child: where Debian and most images keep iproute2, iptables, ipset and nsenter. */
const CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ARG_MAX_LEN = 4096;

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

/** nsenter's own failure to open the namespace file: the namespace (or its process) is gone. */
const NSENTER_VANISHED = /^nsenter: (?:cannot open|reassociate to namespace)[^\n]*(?:No such file or directory|No such process|Invalid argument)/m;
/** nsenter could not exec the tool (not installed in this image). */
const NSENTER_EXEC_FAILED = /^nsenter: failed to execute/m;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class NetnsRunner {
  readonly nsenterPath: string;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  private readonly onCommand: ((e: CommandEvent) => void) | undefined;
  private readonly killGraceMs: number;

  /** Processes spawned since creation (each one nsenter that execs the tool). */
  spawns = 0;
  /** Children running right now, and the highest number seen at once. */
  active = 0;
  maxActive = 0;

  private readonly queue: Waiter[] = [];
  private readonly running = new Set<ResultPromise>();
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
      return await this.spawnOne(netnsPath, argv, tool, opts);
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
    for (const child of this.running) child.kill('SIGKILL');
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

  private async spawnOne(netnsPath: string, argv: string[], tool: string, opts: RunOptions): Promise<RunResult> {
    const started = performance.now();
    const finish = (ok: boolean, reason?: NetnsErrorReason): void => {
      const seconds = (performance.now() - started) / 1000;
      try {
        this.onCommand?.(reason === undefined ? { tool, seconds, ok } : { tool, seconds, ok, reason });
      } catch (err) {
        // An observer bug must not turn a good read into a failure; keep the evidence on the error path.
        process.emitWarning(`netns onCommand observer threw: ${errorMessage(err)}`);
      }
    };

    // A namespace file that no longer exists costs a stat, not a spawn.
    try {
      await stat(netnsPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason: NetnsErrorReason = code === 'ENOENT' || code === 'ESRCH' ? 'vanished' : 'spawn';
      finish(false, reason);
      throw new NetnsCommandError(tool, reason, `cannot stat ${netnsPath}: ${code ?? errorMessage(err)}`, { cause: err });
    }
    if (this.stopped) {
      finish(false, 'spawn');
      throw new NetnsCommandError(tool, 'spawn', 'not started: the runner was stopped');
    }

    this.spawns += 1;
    opts.onSpawn?.();
    const child = execa(this.nsenterPath, [`--net=${netnsPath}`, '--', ...argv], {
      shell: false,
      env: { PATH: CHILD_PATH, LC_ALL: 'C' },
      extendEnv: false,
      ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
      timeout: this.timeoutMs,
      killSignal: 'SIGTERM',
      forceKillAfterDelay: this.killGraceMs,
      maxBuffer: this.maxOutputBytes,
      stripFinalNewline: false,
      cleanup: true,
      reject: false,
      ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    });
    this.running.add(child);
    let result;
    try {
      result = await child;
    } finally {
      this.running.delete(child);
    }
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';
    if (!result.failed) {
      finish(true);
      return { stdout, stderr };
    }
    const err = classify(result, tool, stderr, this.timeoutMs, this.maxOutputBytes, this.stopped);
    finish(false, err.reason);
    throw err;
  }
}

interface FailedResult {
  timedOut: boolean;
  isMaxBuffer: boolean;
  isCanceled: boolean;
  exitCode?: number | undefined;
  signal?: string | undefined;
  code?: string | undefined;
  cause?: unknown;
  shortMessage?: string;
  message?: string;
}

function classify(
  r: FailedResult,
  tool: string,
  stderr: string,
  timeoutMs: number,
  maxOutput: number,
  stopped: boolean,
): NetnsCommandError {
  const tail = stderr.trim().slice(-2000);
  const opts = { cause: r, stderr: tail };
  if (r.timedOut) return new NetnsCommandError(tool, 'timeout', `killed after ${timeoutMs} ms`, opts);
  if (r.isMaxBuffer) return new NetnsCommandError(tool, 'output_limit', `output larger than ${maxOutput} bytes; child killed`, opts);
  if (r.isCanceled) return new NetnsCommandError(tool, 'spawn', 'aborted; child killed', opts);
  if (stopped && r.signal) return new NetnsCommandError(tool, 'spawn', `killed by ${r.signal}: the runner was stopped`, opts);
  if (r.exitCode === undefined && !r.signal) {
    // The spawn itself failed (nsenter missing, EAGAIN, ...).
    return new NetnsCommandError(tool, 'spawn', r.shortMessage ?? r.message ?? 'spawn failed', opts);
  }
  if (NSENTER_VANISHED.test(stderr)) return new NetnsCommandError(tool, 'vanished', firstLine(stderr), opts);
  if (NSENTER_EXEC_FAILED.test(stderr)) return new NetnsCommandError(tool, 'spawn', firstLine(stderr), opts);
  const how = r.signal ? `killed by ${r.signal}` : `exit status ${r.exitCode}`;
  return new NetnsCommandError(tool, 'exit', tail ? `${how}: ${firstLine(tail)}` : how, opts);
}

function firstLine(s: string): string {
  const line = s.trim().split('\n', 1)[0] ?? '';
  return line.slice(0, 300);
}
