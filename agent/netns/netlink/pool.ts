/**
 * A small pool of worker threads running netlink namespace reads (worker-main.ts). Why threads: setns(2) moves only
 * the calling thread, and the FFI calls are synchronous, so a read on the main thread would block the event loop for
 * its whole duration; in a worker it costs the main thread only the structured clone of the result.
 *
 * Workers start on demand, stop after `idleMs` without work, and are replaced when one dies (out of memory: each has
 * a V8 heap limit, so a hostile namespace costs a read, not the agent) or overruns its job's budget by more than
 * `graceMs` (terminated; the job fails with a timeout). A thread reads one job at a time, in order, but is sent up to
 * PIPELINE_DEPTH of them at once (FIFO queue): it starts the next as soon as it posted an answer, instead of waiting
 * for the main thread, busy with the /proc scan between two of its messages, to hand it one (see PIPELINE_DEPTH).
 * Jobs sent behind a read that makes no progress for `spareAfterMs` are taken back for another thread or a spare
 * (pool-stalls.ts takeBackFromStuck, pool-slot.ts Slot.epoch).
 *
 * One thread is the rule, `size` the most: a thread beyond the first starts only when every running thread has
 * been on its job (or on its lease since the lease last reported progress) for `spareAfterMs`, i.e. when a read is
 * slow or stuck, not when the queue is merely long; and a spare stops as soon as it finds the queue empty. Why:
 * a read replayed from its tape takes ~0.3-0.7 ms, so one thread reads 110 namespaces and the roots in well under
 * 200 ms, and every extra thread is a V8 isolate (~8-12 MB of serve's VmRSS, ~25 ms of CPU per collection at 110 pods:
 * its own GC and compiler work).
 * A namespace behind a stuck lock (rtnl during a namespace teardown, a hostile ruleset) still holds up the others
 * only `spareAfterMs`, not until its budget runs out.
 *
 * Unchanged namespaces are not decoded nor posted again: the pool keeps, per namespace (path and inode), the last
 * state a worker posted, the id of the job that read it and that read's tape (tape.ts); the thread keeps the tape
 * too, decoded, under the same id (tape-cache.ts). The next job of the namespace names that id, with the tape's bytes
 * only when it goes to another thread (a spare, a replacement). The thread replays that very tape, and when every
 * answer is the same it answers `unchanged` and the kept state is returned again, the same object. So the state an
 * `unchanged` refers to is always the one read with the replayed tape (job ids are unique in a pool). States
 * are therefore shared between reads: nobody may modify a NetnsState the reader returned. Entries not read for
 * `keepMs` are dropped; the key only finds a tape, the replay decides (a recycled inode replays differently). A
 * namespace whose replays keep missing (counters moving with traffic) is read without replay for a while
 * (kept-reads.ts).
 *
 * A thread can also be lent whole (lease()) to the root reader (agent/proc/root-reader.ts), which posts its
 * requests on the thread's side port (thread-main.ts) and watches it itself: one isolate fewer than a thread of its
 * own (~8-12 MB of VmRSS at 110 pods). Leases go before queued reads; a lent thread takes no read until given back,
 * and one abandoned (stuck in the kernel, or dead) is terminated and replaced on demand like any other.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NetlinkError, errorMessage } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { terminateLoaded } from '../../worker-loaded.js';
import type { NetlinkJob } from './read-namespace.js';
import { KeptReads } from './kept-reads.js';
import { AbortWatch } from './abort-watch.js';
import type { JobMessage, ReplyMessage, RetainMessage } from './worker-main.js';
import { tapeCacheKey } from './tape-cache.js';
import { PIPELINE_DEPTH, isFree, type LeaseWait, type Pending, type PoolResult, type Slot, type ThreadLease } from './pool-slot.js';
import { PoolStalls, SPARE_AFTER_MS } from './pool-stalls.js';
import { startSlot } from './pool-thread.js';

export { PIPELINE_DEPTH, type PoolResult, type ThreadData, type ThreadLease } from './pool-slot.js';
export { SPARE_AFTER_MS } from './pool-stalls.js';

export interface PoolOptions {
  size: number;
  /** Stop a worker after this long without a job (default 60 s: longer than a collection interval). */
  idleMs?: number;
  /** Extra time past a job's budget before its worker is terminated (default 1 s). */
  graceMs?: number;
  /** V8 old-generation limit of each worker, MB (default 96). */
  heapMb?: number;
  /** Drop a namespace's kept state and tape after this long without a read (default 10 min). */
  keepMs?: number;
  /**
   * Start a thread beyond the first only when every running one has made no progress for this long (default
   * SPARE_AFTER_MS); 0 starts one per waiting job up to `size`, as a plain pool does.
   */
  spareAfterMs?: number;
  /** Where the pool's threads say what the operator should know (fds an ended thread left that could not be closed). */
  log?: Logger;
}

/** thread-main.js next to this module; under vitest (TypeScript sources) the compiled one in dist/. */
export function workerUrl(): URL {
  const here = new URL('./thread-main.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const src = fileURLToPath(import.meta.url);
  const dist = src.replace(/\/agent\/netns\/netlink\/pool\.ts$/, '/dist/agent/netns/netlink/thread-main.js');
  if (dist !== src && existsSync(dist)) return pathToFileURL(dist);
  throw new NetlinkError('netlink pool', 'spawn', `worker script not found next to ${src} nor in dist/ (run npm run build)`);
}

export class NetlinkPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private readonly leases: LeaseWait[] = [];
  private readonly kept: KeptReads;
  /** The pending reads' signals, one listener each (abort-watch.ts). */
  private readonly aborts = new AbortWatch<Pending>((p) => this.abort(p));
  /** Which threads are slow or stuck, and the timers that pump() again when that changes (pool-stalls.ts). */
  private readonly stalls: PoolStalls;
  private nextId = 1;
  private closed = false;
  /** Workers started (for the self metrics and tests). */
  started = 0;
  /** Workers that died or were terminated. */
  replaced = 0;
  /** Threads started beyond the first because every running one was slow or stuck (see the header). */
  spares = 0;
  constructor(private readonly opts: PoolOptions) {
    this.kept = new KeptReads(opts.keepMs ?? 600_000);
    this.stalls = new PoolStalls(opts.spareAfterMs ?? SPARE_AFTER_MS, () => this.pump());
  }

  /** Jobs taken back from a thread stuck on the read before them (Slot.epoch). */
  get takenBack(): number {
    return this.stalls.takenBack;
  }

  /** Reads answered `unchanged` (the kept state returned again). */
  get reused(): number {
    return this.kept.reused;
  }

  /** Reads made without their replay, the namespace's replays having missed in a row (back-off). */
  get replaysSkipped(): number {
    return this.kept.replaysSkipped;
  }

  read(job: NetlinkJob, signal?: AbortSignal): Promise<PoolResult> {
    if (this.closed) return Promise.reject(new NetlinkError('netlink pool', 'spawn', 'the pool is closed'));
    if (signal?.aborted) return Promise.reject(new NetlinkError('netlink read', 'timeout', 'aborted before it started'));
    return new Promise<PoolResult>((resolve, reject) => {
      const p: Pending = { id: this.nextId++, job, kept: this.kept.forJob(job), resolve, reject, signal };
      if (signal) this.aborts.add(signal, p);
      this.queue.push(p);
      this.pump();
    });
  }

  /** A thread lent whole until released or abandoned (see the header); before any queued read. */
  lease(): Promise<ThreadLease> {
    if (this.closed) return Promise.reject(new NetlinkError('netlink pool', 'spawn', 'the pool is closed'));
    return new Promise<ThreadLease>((grant, reject) => {
      this.leases.push({ grant, reject });
      this.pump();
    });
  }

  /**
   * The namespaces of the collection that just ended (their jobs' path and inode): each thread closes the sockets it
   * keeps for any other (a pod gone: sessions.ts), so no namespace is held past the next collection.
   */
  retain(jobs: readonly Pick<NetlinkJob, 'path' | 'inode'>[]): void {
    const keys: string[] = [];
    for (const j of jobs) if (j.inode !== null) keys.push(tapeCacheKey(j.path, j.inode));
    for (const s of this.slots) s.worker.postMessage({ retain: keys } satisfies RetainMessage);
  }

  /** Terminate every worker and fail what is queued. */
  async close(): Promise<void> {
    this.closed = true;
    this.kept.clear();
    this.stalls.close();
    for (const l of this.leases.splice(0)) l.reject(new NetlinkError('netlink pool', 'spawn', 'the pool was closed'));
    const closed = (): NetlinkError => new NetlinkError('netlink read', 'timeout', 'the reader was closed');
    // Each slot's head fails with its stop; the jobs sent behind it come back to the queue, failed with it below.
    const stopping = this.slots.splice(0).map((s) => this.stop(s, closed()));
    for (const p of this.queue.splice(0)) this.settle(p, closed());
    await Promise.all(stopping);
  }

  /** Threads running (busy, lent or idle). */
  get threads(): number {
    return this.slots.length;
  }

  get busy(): number {
    return this.slots.filter((s) => s.jobs.length > 0 || s.lent).length;
  }

  /** Reads sent to threads and not answered yet (at most PIPELINE_DEPTH per thread). */
  get sent(): number {
    let n = 0;
    for (const s of this.slots) n += s.jobs.length;
    return n;
  }

  /** Reads waiting for a thread. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * A thread for the next lease (a free one) or read (a free one, else one with room in its pipeline that is moving:
   * nothing is added behind a read that makes no progress). While a lease waits, reads are sent to free threads only,
   * so that a busy one drains and can be lent.
   */
  private slotFor(lease: boolean): Slot | undefined {
    const free = this.slots.find(isFree);
    if (free || lease || this.leases.length > 0) return free;
    return this.slots.find((s) => !s.lent && s.jobs.length < PIPELINE_DEPTH && this.stalls.moving(s));
  }

  private pump(): void {
    this.stalls.takeBackFromStuck(this.slots, this.queue);
    this.feed();
    this.stalls.watchStuck(this.slots);
  }

  private feed(): void {
    while (this.leases.length > 0 || this.queue.length > 0) {
      let slot = this.slotFor(this.leases.length > 0);
      if (!slot) {
        if (this.slots.length >= this.opts.size || !this.stalls.spareDue(this.slots)) return;
        if (this.slots.length > 0) this.spares++;
        try {
          slot = this.spawn();
        } catch (err) {
          // No thread can start (its script is missing): what waits fails now rather than never.
          const why = err instanceof NetlinkError ? err : new NetlinkError('netlink pool', 'spawn', `cannot start a reader thread: ${errorMessage(err)}`, { cause: err });
          for (const l of this.leases.splice(0)) l.reject(why);
          for (const p of this.queue.splice(0)) this.settle(p, why);
          return;
        }
      }
      const l = this.leases.shift();
      if (l) this.lend(slot, l);
      else this.assign(slot, this.queue.shift()!);
    }
  }

  private lend(slot: Slot, l: LeaseWait): void {
    slot.idle.clear();
    slot.lent = true;
    slot.since = performance.now();
    let done = false;
    l.grant({
      worker: slot.worker,
      port: slot.port,
      progress: () => {
        if (!done) slot.since = performance.now();
      },
      release: () => {
        if (done) return;
        done = true;
        slot.lent = false;
        if (!this.slots.includes(slot)) return; // died meanwhile: already replaced
        this.release(slot);
        this.pump();
      },
      abandon: () => {
        if (done) return;
        done = true;
        slot.lent = false;
        if (this.slots.includes(slot)) this.replaced++; // else counted when it died
        void this.stop(slot, null);
      },
    });
  }

  private spawn(): Slot {
    const slot = startSlot(workerUrl(), this.opts.heapMb ?? 96, (s) => this.overrun(s), (s) => void this.stop(s, null), this.opts.log ?? silentLogger());
    const worker = slot.worker;
    this.started++;
    worker.on('message', (m: ReplyMessage) => this.onReply(slot, m));
    worker.on('error', (err) => this.onExit(slot, err));
    worker.on('exit', (code) => this.onExit(slot, new NetlinkError('netlink read', 'spawn', `the reader thread exited (code ${code})`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private assign(slot: Slot, p: Pending): void {
    slot.idle.clear();
    slot.jobs.push(p);
    if (slot.jobs.length === 1) this.headStarted(slot);
    // The tape's bytes go only to a thread that does not keep it decoded already (a spare, a replacement). The
    // holder is the thread of the last answer taken; one ahead in this pipeline may change it: the thread then
    // has the tape it needs or reads in full (tape-cache.ts tapeToReplay finds no tape under that id).
    const k = p.kept;
    const previous = k === null ? null : { id: k.tapeId, tape: k.holder === slot.worker.threadId ? null : k.tape };
    slot.worker.postMessage({ id: p.id, job: p.job, previous, epoch: Atomics.load(slot.epoch, 0) } satisfies JobMessage);
  }

  /** The slot's head job is the one its thread reads now: progress, and that job's budget from now. */
  private headStarted(slot: Slot): void {
    slot.since = performance.now();
    slot.worker.ref(); // a pending read keeps the process alive (a CLI awaiting it has nothing else running)
    slot.watchdog.set(slot.since + slot.jobs[0]!.job.budgetMs + this.graceMs);
  }

  private get graceMs(): number {
    return this.opts.graceMs ?? 1000;
  }

  /** The slot's job ran past its budget + grace: terminate the thread, the job fails with a timeout. */
  private overrun(slot: Slot): void {
    const p = slot.jobs[0];
    if (p === undefined) return;
    const err = new NetlinkError('netlink read', 'timeout', `${p.job.path}: no answer within ${p.job.budgetMs + this.graceMs} ms; reader thread terminated`);
    void this.stop(slot, err);
  }

  private onReply(slot: Slot, m: ReplyMessage): void {
    const p = slot.jobs[0];
    if (!p || p.id !== m.id) return; // a job taken back and read anyway (Slot.epoch), or of a stopped slot
    slot.jobs.shift();
    if (slot.jobs.length > 0) this.headStarted(slot);
    else this.release(slot);
    if (m.ok) {
      const cpuSeconds = m.cpuMicros / 1e6;
      if (m.unchanged) this.settle(p, null, { state: this.kept.unchanged(p.kept!, slot.worker.threadId), cpuSeconds, unchanged: true });
      else {
        this.kept.full(p.job, p.id, p.kept, m, slot.worker.threadId);
        this.settle(p, null, { state: m.state, cpuSeconds, unchanged: false });
      }
    }
    else this.settle(p, new NetlinkError('netlink read', m.error.reason as NetlinkError['reason'], m.error.message, { errno: m.error.errno }));
    this.pump();
  }

  private release(slot: Slot): void {
    slot.watchdog.clear();
    slot.worker.unref();
    // A spare whose work is done stops now, when another thread is there and not stuck: one thread is the rule. (A
    // thread stuck on one read is terminated at that read's budget: this one is then the thread left.)
    if (this.queue.length === 0 && this.leases.length === 0 && this.slots.some((o) => o !== slot && this.stalls.moving(o))) {
      void this.stop(slot, null);
      return;
    }
    slot.idle.set(performance.now() + (this.opts.idleMs ?? 60_000));
  }

  private onExit(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    this.replaced++;
    slot.watchdog.dispose();
    slot.idle.dispose();
    if (!slot.lent) slot.port.close(); // a lent one is closed when its holder abandons it
    const p = this.takeAll(slot);
    if (p) {
      const why = err instanceof NetlinkError ? err : new NetlinkError('netlink read', 'spawn', `the reader thread failed: ${err.message}`, { cause: err });
      this.settle(p, why);
    }
    if (!this.closed) this.pump();
  }

  /** Terminate a worker; its job (if any) fails with `err`. */
  private async stop(slot: Slot, err: NetlinkError | null): Promise<void> {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    slot.watchdog.dispose();
    slot.idle.dispose();
    const p = this.takeAll(slot);
    if (p && err) {
      this.replaced++;
      this.settle(p, err);
    } else if (p) {
      this.queue.unshift(p); // a slot stopped without an error (idle, spare, lease) holds no job; if it did, it is read again
    }
    if (!slot.lent) {
      slot.worker.removeAllListeners('exit');
      slot.worker.removeAllListeners('error');
      slot.worker.on('error', () => undefined); // a late error of a thread being terminated has nobody to tell
    } // else (closing the pool) its holder hears of the exit and abandons it
    slot.port.close();
    await terminateLoaded(slot.worker); // not while it loads koffi: that aborts the process (worker-loaded.ts)
    if (!this.closed) this.pump();
  }

  /**
   * Empty the slot: its head job returned (the caller fails it), the jobs behind it back to the front of the queue
   * (the thread is going away: they were never started, or their answers will not be taken).
   */
  private takeAll(slot: Slot): Pending | undefined {
    const [head, ...rest] = slot.jobs.splice(0);
    if (rest.length > 0) this.queue.unshift(...rest);
    return head;
  }

  private abort(p: Pending): void {
    const q = this.queue.indexOf(p);
    if (q >= 0) {
      this.queue.splice(q, 1);
      this.settle(p, new NetlinkError('netlink read', 'timeout', 'aborted'));
      return;
    }
    const slot = this.slots.find((s) => s.jobs.includes(p));
    if (!slot) return;
    if (slot.jobs[0] === p) {
      void this.stop(slot, new NetlinkError('netlink read', 'timeout', 'aborted'));
      return;
    }
    // Sent but not started: failed now. The thread still reads it; its answer is ignored (not the head when it comes).
    slot.jobs.splice(slot.jobs.indexOf(p), 1);
    this.settle(p, new NetlinkError('netlink read', 'timeout', 'aborted'));
  }

  private settle(p: Pending, err: Error | null, result?: PoolResult): void {
    if (p.signal) this.aborts.delete(p.signal, p);
    if (err) p.reject(err);
    else p.resolve(result!);
  }
}
