/**
 * Entry point of a netlink reader worker thread: takes one job at a time from the pool, reads the namespace
 * synchronously (setns moves only this thread) and posts the NetnsState back with the read's tape, or only
 * `unchanged` when the tape of the job the pool names (`previous`) replays identically (tape.ts; the pool then
 * reuses the state it holds under that job's id). The thread keeps its tapes decoded (tape-cache.ts), so a job to the
 * thread that holds its tape carries no tape bytes and nothing is decoded again; another thread (a spare, a
 * replacement) is sent the bytes. A thread that could not return to its own namespace exits at once; the pool
 * replaces it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AgentError, NetlinkError, errorMessage } from '../../errors.js';
import { StrandedThreadError } from './enter.js';
import { readNamespaceTaped, type NetlinkJob, type Session } from './read-namespace.js';
import { NamespaceSessions } from './sessions.js';
import { TapeCache, tapeCacheKey, tapeCacheOptionsFor, tapeToReplay, type PreviousTape } from './tape-cache.js';
import type { ThreadData } from './pool.js';
import type { NetnsState } from '../state.js';
import { NETLINK_SOURCES } from './sources.js';
import { threadCpuNanos } from './thread-cpu.js';
import { lowerThreadPriority } from '../../thread-priority.js';
import { markLoaded } from '../../worker-loaded.js';
import { libc } from './libc.js';

export interface JobMessage {
  id: number;
  job: NetlinkJob;
  /**
   * The tape to replay, when the pool still holds the state of the read that recorded it: that job's id, and the
   * tape's bytes unless this thread is the one that kept it (tape-cache.ts tapeToReplay).
   */
  previous: PreviousTape | null;
  /** The thread's epoch when the pool sent it (pool-slot.ts Slot.epoch): older than the shared word's, it was taken back. */
  epoch: number;
}

/** The namespaces (tapeCacheKey) whose sessions the thread keeps; the others are closed (sessions.ts). */
export interface RetainMessage {
  retain: string[];
}

export type ReplyMessage =
  /** Every answer the same as on job `previous`'s tape: the state that read gave is still the namespace's state. */
  | { id: number; ok: true; unchanged: true; cpuMicros: number }
  /**
   * A full read. `tape`: its tape, which this thread now keeps under this job's id too (null: the job had no inode,
   * or the read cannot be replayed). `replayed`: a tape was replayed first and missed (false: none to replay); a tape
   * whose key no longer matches (the legacy tables or sockets changed) counts as a miss too: the namespace changed.
   */
  | { id: number; ok: true; unchanged: false; state: NetnsState; tape: Uint8Array | null; replayed: boolean; cpuMicros: number }
  | { id: number; ok: false; error: { name: string; message: string; reason: string; errno: number }; cpuMicros: number };

/** The thread's CPU since `cpu0` (threadCpuNanos), µs. A function, not a closure made per job (collect/netns.ts readGroup). */
function cpuMicrosSince(cpu0: number): number {
  return Math.max(0, Math.round((threadCpuNanos() - cpu0) / 1000));
}

const port = parentPort;
if (port) {
  lowerThreadPriority(); // the event loop first on a busy core (thread-priority.ts); a failure changes nothing else
  // koffi loaded (lowerThreadPriority) and the reader's bindings made, before the thread may be terminated: a thread
  // terminated while koffi initialises aborts the process (worker-loaded.ts). A failure is the first read's to report.
  try {
    libc();
  } catch (err) {
    void err;
  }
  markLoaded();
  const data = workerData as Partial<ThreadData> | null;
  const tapes = new TapeCache(tapeCacheOptionsFor(data?.heapMb));
  const epoch = data?.epoch ? new Int32Array(data.epoch) : null;
  const sessions = new NamespaceSessions<Session>();
  port.on('message', (msg: JobMessage | RetainMessage) => {
    if ('retain' in msg) {
      sessions.retain(new Set(msg.retain));
      return;
    }
    // Taken back by the pool before this thread started it (given to a spare): neither read nor answered.
    if (epoch !== null && msg.epoch < Atomics.load(epoch, 0)) return;
    const cpu0 = threadCpuNanos();
    try {
      const { job } = msg;
      // Taken out whatever happens: only a read that ends with a tape puts one back (tape-cache.ts).
      const key = job.inode === null ? null : tapeCacheKey(job.path, job.inode);
      const kept = key === null ? null : tapeToReplay(tapes, key, msg.previous);
      const r = readNamespaceTaped(job, NETLINK_SOURCES, kept?.script ?? null, sessions);
      if (r.unchanged) {
        tapes.put(key!, kept!); // the same tape, still the one of job `previous`
        port.postMessage({ id: msg.id, ok: true, unchanged: true, cpuMicros: cpuMicrosSince(cpu0) } satisfies ReplyMessage);
      } else {
        // Decoded once, from the encoding (the thread's own copy of every buffer the read used): the very object the
        // namespace's route events vouch for (route-events.ts), so it is the one kept.
        const tape = key === null ? null : r.tape;
        if (tape !== null && r.script !== null) tapes.put(key!, { id: msg.id, script: r.script, bytes: tape.byteLength, usedAt: 0 });
        // cpuMicros is taken before the post: the structured clone of the state is not counted (as before).
        const reply: ReplyMessage = { id: msg.id, ok: true, unchanged: false, state: r.state, tape, replayed: kept !== null, cpuMicros: cpuMicrosSince(cpu0) };
        port.postMessage(reply); // the tape is copied, not transferred: it may share a pooled ArrayBuffer
      }
    } catch (err) {
      const reason = err instanceof NetlinkError ? err.reason : err instanceof AgentError ? err.code : 'spawn';
      const errno = err instanceof NetlinkError ? err.errno : 0;
      const name = err instanceof Error ? err.name : 'Error';
      port.postMessage({ id: msg.id, ok: false, error: { name, message: errorMessage(err), reason, errno }, cpuMicros: cpuMicrosSince(cpu0) } satisfies ReplyMessage);
      if (err instanceof StrandedThreadError) process.exit(70);
    }
  });
}
