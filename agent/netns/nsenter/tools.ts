/**
 * The tools reader's one way to run something inside a network namespace: a plain execa call per tool,
 *   nsenter --net=/proc/self/fd/3 -- <tool> <args...>
 * with the namespace passed as an open file descriptor (fd 3 of the child), so the namespace checked by inode when
 * the reader opened it is the one every tool enters, whatever happens to the PID or path meanwhile. Argument arrays
 * only (no shell), tools from a fixed allow-list, a minimal environment, a timeout (SIGTERM, then SIGKILL), an
 * output cap stopped where it is read (the child is killed when it is reached), an abort signal.
 *
 * The tool runs as the leader of its own process group, so whatever it starts is ended with it: a tool killed by
 * the timeout, the cap or an abort has its whole group killed, and once it exited, processes of its group still
 * holding its pipes are killed and the pipes closed. Without that, one child of a killed tool holding stdout kept
 * the run (and the namespace read, and the collection) waiting for as long as that child lived.
 *
 * This path runs rarely (the netlink reader is the default; `auto` falls back to it per namespace), so it favours
 * simplicity over the number of processes.
 */
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import { NetnsCommandError, type NetnsErrorReason } from '../../errors.js';

/** Tools that may be run inside a namespace (argv[0]); anything else is refused before a spawn. */
export const ALLOWED_TOOLS: ReadonlySet<string> = new Set([
  'iptables-legacy-save',
  'ip6tables-legacy-save',
  'iptables-nft-save',
  'ip6tables-nft-save',
  'ebtables-legacy-save',
  'ebtables-nft-save',
  'ebtables-legacy',
  'nft',
  'ipset',
  'tc',
  'ip',
]);

export interface ToolRun {
  tool: string;
  stdout: string;
  /** Null when the tool ran to completion with exit status 0. */
  error: NetnsCommandError | null;
  /** The output was cut at the cap: stdout holds its start. */
  truncated: boolean;
  seconds: number;
}

export interface ToolOptions {
  nsenterPath: string;
  timeoutMs: number;
  maxOutputBytes: number;
  input?: string;
  signal?: AbortSignal;
}

const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const MAX_STDERR_SHOWN = 512;
/** After the tool exited, how long its group may keep its pipes open before it is killed (then as long again before
 * the pipes are closed). */
const LEFTOVER_GRACE_MS = 100;

/**
 * A tool's stderr as one line of text fit for messages, logs and a terminal: line breaks and tabs become spaces,
 * other control characters (escape sequences, NUL) `?`.
 */
export function printable(text: string): string {
  return text.replace(/[\t\n\r]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').trim();
}

/** SIGKILL a tool's process group; a group already gone (ESRCH) or out of reach (EPERM) is left as it is. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw err;
  }
}

interface Running {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  once(event: 'exit', listener: () => void): unknown;
}

/** Await a run whose tool leads its own process group: once the tool exited, leftovers holding its pipes are ended. */
async function settle<P extends Running & PromiseLike<unknown>>(sub: P): Promise<Awaited<P>> {
  let settled = false;
  const timers: NodeJS.Timeout[] = [];
  sub.once('exit', () => {
    timers.push(setTimeout(() => {
      if (settled) return;
      killGroup(sub.pid);
      timers.push(setTimeout(() => {
        // Still held: by a process that left the group (setsid). Stop waiting for it.
        if (!settled) for (const s of [sub.stdout, sub.stderr, sub.stdin]) s?.destroy();
      }, LEFTOVER_GRACE_MS));
    }, LEFTOVER_GRACE_MS));
  });
  try {
    return await sub;
  } finally {
    settled = true;
    for (const t of timers) clearTimeout(t);
  }
}

/** Run `argv` inside the namespace open as `netnsFd`. Never throws: failures are in `error`. */
export async function runTool(netnsFd: number, argv: readonly string[], opts: ToolOptions): Promise<ToolRun> {
  const tool = argv[0] ?? '';
  const t0 = performance.now();
  const done = (stdout: string, reason: NetnsErrorReason | null, message: string, truncated = false, stderr = ''): ToolRun => ({
    tool,
    stdout,
    truncated,
    seconds: (performance.now() - t0) / 1000,
    error: reason === null ? null : new NetnsCommandError(tool, reason, message, { stderr }),
  });
  if (!ALLOWED_TOOLS.has(tool)) return done('', 'spawn', `${JSON.stringify(tool)} is not a tool the reader runs`);
  if (opts.timeoutMs <= 0) return done('', 'timeout', 'not run: the namespace time budget is spent');
  // execa's types name only the literals 3-9 for an inherited descriptor; any open fd is passed through to
  // child_process.spawn as the child's fd 3 (test/netns/nsenter/tools.test.ts checks the namespace entered).
  const fd3 = netnsFd as 3;
  const stdio = opts.input !== undefined ? (['pipe', 'pipe', 'pipe', fd3] as const) : (['ignore', 'pipe', 'pipe', fd3] as const);
  const sub = execa(opts.nsenterPath, ['--net=/proc/self/fd/3', '--', ...argv], {
    stdio,
    detached: true,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    timeout: opts.timeoutMs,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: 500,
    maxBuffer: opts.maxOutputBytes,
    stripFinalNewline: false,
    reject: false,
    env: ENV,
    extendEnv: false,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  const r = await settle(sub);
  // Ended by us: nothing it started may outlive it.
  if (r.timedOut || r.isCanceled || r.isMaxBuffer) killGroup(sub.pid);
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = printable((typeof r.stderr === 'string' ? r.stderr : '').slice(0, MAX_STDERR_SHOWN));
  if (r.isMaxBuffer) return done(stdout, 'output_limit', `output cut at ${opts.maxOutputBytes} bytes`, true, stderr);
  if (r.timedOut) return done(stdout, 'timeout', `killed after ${opts.timeoutMs} ms`, false, stderr);
  if (r.isCanceled) return done(stdout, 'timeout', 'aborted', false, stderr);
  if (r.failed && r.exitCode === undefined) {
    const why = r.signal ? `killed by ${r.signal}` : (r.originalMessage ?? r.shortMessage ?? 'failed to start');
    return done(stdout, 'spawn', why, false, stderr);
  }
  if (r.exitCode !== 0) {
    // nsenter itself failing (cannot enter, tool not found: 127/126) vs the tool's own failure.
    const reason: NetnsErrorReason = r.exitCode === 127 || r.exitCode === 126 ? 'spawn' : 'exit';
    return done(stdout, reason, `exit status ${r.exitCode}${stderr ? `: ${stderr}` : ''}`, false, stderr);
  }
  return done(stdout, null, '');
}
