/**
 * Size-capped reads of /proc files through libuv's thread pool, raced against ONE deadline, for the files whose
 * read can block behind another process's lock: /proc/<pid>/cmdline (the target's mmap lock, which a process stuck
 * in uninterruptible sleep can hold for ever: access_remote_vm) and a container's mountinfo and mountstats (the
 * namespace's mount lock). A synchronous read of those on the main thread would freeze the event loop (probes
 * fail, the kubelet restarts the agent, which freezes again); through the pool it blocks one pool thread at worst.
 *
 * A read owns its fd from open to close: a read still pending at the deadline is abandoned by the caller (the race
 * answers EXPIRED), goes on in the pool, and closes its fd itself when its call returns; past the deadline it
 * starts no further read() (the next one would only queue behind it). libuv's pool has 4 threads (UV_THREADPOOL_SIZE):
 * callers bound how many reads they leave pending (cmdline-reads.ts, the root reader's worker).
 */
import { constants, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { AgentError } from '../errors.js';
import { growCapped, type CappedRead } from './read-capped.js';
import { ASYNC_OPS } from './root-ops.js';

/** What a race answers when the deadline came first. */
export const EXPIRED: unique symbol = Symbol('deadline');

// Module-level promisified calls (no closure made per read: see README "V8 and per-call closures").
const openAsync = promisify(open) as (path: string, flags: number) => Promise<number>;
const readAsync = promisify(read) as (fd: number, buf: Buffer, off: number, len: number, position: null) => Promise<{ bytesRead: number }>;

/**
 * ONE deadline (Date.now() time) and one timer for every call raced against it, created at the first race (also
 * the deadline of pod-root.ts's walks). `clear()` when done: the timer would otherwise keep the process alive until
 * it fires.
 */
export class Deadline {
  private expiry: Promise<typeof EXPIRED> | null = null;
  private timer: NodeJS.Timeout | undefined;
  constructor(readonly at: number) {}

  /** ms left (<= 0: passed). */
  get left(): number {
    return this.at - Date.now();
  }

  /**
   * `p`'s value, or EXPIRED when the deadline comes first; `p` then runs on unobserved (its rejection is handled by
   * the race) and must release what it holds by itself. A rejection of `p` before the deadline is thrown.
   */
  race<T>(p: Promise<T>): Promise<T | typeof EXPIRED> {
    this.expiry ??= new Promise<typeof EXPIRED>((resolve) => {
      this.timer = setTimeout(resolve, Math.max(0, this.left), EXPIRED);
    });
    return Promise.race([p, this.expiry]);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** Bytes a read asks for first by default: most container mount tables fit; a bigger file grows the buffer. */
const FIRST_READ = 16 * 1024;

/**
 * `path` read through the thread pool up to `maxBytes` (+1 byte to tell whether there was more). `shortReadIsEof`:
 * a read() returning fewer bytes than asked ends it (one round trip fewer: only for files the kernel answers whole
 * in one call, such as /proc/<pid>/cmdline, whose get_mm_cmdline copies until the count or the end of the argument
 * area). `until`: Date.now() time after which no further read() is started (the caller has abandoned this one).
 * `first`: bytes asked first (below 4 KiB the buffer comes from Node's pool: a small file costs no allocation of
 * its own). Errors are Node's errno errors (ENOENT, ESRCH, EACCES...) for the caller to classify.
 */
export async function readCappedAsync(path: string, maxBytes: number, until: number, shortReadIsEof = false, first = FIRST_READ): Promise<CappedRead> {
  const fd = await openAsync(path, constants.O_RDONLY | constants.O_NOCTTY);
  try {
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, first));
    let total = 0;
    for (;;) {
      if (Date.now() > until) throw new AgentError('PROC_READ_EXPIRED', `${path}: deadline passed after ${total} bytes`);
      const { bytesRead } = await readAsync(fd, buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total === buf.length) {
        const bigger = growCapped(buf, maxBytes);
        if (bigger === null) break;
        buf = bigger;
      } else if (shortReadIsEof) break;
    }
    return total > maxBytes ? { buf: buf.subarray(0, maxBytes), truncated: true } : { buf: buf.subarray(0, total), truncated: false };
  } finally {
    ASYNC_OPS.close(fd);
  }
}
