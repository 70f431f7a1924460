/**
 * A worker thread is never terminated while it loads its native modules. Terminating a thread while koffi's addon
 * initialises aborts the WHOLE process: the addon's init fails on the terminating isolate, throws, and node-addon-api
 * cannot throw there, so node dies with `FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw` (seen in CI: a
 * collection whose deadline had passed aborted reads on reader threads that were still starting). The agent
 * terminates its threads on purpose (a read past its budget, an aborted collection, a stuck root, close()), so its
 * workers are started here with a shared word in their workerData, set by the worker (markLoaded) once koffi is
 * loaded, and terminated through terminateLoaded, which waits for that word first. Bounded: a thread that never gets
 * there (or has exited) is terminated without waiting longer, as before.
 */
import { once } from 'node:events';
import { Worker, workerData, type WorkerOptions } from 'node:worker_threads';
import { errorMessage } from './errors.js';
import { closeLeftFds, newFdLedgerSlots } from './fd-ledger.js';
import type { Logger } from './log.js';

const flags = new WeakMap<Worker, Int32Array>();
/**
 * Each thread's ledger of the fds it opened through koffi, closed here once it has ended (fd-ledger.ts), with its
 * thread id (-1 once the thread has ended) and where a close that failed is said.
 */
const ledgers = new WeakMap<Worker, { slots: Int32Array; threadId: number; log: Logger }>();
/** Fds ended threads left open, closed here since start, and closes that failed (tests, the note's figures). */
export const leftFds = { closed: 0, failed: 0 };
/** Threads started by startWorker that have not exited (exit.ts: process.exit() would join them). */
const live = new Set<Worker>();

/** Atomics.waitAsync (V8 8.7+, so every Node 20; TypeScript's lib has it from es2024 only). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/**
 * `new Worker(url, opts)`, with the shared word (`workerData.loaded`) and the thread's fd ledger (`workerData.fds`,
 * fd-ledger.ts); workerData must be an object or absent. `log` hears of the fds the thread left that could not be
 * closed once it ended (a warning: never expected, each one a leak).
 */
export function startWorker(url: URL, opts: WorkerOptions, log: Logger): Worker {
  const loaded = new Int32Array(new SharedArrayBuffer(4));
  const fds = newFdLedgerSlots();
  const data = (opts.workerData ?? {}) as Record<string, unknown>;
  const w = new Worker(url, { ...opts, workerData: { ...data, loaded, fds } });
  flags.set(w, loaded);
  ledgers.set(w, { slots: fds, threadId: w.threadId, log });
  // A thread that ends on its own (an error, its heap limit, a stranded namespace) is closed for here; one whose
  // owner removed every listener first is closed for by terminateLoaded (a second pass finds the ledger empty).
  w.once('exit', () => closeLeft(w));
  live.add(w);
  return w;
}

/**
 * Threads started here and still running. process.getActiveResourcesInfo() does not list a live worker (only its
 * port once terminate() was called), yet process.exit() terminates and joins every one: exit.ts asks here.
 */
export function liveWorkers(): number {
  // threadId is -1 once the thread has exited (not the 'exit' event: owners remove every listener with removeAllListeners).
  for (const w of live) if (w.threadId === -1) live.delete(w);
  return live.size;
}

/**
 * Resolves once the worker has marked itself loaded (at once if it has, or was not started by startWorker), or after
 * `maxWaitMs`.
 */
export async function whenLoaded(worker: Worker, maxWaitMs = MAX_LOAD_WAIT_MS): Promise<void> {
  const flag = flags.get(worker);
  if (flag === undefined || Atomics.load(flag, 0) === 1) return;
  const wait = waitAsync(flag, 0, 0, maxWaitMs);
  if (wait.async) await wait.value;
}

/** In a worker started by startWorker: its native modules are loaded, it may be terminated from now on. */
export function markLoaded(): void {
  const flag = (workerData as { loaded?: unknown } | null)?.loaded;
  if (!(flag instanceof Int32Array)) return;
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

/** Longest wait for a worker to finish loading before it is terminated anyway, ms. */
export const MAX_LOAD_WAIT_MS = 10_000;

/** True once the worker has marked itself loaded (or was not started by startWorker). */
export function isLoaded(worker: Worker): boolean {
  const flag = flags.get(worker);
  return flag === undefined || Atomics.load(flag, 0) === 1;
}

/**
 * `worker.terminate()`, once the worker has marked itself loaded, has exited, or after `maxWaitMs`; then, the thread
 * having ended, the fds it opened through koffi and left open are closed (fd-ledger.ts).
 */
export async function terminateLoaded(worker: Worker, maxWaitMs = MAX_LOAD_WAIT_MS): Promise<number | undefined> {
  // threadId is -1 once the thread has exited: nothing is loading any more.
  if (worker.threadId !== -1 && !isLoaded(worker)) {
    const exited = new AbortController();
    await Promise.race([whenLoaded(worker, maxWaitMs), once(worker, 'exit', { signal: exited.signal }).catch((err: unknown) => void err)]);
    exited.abort();
  }
  const code = await worker.terminate();
  closeLeft(worker);
  return code;
}

/** Once `worker`'s thread has ended: close the fds it opened through koffi and left open (fd-ledger.ts). */
function closeLeft(worker: Worker): void {
  const ledger = ledgers.get(worker);
  if (ledger === undefined) return;
  const { closed, failed } = closeLeftFds(ledger.slots);
  leftFds.closed += closed.length;
  leftFds.failed += failed.length;
  if (failed.length === 0) return;
  ledger.log.warn(
    { threadId: ledger.threadId, fds: failed.map((f) => f.fd), closed: closed.length, err: errorMessage(failed[0]!.error) },
    'could not close fds an ended worker thread left open',
  );
}
