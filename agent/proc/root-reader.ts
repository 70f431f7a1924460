/**
 * The containers' mount tables and roots read in ONE worker thread with synchronous calls (root-worker.ts), instead
 * of one thread-pool round trip, promise and deadline race per step on the main thread: at 110 pods (220
 * containers, ~8 calls each) that is most of the proc collector's CPU.
 *
 * Safety is the point of the thread: a call that blocks (a FUSE or NFS server that never answers, a mount table
 * behind a stuck lock) blocks that thread, never the event loop. The worker stores the index of the container it
 * is reading in a shared word; a watchdog here polls it, and when one container has been read for longer than its
 * budget plus `graceMs`, that container is reported unread (`timeout` on mounts, dns and jvm: never `clean`), the
 * thread is abandoned (terminated; a thread stuck in the kernel ends when its call does) and the other containers
 * are read again by a fresh thread. A worker that cannot start or dies before its first container leaves the
 * containers to the main thread's thread-pool reads (root-facts.ts without `sync`), as without this reader.
 *
 * A container that got its thread abandoned is not read again while that thread is still alive (it ends when its
 * call returns): it is reported unread at once, so a mount that stays stuck costs one thread and the fds its read
 * holds, not one more of each per collection. Termination skips the thread's `finally`, but when the thread ends Node
 * closes the fds it opened with fs.open (Worker's trackUnmanagedFds, true by default; test/proc/root-reader.test.ts
 * checks the stuck root's fd is gone once the thread has ended).
 *
 * With `lease` (the exporter: the netlink pool's lease(), netns/netlink/pool.ts) the reads run on a pool thread
 * lent for the request instead of a thread of its own: one V8 isolate fewer. The watchdog is the same; abandoning
 * a lent thread terminates it (the pool starts another when it needs one). When no pool thread can be had, or the
 * lent one dies before its first container, the request goes to a thread of the reader's own, as without `lease`.
 *
 * A container whose facts are unchanged since the thread last posted them to this reader comes back as `null` and
 * the reader hands out the object it already holds (root-memo.ts: exact comparison on the thread, generations so
 * that a replaced or other thread always answers whole). With `mountEvents`, each request carries the containers'
 * mount-event tickets, and a thread skips the mount tables that cannot have changed (mount-quiet.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MessagePort, Worker } from 'node:worker_threads';
import { AgentError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { workerLimits } from '../worker-limits.js';
import { startWorker, terminateLoaded } from '../worker-loaded.js';
import type { MountEvents } from './mount-events.js';
import { readRootFacts, type RootFacts, type RootJob } from './root-facts.js';
import type { ThreadLease } from '../netns/netlink/pool.js';
import type { RootReply, RootRequest } from './root-serve.js';
import { MainRootMemo } from './root-memo.js';

export interface RootReaderOptions {
  /** Extra time past a container's budget before its worker is abandoned, ms (default 1000). */
  graceMs?: number;
  /** How often the watchdog looks at the worker's progress, ms (default 100). */
  pollMs?: number;
  /** Stop the idle worker after this long, ms (default 60 s: longer than a collection interval). */
  idleMs?: number;
  /** V8 old-generation limit of the worker, MB (default 64: a mount table is capped at 1 MiB). */
  heapMb?: number;
  /** A thread lent by the netlink pool for one request (see the header); without it, a thread of the reader's own. */
  lease?: () => Promise<ThreadLease>;
  /** Where its own threads say what the operator should know (fds an ended thread left that could not be closed). */
  log?: Logger;
  /**
   * The containers' mount events (the exporter, where the kernel allows them): a mount table that showed nothing
   * and had no event since is not read again (mount-events.ts, mount-quiet.ts). Without them every one is read.
   * Closed with the reader.
   */
  mountEvents?: MountEvents;
}

/** The thread one request runs on, and where its messages go. */
interface Borrowed {
  worker: Worker;
  port: Worker | MessagePort;
  /** Lent by the pool (else the reader's own). */
  lent: boolean;
  /** The request is answered: the thread may take the next one. */
  release(): void;
  /** The thread moved on to its next container (a lent thread: the pool then needs no spare yet). */
  progress(): void;
  /** The thread is stuck or dead: terminate it. */
  abandon(): void;
}

/** root-worker.js next to this module; under vitest (TypeScript sources) the compiled one in dist/. */
export function rootWorkerUrl(): URL {
  const here = new URL('./root-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const src = fileURLToPath(import.meta.url);
  const dist = src.replace(/\/agent\/proc\/root-reader\.ts$/, '/dist/agent/proc/root-worker.js');
  if (dist !== src && existsSync(dist)) return pathToFileURL(dist);
  throw new AgentError('ROOT_READER', `root-worker.js not found next to ${src} nor in dist/ (run npm run build)`);
}

/** `thread`: the abandoned worker when it is still blocked on that container (not when it died). */
type Outcome =
  | { kind: 'done'; results: RootFacts[] }
  | { kind: 'stuck'; index: number; why: string; thread?: Worker }
  | { kind: 'unavailable'; why: string; lent: boolean };

const stuckKey = (job: RootJob): string => `${job.pid}\u0000${job.container.id}`;

/** A container the worker never answered for: every source that needed its root or mount table is unknown. */
export function unanswered(job: RootJob, why: string): RootFacts {
  const error = { reason: 'timeout', container: job.container.name, message: `${job.container.name}: ${why}` };
  return { mounts: [], incomplete: [{ source: 'mounts', error }, { source: 'dns', error }, { source: 'jvm', error }], dns: null, jvm: null };
}

export class RootReader {
  private worker: Worker | null = null;
  private idle: NodeJS.Timeout | null = null;
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private busy = false;
  /** Workers started (its own), and abandoned (stuck or dead, its own or lent), for tests and the self metrics. */
  started = 0;
  /** Requests run on a thread lent by the pool. */
  lent = 0;
  abandoned = 0;
  /** Containers read on the main thread because no worker could run. */
  inThread = 0;
  /** Mount tables the threads did not read because no mount event said they changed (mountEvents). */
  quietMountTables = 0;
  /** Containers (pid and id) whose abandoned thread has not ended yet, with when it was abandoned. */
  private readonly stuck = new Map<string, number>();
  /** The facts last accepted from each thread, per container (root-memo.ts). */
  readonly memo = new MainRootMemo();

  /** Whether mount tables are skipped on mount events (mountEvents given, and its group still working). */
  get watchesMounts(): boolean {
    return this.opts.mountEvents !== undefined && this.opts.mountEvents.broken === null;
  }

  /** Abandoned threads still blocked in the kernel (one per container whose read is stuck), until their call returns. */
  get blockedThreads(): number {
    return this.stuck.size;
  }
  private closed = false;

  constructor(private readonly opts: RootReaderOptions = {}) {}

  /** Every job's facts, in the jobs' order. One read at a time (reads queue). */
  read(jobs: readonly RootJob[]): Promise<RootFacts[]> {
    const run = this.queue.then(() => this.readAll(jobs));
    this.queue = run.catch((err: unknown) => void err); // the caller gets the error; the queue goes on
    return run;
  }

  /** Stops the worker once the reads queued so far are done, and closes `mountEvents` (the reader owns them). */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.stopWorker();
    this.opts.mountEvents?.close();
  }

  private async stopWorker(): Promise<void> {
    if (this.busy) return; // a read started since: its own idle timer comes later
    this.stopIdle();
    const w = this.worker;
    this.worker = null;
    if (w) await terminateLoaded(w);
  }

  private async readAll(jobs: readonly RootJob[]): Promise<RootFacts[]> {
    if (this.closed) throw new AgentError('ROOT_READER', 'the root reader is closed');
    this.stopIdle();
    this.busy = true;
    try {
      return await this.readEach(jobs);
    } finally {
      this.busy = false;
      this.idle = setTimeout(() => void this.stopWorker(), this.opts.idleMs ?? 60_000);
      this.idle.unref();
    }
  }

  private async readEach(jobs: readonly RootJob[]): Promise<RootFacts[]> {
    const out = new Array<RootFacts>(jobs.length);
    let todo: number[] = [];
    let lease = this.opts.lease !== undefined;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const since = this.stuck.size === 0 ? undefined : this.stuck.get(stuckKey(job)); // no key string per job when none is stuck
      if (since === undefined) todo.push(i);
      else out[i] = unanswered(job, `its last read has been blocked in the kernel for ${Math.round((performance.now() - since) / 1000)} s, not read again until it returns`);
    }
    while (todo.length > 0) {
      const batch: RootJob[] = [];
      for (const i of todo) batch.push(jobs[i]!);
      const r = await this.once(batch, lease);
      if (r.kind === 'done') {
        for (let k = 0; k < todo.length; k++) out[todo[k]!] = r.results[k]!;
        break;
      }
      if (r.kind === 'unavailable' && r.lent) {
        lease = false; // no pool thread for this read: the reader's own thread takes it
        continue;
      }
      if (r.kind === 'unavailable') {
        for (const i of todo) out[i] = await readRootFacts(jobs[i]!);
        this.inThread += todo.length;
        break;
      }
      const stuckJob = jobs[todo[r.index]!]!;
      out[todo[r.index]!] = unanswered(stuckJob, r.why);
      todo = todo.filter((_, k) => k !== r.index);
      if (r.thread) this.markStuck(stuckKey(stuckJob), r.thread);
    }
    return out;
  }

  private stopIdle(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
  }

  private spawn(): Worker {
    const heap = this.opts.heapMb ?? 64;
    const w = startWorker(rootWorkerUrl(), { resourceLimits: workerLimits(heap) }, this.opts.log ?? silentLogger());
    w.unref(); // an idle reader never keeps the process alive; a read in progress is kept alive by its watchdog
    this.started++;
    return w;
  }

  /** `key`'s read stays skipped until `thread` (abandoned on it) has ended. */
  private markStuck(key: string, thread: Worker): void {
    this.stuck.set(key, performance.now());
    thread.once('exit', () => this.stuck.delete(key));
  }

  private abandon(w: Worker): void {
    this.abandoned++;
    if (this.worker === w) this.worker = null;
    w.removeAllListeners();
    w.on('error', (err) => void err); // a late error of a thread being abandoned has nobody to tell
    void terminateLoaded(w).catch((err: unknown) => void err); // not while it loads koffi (worker-loaded.ts)
  }

  /** A thread for one request: lent by the pool (`lease`), else the reader's own (started if needed). */
  private async borrow(lease: boolean): Promise<Borrowed | { unavailable: string }> {
    if (lease && this.opts.lease) {
      let l: ThreadLease;
      try {
        l = await this.opts.lease();
      } catch (err) {
        return { unavailable: `no pool thread: ${errorMessage(err)}` };
      }
      this.lent++;
      return {
        worker: l.worker, port: l.port, lent: true, release: () => l.release(), progress: () => l.progress(),
        abandon: () => {
          this.abandoned++;
          l.abandon();
        },
      };
    }
    try {
      const w = (this.worker ??= this.spawn());
      return { worker: w, port: w, lent: false, release: () => undefined, progress: () => undefined, abandon: () => this.abandon(w) };
    } catch (err) {
      return { unavailable: errorMessage(err) };
    }
  }

  /** One request to a thread, watched until it answers, gets stuck or dies. */
  private async once(jobs: RootJob[], lease: boolean): Promise<Outcome> {
    const t = await this.borrow(lease);
    if ('unavailable' in t) return { kind: 'unavailable', why: t.unavailable, lent: lease };
    const w = t.worker;
    const port = t.port;
    const progress = new Int32Array(new SharedArrayBuffer(4));
    progress[0] = -1;
    const id = this.nextId++;
    const known = this.memo.known(w, jobs);
    // After the thread is had: the marks these tickets stand for are made before the request is posted.
    const tickets = this.opts.mountEvents?.tickets(jobs);
    return new Promise<Outcome>((resolve, reject) => {
      let seen = -1;
      let since = performance.now();
      const unlisten = (): void => {
        clearInterval(watchdog);
        port.off('message', onMessage);
        w.off('error', onDeath).off('exit', onExit);
      };
      const finish = (o: Outcome): void => {
        unlisten();
        if (o.kind === 'done') t.release();
        else t.abandon();
        resolve(o);
      };
      // Dead before its first container: the worker cannot run (a missing script, no memory): the main thread reads.
      // Dead on one: that container (read from the progress word now, not the watchdog's last look) is unread.
      const died = (why: string): Outcome => {
        const at = Atomics.load(progress, 0);
        return at < 0 ? { kind: 'unavailable', why, lent: t.lent } : { kind: 'stuck', index: at, why: `the root reader thread died (${why})` };
      };
      const onDeath = (err: Error): void => finish(died(errorMessage(err)));
      const onExit = (code: number): void => finish(died(`exit code ${code}`));
      const onMessage = (m: RootReply): void => {
        if (m.id !== id) return;
        if ('error' in m) {
          unlisten();
          t.release();
          // A bug, not the pod's doing: the worker is fine, the read fails (the collector reports it).
          reject(new AgentError('ROOT_READER', `root reader: ${m.error}`));
          return;
        }
        let results: RootFacts[];
        try {
          results = this.memo.accept(w, jobs, known, m.results, m.gens);
        } catch (err) {
          unlisten();
          t.release();
          reject(err);
          return;
        }
        this.quietMountTables += m.quiet;
        finish({ kind: 'done', results });
      };
      const watchdog = setInterval(() => {
        const at = Atomics.load(progress, 0);
        const now = performance.now();
        if (at !== seen) {
          seen = at;
          since = now;
          t.progress();
          return;
        }
        const budget = (seen < 0 ? 10_000 : jobs[seen]!.timeoutMs) + (this.opts.graceMs ?? 1000);
        if (now - since <= budget) return;
        finish(seen < 0 ? { kind: 'unavailable', why: `the root reader thread did not start within ${budget} ms`, lent: t.lent } : { kind: 'stuck', index: seen, why: `no answer from the root reader within ${budget} ms`, thread: w });
      }, this.opts.pollMs ?? 100);
      port.on('message', onMessage);
      w.on('error', onDeath).on('exit', onExit);
      port.postMessage({ id, jobs, known, progress: progress.buffer as SharedArrayBuffer, ...(tickets ? { tickets } : {}) } satisfies RootRequest);
    });
  }
}
