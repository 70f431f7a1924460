/**
 * How a one-shot command's process ends once its answer is out (cli.ts `run`; `serve` keeps its own shutdown).
 *
 * A command line read (proc/cmdline-reads.ts) or a root-walk call (proc/pod-root.ts) abandoned at its deadline stays
 * blocked in the kernel in one of libuv's pool threads, maybe for ever (a process stuck in D state holding its mmap
 * lock, a hung mount, a FIFO). Its request keeps the event loop alive, so a command that just returned would never
 * end, and process.exit() does not help: Node's exit runs uv_library_shutdown(), which joins the pool's threads
 * (measured on Node 20: a pending open() of a FIFO holds process.exit() until a writer comes), and a worker thread
 * blocked in a synchronous call is joined the same way.
 *
 * So: first wait until stdout and stderr have handed everything written to the kernel (a write to a pipe is done at
 * once only while the pipe has room: 4 MiB to a reader that reads later is queued, and exiting then would cut the
 * answer). Then, when nothing is left but handles process.exit() closes without waiting on a thread, process.exit();
 * otherwise _exit(2) through libc, which ends every thread at once (no atexit work: none is registered, and the logs
 * are written synchronously).
 */
import type { Writable } from 'node:stream';
import { errorMessage } from './errors.js';
import { libcLibrary } from './netns/netlink/libc.js';
import { liveWorkers } from './worker-loaded.js';

/**
 * What process.getActiveResourcesInfo() names that process.exit() closes or drops without joining a thread: handles,
 * timers, and the requests the event loop itself serves (a socket's connect, write, shutdown; not the thread pool's
 * FSReq*, GetAddrInfoReqWrap...).
 */
const CLOSED_ON_EXIT = new Set([
  'TTYWrap', 'PipeWrap', 'TCPWrap', 'UDPWrap', 'SignalWrap', 'FSEventWrap', 'Timeout', 'Immediate',
  'ConnectWrap', 'WriteWrap', 'ShutdownWrap', 'SendWrap',
]);

/**
 * A child process still running (`ProcessWrap`: a tool being killed; execa sends SIGKILL 500 ms after its SIGTERM,
 * and the tools reader kills the tool's process group 100 ms after it exits) is waited for up to this many turns
 * (1 ms timers: ~1-2 s) before the process ends: exiting, by either way, orphans it and drops those timers.
 */
const CHILD_TURNS = 1000;

/** The active resources that would hold process.exit() (thread-pool requests, worker threads, anything unknown). */
export function holdingExit(resources: readonly string[]): string[] {
  return resources.filter((r) => !CLOSED_ON_EXIT.has(r));
}

/** Resolves once everything written to `stream` so far has reached the kernel, or failed (EPIPE: nobody reads). */
export function flushed(stream: Writable): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed || stream.writableEnded) return Promise.resolve();
  // Writes complete in order: the callback of an empty write comes after every earlier one.
  return new Promise((resolve) => stream.write('', () => resolve()));
}

export interface ExitIo {
  stdout: Writable;
  stderr: Writable;
  resources: () => string[];
  /** One turn of the event loop, for what is about to finish (a handle's close, a short read) to do so. */
  tick: () => Promise<void>;
  exit: (code: number) => void;
  /** _exit(2): ends the process without joining any thread. Throws when libc cannot be called. */
  hardExit: (code: number) => void;
}

/** _exit(2) from libc (koffi is loaded only now: a command that never needed it does not pay for it otherwise). */
function libcExit(code: number): void {
  const { lib } = libcLibrary();
  lib.func('void _exit(int code)')(code);
}

const PROCESS_IO: ExitIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  // A live worker thread is not listed, but process.exit() would join it (and abort the process if it is loading
  // koffi: worker-loaded.ts): named here so that it holds the exit.
  resources: () => [...process.getActiveResourcesInfo(), ...Array<string>(liveWorkers()).fill('Worker')],
  tick: () => new Promise((resolve) => setTimeout(resolve, 1)),
  exit: (code) => process.exit(code),
  hardExit: libcExit,
};

/**
 * Turns of the event loop given to what still holds the exit before libc's _exit is used (a closing handle, a read
 * about to return: koffi's load costs ~8 ms of CPU, a few turns less).
 */
const SETTLE_TURNS = 5;

/** What still holds the exit after up to `turns` turns of the loop while `waiting(held)`. */
async function heldAfter(io: ExitIo, held: string[], waiting: (held: readonly string[]) => boolean, turns: number): Promise<string[]> {
  for (let turn = 0; waiting(held) && turn < turns; turn++) {
    await io.tick();
    held = holdingExit(io.resources());
  }
  return held;
}

/** Ends the process with `code` once stdout and stderr are flushed (see above). */
export async function exitOneShot(code: number, io: ExitIo = PROCESS_IO): Promise<void> {
  await Promise.all([flushed(io.stdout), flushed(io.stderr)]);
  let held = await heldAfter(io, holdingExit(io.resources()), (h) => h.length > 0, SETTLE_TURNS);
  held = await heldAfter(io, held, (h) => h.includes('ProcessWrap'), CHILD_TURNS);
  if (held.length === 0) {
    io.exit(code);
    return;
  }
  try {
    io.hardExit(code);
  } catch (err) {
    // No koffi or no libc here: process.exit() is all there is, and it waits for those threads.
    io.stderr.write(`chaos-node-agent: cannot end at once (${errorMessage(err)}); waiting for ${held.join(', ')}\n`);
    await flushed(io.stderr);
    io.exit(code);
  }
}
