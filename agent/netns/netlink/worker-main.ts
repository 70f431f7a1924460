/**
 * Entry point of a netlink reader worker thread: takes one job at a time from the pool, reads the namespace
 * synchronously (setns moves only this thread) and posts the NetnsState back. A thread that could not return to
 * its own namespace exits at once; the pool replaces it.
 */
import { parentPort } from 'node:worker_threads';
import { AgentError, NetlinkError, errorMessage } from '../../errors.js';
import { StrandedThreadError } from './enter.js';
import { readNamespace, type NetlinkJob } from './read-namespace.js';
import { NETLINK_SOURCES } from './sources.js';
import { threadCpuNanos } from './thread-cpu.js';

export interface JobMessage {
  id: number;
  job: NetlinkJob;
}

export type ReplyMessage =
  | { id: number; ok: true; state: ReturnType<typeof readNamespace>; cpuMicros: number }
  | { id: number; ok: false; error: { name: string; message: string; reason: string; errno: number }; cpuMicros: number };

const port = parentPort;
if (port) {
  port.on('message', (msg: JobMessage) => {
    const cpu0 = threadCpuNanos();
    const cpu = (): number => Math.max(0, Math.round((threadCpuNanos() - cpu0) / 1000));
    try {
      const state = readNamespace(msg.job, NETLINK_SOURCES);
      port.postMessage({ id: msg.id, ok: true, state, cpuMicros: cpu() } satisfies ReplyMessage);
    } catch (err) {
      const reason = err instanceof NetlinkError ? err.reason : err instanceof AgentError ? err.code : 'spawn';
      const errno = err instanceof NetlinkError ? err.errno : 0;
      const name = err instanceof Error ? err.name : 'Error';
      port.postMessage({ id: msg.id, ok: false, error: { name, message: errorMessage(err), reason, errno }, cpuMicros: cpu() } satisfies ReplyMessage);
      if (err instanceof StrandedThreadError) process.exit(70);
    }
  });
}
