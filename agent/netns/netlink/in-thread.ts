/**
 * Netlink namespace reads on the calling thread, for one-shot CLI commands (`inspect`): the same readNamespace the
 * worker threads run (worker-main.ts), with the same error mapping, but without starting a worker, which costs a
 * second Node bootstrap and a second load of koffi and every decoder (bench/cli-start.ts). A one-shot command has no
 * event loop to protect, and each dump is still bounded by the read's deadline and byte caps; `serve` keeps the pool.
 *
 * A thread that could not return to its own namespace must not read again: every later read fails as systemic
 * (`netlink pool`), so `auto` reads through the tools from then on.
 */
import { AgentError, NetlinkError, errorMessage } from '../../errors.js';
import { StrandedThreadError } from './enter.js';
import type { PoolResult } from './pool.js';
import { readNamespace, type NetlinkJob } from './read-namespace.js';
import { NETLINK_SOURCES } from './sources.js';
import { threadCpuNanos } from './thread-cpu.js';

let stranded: string | null = null;

/** Read one namespace synchronously on this thread. Throws NetlinkError only (as the pool rejects). */
export function readOnThisThread(job: NetlinkJob): PoolResult {
  if (stranded !== null) throw new NetlinkError('netlink pool', 'spawn', `this thread is stranded in another namespace: ${stranded}`);
  const cpu0 = threadCpuNanos();
  try {
    const state = readNamespace(job, NETLINK_SOURCES);
    return { state, cpuSeconds: Math.max(0, threadCpuNanos() - cpu0) / 1e9, unchanged: false };
  } catch (err) {
    if (err instanceof StrandedThreadError) stranded = err.message;
    const reason = err instanceof NetlinkError ? err.reason : err instanceof AgentError ? err.code : 'spawn';
    const errno = err instanceof NetlinkError ? err.errno : 0;
    throw new NetlinkError('netlink read', reason as NetlinkError['reason'], errorMessage(err), { errno, cause: err });
  }
}
