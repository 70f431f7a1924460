/**
 * One netns worker: a long-lived `/bin/bash -c WORKER_SCRIPT` (worker-script.ts) that runs one read-script request
 * at a time inside a namespace and frames the reply, so Node forks once per worker instead of once per namespace.
 *
 * The worker is started in a session and process group of its own (detached), with a minimal environment. Each
 * request's processes are in the process group of the timeout(1) that runs them (the worker announces its PID first):
 * to kill a worker, Node stops it (SIGSTOP: it can neither reap nor start anything, so its children's PIDs stay
 * theirs), SIGKILLs the process group of each child, then the worker's own group. A request is answered when both
 * of its `exit` markers arrived; a request that fails (Node's watchdog, output cap, abort, stop, the worker died)
 * is answered once the worker's pipes are closed (every process that held them is gone), or after a grace period.
 * An idle worker does not keep Node's event loop alive (its handles are unref'd), so a CLI run ends on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from '../../errors.js';
import { childrenOf, procStat, signalGroup, signalPid } from './proc-tree.js';
import { WORKER_NAME, WORKER_SCRIPT } from './worker-script.js';

export interface NetnsWorkerOptions {
  /** The shell that runs WORKER_SCRIPT (bash >= 5). */
  shell: string;
  /** nsenter, as the worker passes it to timeout(1) (looked up on the child PATH when not absolute). */
  nsenterPath: string;
  /** The read script (read-script.ts), given to the worker once as an argument. */
  readScript: string;
  env: NodeJS.ProcessEnv;
  /** After a kill or a death, how long to wait for the pipes to close before answering anyway. */
  closeGraceMs: number;
  /** Called once when the worker can no longer take requests (exited, killed, closed, failed to start). */
  onGone?: (w: NetnsWorker) => void;
}

export interface WorkerJob {
  /** The encoded request (encodeRequest). */
  line: string;
  boundary: string;
  /** Node's own deadline for the answer; past it the worker is killed (failure `timeout`). */
  watchdogMs: number;
  /** Cap on each of stdout and stderr of this request, in bytes; over it the worker is killed (`output_limit`). */
  maxBytes: number;
  signal?: AbortSignal;
}

/** Why a request ended without its exit markers. */
export type WorkerFailure = 'timeout' | 'output_limit' | 'aborted' | 'stopped' | 'died' | 'spawn';

export interface WorkerReply {
  /** The request's stdout / stderr, worker markers removed (partial when `failure` is set). */
  stdout: string;
  stderr: string;
  /** The exit status the worker reported (timeout(1)'s); null without the exit marker. */
  status: number | null;
  failure: WorkerFailure | null;
  /** How the worker process ended, when it ended during this request. */
  workerExit: { code: number | null; signal: NodeJS.Signals | null } | null;
  spawnError: Error | null;
  /** The request's process group (timeout(1)'s PID), once announced. */
  groupPid: number | null;
}

interface StreamState {
  decoder: StringDecoder;
  text: string;
  bytes: number;
  /** Where to look for the end marker next (the text before was searched). */
  scanFrom: number;
  done: boolean;
}

interface Pending {
  job: WorkerJob;
  resolve: (r: WorkerReply) => void;
  out: StreamState;
  err: StreamState;
  /** The pid marker was handled (or cannot come any more). */
  pidSeen: boolean;
  groupPid: number | null;
  status: number | null;
  failure: WorkerFailure | null;
  workerExit: WorkerReply['workerExit'];
  spawnError: Error | null;
  watchdog: NodeJS.Timeout | null;
  onAbort: (() => void) | null;
}

const newStream = (): StreamState => ({ decoder: new StringDecoder('utf8'), text: '', bytes: 0, scanFrom: 0, done: false });

let workerSeq = 0;

/**
 * Niceness of a worker and of everything it runs (children inherit it). The tools are the bulk of a collection's
 * CPU; at a lower priority they yield to the agent's HTTP server (scrapes) and to the node's own workloads when the
 * CPU is contended, and cost nothing extra when it is not. Raising niceness needs no capability.
 */
export const WORKER_NICENESS = 10;

export class NetnsWorker {
  readonly id = ++workerSeq;
  private readonly opts: NetnsWorkerOptions;
  private child: ChildProcess | null = null;
  private pending: Pending | null = null;
  /** No new request may be given (killed, closed, exited, failed to start). */
  private gone = false;
  private exited = false;
  private closed = false;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(opts: NetnsWorkerOptions) {
    this.opts = opts;
  }

  /** PID of the worker process (undefined before start or when the spawn failed). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Can take a request now. */
  get idle(): boolean {
    return !this.gone && this.pending === null;
  }

  get usable(): boolean {
    return !this.gone;
  }

  /** Spawn the worker process (the one Node-side fork). A synchronous spawn failure is kept for the first request. */
  start(): void {
    if (this.child !== null || this.gone) return;
    let child: ChildProcess;
    try {
      child = spawn(this.opts.shell, ['--norc', '--noprofile', '-c', WORKER_SCRIPT, WORKER_NAME, this.opts.nsenterPath, this.opts.readScript], {
        shell: false,
        detached: true, // its own process group: one kill(-pid) reaches it and whatever it forked in that group
        // --norc: Node's stdio pipes are socketpairs, and bash sources ~/.bashrc when its stdin is a socket
        // (it takes itself for a shell started by rshd/sshd) unless told not to.
        env: this.opts.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      this.spawnFailed(err as Error);
      return;
    }
    this.child = child;
    if (child.pid !== undefined) {
      // Before the worker reads its first request, so every process it forks inherits the niceness.
      try {
        setPriority(child.pid, WORKER_NICENESS);
      } catch (err) {
        process.emitWarning(`netns worker ${child.pid}: cannot lower its priority: ${errorMessage(err)}`);
      }
    }
    child.stdout!.on('data', (b: Buffer) => this.onData(b, true));
    child.stderr!.on('data', (b: Buffer) => this.onData(b, false));
    child.stdin!.on('error', (err) => {
      // EPIPE: the worker is gone; its exit (or the spawn error) answers the request.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') process.emitWarning(`netns worker ${child.pid ?? '?'} stdin: ${errorMessage(err)}`);
    });
    child.on('error', (err) => {
      if (child.pid === undefined) this.spawnFailed(err);
      else process.emitWarning(`netns worker ${child.pid}: ${errorMessage(err)}`);
    });
    child.on('exit', (code, signal) => this.onExit(code, signal));
    child.on('close', () => this.onClose());
    this.setRef(false);
  }

  /** Run one request. Never rejects: failures are in the reply (`spawn` when the worker could not start). */
  request(job: WorkerJob): Promise<WorkerReply> {
    if (this.pending) throw new Error(`netns worker ${this.id} is busy`); // a runner bug, not a runtime condition
    this.start();
    return new Promise<WorkerReply>((resolve) => {
      const p: Pending = {
        job, resolve, out: newStream(), err: newStream(), pidSeen: false, groupPid: null, status: null,
        failure: null, workerExit: null, spawnError: null, watchdog: null, onAbort: null,
      };
      this.pending = p;
      if (this.gone) {
        // start() failed synchronously (or the worker was already gone: nothing was sent).
        p.failure = this.startError ? 'spawn' : 'stopped';
        p.spawnError = this.startError;
        this.answer();
        return;
      }
      this.setRef(true);
      p.watchdog = setTimeout(() => this.fail('timeout'), job.watchdogMs);
      if (job.signal) {
        p.onAbort = () => this.fail('aborted');
        if (job.signal.aborted) {
          this.fail('aborted');
          return;
        }
        job.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.child!.stdin!.write(job.line);
    });
  }

  /** Kill the worker and everything it runs now (runner stopped); a request in flight fails with `stopped`. */
  kill(): void {
    if (this.pending && this.pending.failure === null) this.fail('stopped');
    else this.killTree();
  }

  /** Let an idle worker exit on its own (end of its stdin). */
  close(): void {
    if (this.gone) return;
    this.markGone();
    if (this.pending) {
      this.fail('stopped');
      return;
    }
    this.child?.stdin?.end();
  }

  private startError: Error | null = null;

  private spawnFailed(err: Error): void {
    this.startError = err;
    this.exited = true;
    this.closed = true;
    this.markGone();
    const p = this.pending;
    if (p && p.failure === null) {
      p.failure = 'spawn';
      p.spawnError = err;
      this.answer();
    }
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.opts.onGone?.(this);
  }

  private setRef(on: boolean): void {
    const c = this.child;
    if (!c) return;
    if (on) c.ref();
    else c.unref();
    for (const s of [c.stdin, c.stdout, c.stderr]) {
      const h = s as unknown as { ref?: () => void; unref?: () => void } | null;
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }

  private onData(b: Buffer, isOut: boolean): void {
    const p = this.pending;
    if (!p || p.failure !== null) {
      if (p) this.keep(p, isOut ? p.out : p.err, b); // partial output of a failed request, up to the cap
      return;
    }
    const s = isOut ? p.out : p.err;
    if (s.done) return; // nothing may follow an exit marker; the worker is idle until the next request
    if (!this.keep(p, s, b)) {
      this.fail('output_limit');
      return;
    }
    const B = p.job.boundary;
    if (isOut && !p.pidSeen) {
      const tag = `\n${B} pid `;
      if (s.text.length < tag.length && tag.startsWith(s.text)) return;
      if (s.text.startsWith(tag)) {
        const nl = s.text.indexOf('\n', tag.length);
        if (nl < 0) return;
        const n = Number(s.text.slice(tag.length, nl));
        if (Number.isInteger(n) && n > 1) p.groupPid = n;
        s.text = s.text.slice(nl + 1);
      }
      p.pidSeen = true;
    }
    const tag = isOut ? `\n${B} exit ` : `\n${B} exit\n`;
    const at = s.text.indexOf(tag, s.scanFrom);
    if (at < 0) {
      s.scanFrom = Math.max(0, s.text.length - tag.length);
      return;
    }
    if (isOut) {
      const nl = s.text.indexOf('\n', at + tag.length);
      if (nl < 0) {
        s.scanFrom = at;
        return;
      }
      const st = s.text.slice(at + tag.length, nl);
      p.status = /^\d{1,3}$/.test(st) ? Number(st) : 255;
    }
    s.text = s.text.slice(0, at);
    s.done = true;
    if (p.out.done && p.err.done) this.answer();
  }

  /** Append a chunk within the cap; false when the cap was hit (what fits is kept). */
  private keep(p: Pending, s: StreamState, b: Buffer): boolean {
    const room = p.job.maxBytes - s.bytes;
    if (room <= 0) return false;
    const part = b.length > room ? b.subarray(0, room) : b;
    s.bytes += part.length;
    s.text += s.decoder.write(part);
    return part.length === b.length;
  }

  /** The request failed: kill the worker (and the request's group), answer once the pipes are closed. */
  private fail(why: WorkerFailure): void {
    const p = this.pending;
    if (!p || p.failure !== null) return;
    p.failure = why;
    this.killTree();
    if (this.closed) this.answer();
    else this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer) return;
    this.closeTimer = setTimeout(() => {
      this.closeTimer = null;
      // A process that escaped the kill still holds the pipes: stop waiting for them.
      this.child?.stdout?.destroy();
      this.child?.stderr?.destroy();
      this.answer();
    }, this.opts.closeGraceMs);
  }

  private killTree(): void {
    this.markGone();
    const child = this.child;
    const p = this.pending;
    const group = p?.groupPid ?? null;
    if (group !== null && procStat(group)?.pgrp === group) signalGroup(group, 'SIGKILL');
    const pid = child?.pid;
    if (pid === undefined || this.exited) return;
    // Frozen, the worker cannot reap its children (their PIDs stay theirs) nor start another request.
    signalPid(pid, 'SIGSTOP');
    for (const k of childrenOf(pid)) {
      if (procStat(k)?.pgrp === k) signalGroup(k, 'SIGKILL'); // timeout(1) and everything it started
      signalPid(k, 'SIGKILL');
    }
    signalGroup(pid, 'SIGKILL');
    signalPid(pid, 'SIGKILL');
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    this.markGone();
    const p = this.pending;
    if (!p) return;
    p.workerExit = { code, signal };
    if (p.failure === null && !(p.out.done && p.err.done)) {
      // Died on its own mid-request (OOM killer, someone else's signal, malformed request): only this request fails.
      p.failure = 'died';
      const group = p.groupPid;
      if (group !== null && procStat(group)?.pgrp === group) signalGroup(group, 'SIGKILL');
      this.armCloseTimer();
    }
  }

  private onClose(): void {
    this.closed = true;
    this.exited = true;
    this.markGone();
    if (this.pending && this.pending.failure !== null) this.answer();
  }

  private answer(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    if (p.watchdog) clearTimeout(p.watchdog);
    if (p.onAbort) p.job.signal?.removeEventListener('abort', p.onAbort);
    if (this.closeTimer) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    for (const s of [p.out, p.err]) s.text += s.decoder.end();
    if (!this.gone) this.setRef(false);
    p.resolve({
      stdout: p.out.text,
      stderr: p.err.text,
      status: p.status,
      failure: p.failure,
      workerExit: p.workerExit,
      spawnError: p.spawnError,
      groupPid: p.groupPid,
    });
  }
}
