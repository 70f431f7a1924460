/**
 * The command lines a /proc scan wants (scan.ts: the processes whose comm chaos-daemon starts or wraps), read after
 * the scan's synchronous walk through libuv's thread pool, never on the event loop: reading /proc/<pid>/cmdline
 * takes the target's mmap lock (access_remote_vm), which a process stuck in uninterruptible sleep (a hung NFS page
 * fault, a frozen cgroup) can hold for ever. A synchronous read there froze serve's event loop: /healthz and
 * /readyz went unanswered, the kubelet restarted the agent, whose first scan froze again.
 *
 * Every read of one scan races ONE deadline. A read still pending then is abandoned (async-read.ts: it closes its
 * own fd when its call returns); its process keeps `cmdline: null` and the scan records why (`cmdlineUnread`), so
 * what depends on the command line says unknown instead of guessing (facts.ts, bpm.ts). Such a PID is not read again
 * while its read is pending, and reads run `maxThreads` at a time at most, abandoned ones included: stuck reads
 * never hold more than `maxThreads` of the pool's 4 threads, whatever happens over many collections; the others
 * stay free for the rest of the agent's file-system calls. With all of them taken, no read starts.
 */
import { isGoneError } from './read-capped.js';
import { parseCmdline } from './proc-files.js';
import { Deadline, EXPIRED, readCappedAsync } from './async-read.js';
import type { ProcProcess } from './scan.js';
import { errorMessage } from '../errors.js';

/** Why a wanted command line is null: `timeout` (past the deadline), `blocked` (an earlier read still pending), `io`. */
export interface CmdlineUnread {
  reason: 'timeout' | 'blocked' | 'io';
  message: string;
}

/** Command-line reads still pending in the thread pool, shared by every scan that uses this reader. */
export class CmdlineReader {
  /** PIDs whose read was started and has not returned, with when it started (performance.now()). */
  readonly pending = new Map<number, number>();
  /** Reads started, and abandoned at a deadline, since this reader was made. */
  started = 0;
  abandoned = 0;
  /** `maxThreads`: reads in the pool at once at most, pending abandoned ones included (default 2 of libuv's 4). */
  constructor(readonly maxThreads = 2) {}
}

/** The agent's reader: every scan of the process shares the thread pool, so they share the bound. */
export const agentCmdlineReader = new CmdlineReader();

/** One scan's reads: the lanes take the wanted processes in turn. */
interface Batch {
  wants: readonly ProcProcess[];
  next: number;
  /** procRoot with one trailing slash. */
  base: string;
  maxBytes: number;
  deadline: Deadline;
  budgetMs: number;
  /** The deadline came during this batch: no read starts any more. */
  expired: boolean;
  reader: CmdlineReader;
  unread: Map<number, CmdlineUnread>;
  /** Processes that exited before their command line was read. */
  gone: number[];
}

/** One read, which leaves `pending` whenever it returns (before or after its deadline). */
async function readOne(reader: CmdlineReader, pid: number, path: string, maxBytes: number, until: number): Promise<{ buf: Buffer; truncated: boolean }> {
  reader.started++;
  reader.pending.set(pid, performance.now());
  try {
    return await readCappedAsync(path, maxBytes, until, true, 512);
  } finally {
    reader.pending.delete(pid);
  }
}

function blockedFor(reader: CmdlineReader, pid: number): string {
  const since = reader.pending.get(pid);
  return since === undefined ? '' : `, pending for ${Math.round((performance.now() - since) / 1000)} s`;
}

/** A lane: one read at a time until no process is left or the deadline has passed (module level: no closure per scan). */
async function lane(b: Batch): Promise<void> {
  while (b.next < b.wants.length) {
    const p = b.wants[b.next++]!;
    if (b.reader.pending.has(p.pid)) {
      b.unread.set(p.pid, { reason: 'blocked', message: `an earlier read of its command line has not returned${blockedFor(b.reader, p.pid)}: not read again until it does` });
      continue;
    }
    if (b.expired || b.deadline.left <= 0) {
      b.expired = true;
      b.unread.set(p.pid, { reason: 'timeout', message: `command lines not all read within ${b.budgetMs} ms: not started` });
      continue;
    }
    const read = readOne(b.reader, p.pid, `${b.base}${p.pid}/cmdline`, b.maxBytes, b.deadline.at);
    let r: { buf: Buffer; truncated: boolean } | typeof EXPIRED;
    try {
      r = await b.deadline.race(read);
    } catch (err) {
      if (isGoneError(err)) b.gone.push(p.pid);
      else if ((err as NodeJS.ErrnoException).code !== 'EACCES') b.unread.set(p.pid, { reason: 'io', message: `reading its command line: ${errorMessage(err)}` });
      continue;
    }
    if (r === EXPIRED) {
      b.expired = true;
      // Still pending (readOne's finally has not run): the thread it holds counts until it returns.
      if (b.reader.pending.has(p.pid)) b.reader.abandoned++;
      b.unread.set(p.pid, { reason: 'timeout', message: `its command line was not read within ${b.budgetMs} ms (blocked in the kernel?): the read is left pending, not started again until it returns` });
      continue;
    }
    p.cmdline = parseCmdline(r.buf);
    p.cmdlineTruncated = r.truncated;
  }
}

/**
 * Reads the command line of every process of `wants` (cmdline and cmdlineTruncated set on it) within `budgetMs`.
 * A process not read gets an entry in `unread`, except when it exited (its pid in `gone`) or its command line is
 * not ours to read (EACCES: null, as before).
 */
export async function readCmdlines(
  wants: readonly ProcProcess[],
  base: string,
  maxBytes: number,
  budgetMs: number,
  reader: CmdlineReader,
  unread: Map<number, CmdlineUnread>,
  gone: number[],
): Promise<void> {
  if (wants.length === 0) return;
  const free = reader.maxThreads - reader.pending.size;
  if (free <= 0) {
    const message = `${reader.pending.size} earlier command-line reads have not returned (blocked in the kernel?): no read started until one does`;
    for (const p of wants) unread.set(p.pid, { reason: 'blocked', message });
    return;
  }
  const deadline = new Deadline(Date.now() + Math.max(0, budgetMs));
  const b: Batch = { wants, next: 0, base, maxBytes, deadline, budgetMs, expired: false, reader, unread, gone };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.min(free, wants.length); i++) lanes.push(lane(b));
  try {
    await Promise.all(lanes);
  } finally {
    deadline.clear();
  }
}
