/**
 * The file-system calls pod-root.ts walks with, in two flavours of the same calls:
 * - `ASYNC_OPS` (the default, on the main thread): each call runs in libuv's thread pool, so a call that blocks (a
 *   FUSE or NFS server that never answers) blocks a pool thread, never the event loop, and the walk abandons it at
 *   its deadline;
 * - `SYNC_OPS` (only inside the root reader's worker thread, root-worker.ts): plain synchronous calls, no thread pool
 *   round trip per step. A call that blocks blocks that worker thread; the main thread's watchdog (root-pool.ts)
 *   gives up on it at the container's deadline and replaces the worker.
 * `close` never waits and never throws: closing an O_PATH or read-only fd cannot lose data.
 */
import { close, closeSync, fstat, fstatSync, lstat, lstatSync, open, openSync, read, readSync, readlink, readlinkSync, type Stats } from 'node:fs';
import { promisify } from 'node:util';

/** open(2)'s O_PATH (Linux): an fd naming a file without opening it for I/O; never blocks, never follows with O_NOFOLLOW. */
export const O_PATH = 0o10000000;

export interface RootOps {
  open(path: string, flags: number): number | Promise<number>;
  fstat(fd: number): Stats | Promise<Stats>;
  read(fd: number, buf: Buffer, off: number, len: number): number | Promise<number>;
  readlink(path: string): string | Promise<string>;
  lstat(path: string): Stats | Promise<Stats>;
  /**
   * True when `path` (its last name not followed) certainly does not exist: lets a synchronous walk skip the open
   * that would fail with ENOENT (Node builds an Error for each, about half a step's cost). Always false for the
   * thread-pool flavour (one more round trip would cost more than the error).
   */
  missing(path: string): boolean;
  close(fd: number | null | undefined): void;
}

// Plain fds through the callback API: lighter than FileHandle objects, and closing one never waits for anything.
export const ASYNC_OPS: RootOps = {
  open: promisify(open) as (path: string, flags: number) => Promise<number>,
  fstat: promisify(fstat) as (fd: number) => Promise<Stats>,
  read: (fd, buf, off, len) => new Promise((resolve, reject) => read(fd, buf, off, len, null, (err, n) => (err ? reject(err) : resolve(n)))),
  readlink: promisify(readlink) as (path: string) => Promise<string>,
  lstat: promisify(lstat) as (path: string) => Promise<Stats>,
  missing: () => false,
  // A call abandoned at the deadline (an fstat stuck in a FUSE server) keeps its own reference to the file, so
  // closing the fd under it is safe; a failure has nothing to report.
  close: (fd) => {
    if (typeof fd === 'number') close(fd, (err) => void err);
  },
};

export const SYNC_OPS: RootOps = {
  open: (path, flags) => openSync(path, flags),
  fstat: (fd) => fstatSync(fd),
  read: (fd, buf, off, len) => readSync(fd, buf, off, len, null),
  readlink: (path) => readlinkSync(path),
  lstat: (path) => lstatSync(path),
  missing: (path) => {
    try {
      return lstatSync(path, { throwIfNoEntry: false }) === undefined;
    } catch (err) {
      void err; // not known to be missing: the walk's own open meets the same error and classifies it
      return false;
    }
  },
  close: (fd) => {
    if (typeof fd !== 'number') return;
    try {
      closeSync(fd);
    } catch (err) {
      void err; // EBADF/EINTR on an O_PATH or read-only fd: nothing was written, nothing to report
    }
  },
};
