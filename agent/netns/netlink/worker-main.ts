/**
 * Entry point of a netlink reader worker thread: takes one job at a time from the pool, reads the namespace
 * synchronously (setns moves only this thread) and posts the NetnsState back with the read's tape, or only
 * `unchanged` when the job's tape replays identically (tape.ts: the pool then reuses the state it holds). A thread that could not return to
 * its own namespace exits at once; the pool replaces it.
 */
import { parentPort } from 'node:worker_threads';
import { AgentError, NetlinkError, errorMessage } from '../../errors.js';
import { StrandedThreadError } from './enter.js';
import { readNamespaceTaped, type NetlinkJob } from './read-namespace.js';
import type { NetnsState } from '../state.js';
import { NETLINK_SOURCES } from './sources.js';
import { threadCpuNanos } from './thread-cpu.js';
import { lowerThreadPriority } from '../../thread-priority.js';
import { markLoaded } from '../../worker-loaded.js';
import { libc } from './libc.js';

export interface JobMessage {
  id: number;
  job: NetlinkJob;
  /** The tape of the last read of this namespace (tape.ts), when the pool still holds that read's state. */
  previous: Uint8Array | null;
}

export type ReplyMessage =
  /** Every answer the same as on `previous`: the state that tape came with is still the namespace's state. */
  | { id: number; ok: true; unchanged: true; cpuMicros: number }
  | { id: number; ok: true; unchanged: false; state: NetnsState; tape: Uint8Array | null; cpuMicros: number }
  | { id: number; ok: false; error: { name: string; message: string; reason: string; errno: number }; cpuMicros: number };

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
  port.on('message', (msg: JobMessage) => {
    const cpu0 = threadCpuNanos();
    const cpu = (): number => Math.max(0, Math.round((threadCpuNanos() - cpu0) / 1000));
    try {
      const r = readNamespaceTaped(msg.job, NETLINK_SOURCES, msg.previous);
      if (r.unchanged) {
        port.postMessage({ id: msg.id, ok: true, unchanged: true, cpuMicros: cpu() } satisfies ReplyMessage);
      } else {
        // cpuMicros is taken before the post: the structured clone of the state is not counted (as before).
        const reply: ReplyMessage = { id: msg.id, ok: true, unchanged: false, state: r.state, tape: r.tape, cpuMicros: cpu() };
        port.postMessage(reply); // the tape is copied, not transferred: it may share a pooled ArrayBuffer
      }
    } catch (err) {
      const reason = err instanceof NetlinkError ? err.reason : err instanceof AgentError ? err.code : 'spawn';
      const errno = err instanceof NetlinkError ? err.errno : 0;
      const name = err instanceof Error ? err.name : 'Error';
      port.postMessage({ id: msg.id, ok: false, error: { name, message: errorMessage(err), reason, errno }, cpuMicros: cpu() } satisfies ReplyMessage);
      if (err instanceof StrandedThreadError) process.exit(70);
    }
  });
}
