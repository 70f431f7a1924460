/**
 * Synchronous, size-capped reads of /proc files: stopped where the cap is reached (never read whole, then cut), so
 * a pod cannot make the agent hold more than the cap of any one file. Errors (ENOENT when the process exited,
 * EACCES...) are thrown as Node's errno errors for the caller to classify.
 *
 * Small reads go through one scratch buffer per thread (the calls are synchronous, so it is never shared by two
 * reads at once): a /proc scan reads thousands of tiny files and allocates only the strings it keeps.
 *
 * Single-record seq files (readSeqTextCapped) take ONE read() when they fit the buffer, not two: a file built by one
 * ->show() call (procfs single_open files such as /proc/<pid>/stat and /proc/<pid>/cgroup; cgroupfs counter files,
 * kernfs seq files without ->seq_start, whose kernfs_seq_next ends after the first record) is generated whole into
 * the seq_file's buffer (seq_read_iter doubles that buffer until the record fits), then copy_to_iter hands the
 * reader min(record, asked): a read that returns fewer bytes than asked has returned everything (fs/seq_file.c
 * seq_read_iter; before 5.10 seq_read, same logic). That is NOT true of multi-record seq files (mountinfo, /proc/net/*:
 * a read stops short when the kernel's page-sized buffer fills) nor of pipes: those go through the read-until-0
 * path (readCapped, readTextCapped). At 110 pods that is ~1,500 fewer read() calls per collection.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface CappedRead {
  buf: Buffer;
  /** The file had more than `maxBytes` bytes; `buf` holds the first `maxBytes`. */
  truncated: boolean;
}

const SCRATCH_BYTES = 64 * 1024;
let scratch: Buffer | null = null;

/**
 * After a read filled `buf` (all of its bytes hold data): a buffer twice its size, at most `maxBytes` + 1, holding
 * them; null when `buf` already holds `maxBytes` + 1 bytes (the cap is reached: the caller stops reading and reports
 * the file truncated). The growth step of the thread-pool reads (async-read.ts, pod-root.ts), whose buffers start
 * small and grow only with the file.
 */
export function growCapped(buf: Buffer, maxBytes: number): Buffer<ArrayBuffer> | null {
  if (buf.length > maxBytes) return null;
  const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
  buf.copy(bigger);
  return bigger;
}

/**
 * Reads `fd` into `target` until EOF or `limit` bytes; returns the byte count. `shortReadIsEof`: a read returning
 * fewer bytes than asked is taken as EOF (single-record seq files only: see the header). `position`: read from that
 * file offset on (pread, the fd's own position untouched) instead of from the fd's position.
 */
export function fill(fd: number, target: Buffer, limit: number, shortReadIsEof = false, position: number | null = null): number {
  let total = 0;
  while (total < limit) {
    const n = readSync(fd, target, total, limit - total, position === null ? null : position + total);
    if (n === 0) break;
    total += n;
    if (shortReadIsEof && total < limit) break;
  }
  return total;
}

/**
 * Reads from the current position of `fd` until EOF or `maxBytes` (+1 byte to tell whether there was more), through
 * the scratch buffer: memory grows with what the file holds, not with the cap.
 */
export function readFdCapped(fd: number, maxBytes: number): CappedRead {
  const buf = scratchBuffer();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const n = fill(fd, buf, Math.min(SCRATCH_BYTES, maxBytes + 1 - total));
    if (n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
    if (n < SCRATCH_BYTES || total > maxBytes) break;
  }
  const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  return total > maxBytes ? { buf: all.subarray(0, maxBytes), truncated: true } : { buf: all, truncated: false };
}

export function readCapped(path: string, maxBytes: number): CappedRead {
  const fd = openSync(path, 'r');
  try {
    return readFdCapped(fd, maxBytes);
  } finally {
    closeSync(fd);
  }
}

/** A small text file read through the scratch buffer, as a string (no intermediate Buffer kept). */
export function readTextCapped(path: string, maxBytes: number): { text: string; truncated: boolean } {
  return readText(path, maxBytes, false);
}

/**
 * readTextCapped for a single-record seq file (/proc/<pid>/stat, /proc/<pid>/cgroup, a cgroupfs counter file):
 * a short read ends it (see the header). Never for another kind of file.
 */
export function readSeqTextCapped(path: string, maxBytes: number): { text: string; truncated: boolean } {
  return readText(path, maxBytes, true);
}

/**
 * A single-record seq file's first bytes (see readSeqTextCapped), at most `maxBytes` + 1 (more than `maxBytes`: the
 * file was longer), into the scratch buffer (scratchBuffer()), valid until the next read through it; returns the
 * byte count. No string, no object: for a caller that parses the bytes itself. `maxBytes` < 64 KiB.
 */
export function readSeqIntoScratch(path: string, maxBytes: number): number {
  const fd = openSync(path, 'r');
  try {
    return fill(fd, scratchBuffer(), Math.min(maxBytes + 1, SCRATCH_BYTES), true);
  } finally {
    closeSync(fd);
  }
}

/**
 * readSeqIntoScratch on a single-record seq file kept open, read again from offset 0 with pread (the fd's position
 * untouched). A seq file regenerates its record on such a read: seq_read_iter starts over (traverse to 0) whenever
 * the offset asked is not where the last read ended, which after a non-empty read it never is, so this returns what
 * opening the file afresh and reading it would (fs/seq_file.c). The kept files of kept-files.ts (/proc/<pid>/stat,
 * cgroup) and runtime/cgroup-stats.ts (cgroup counter files) are read through it. Throws as readSync does.
 */
export function preadSeqIntoScratch(fd: number, maxBytes: number): number {
  return fill(fd, scratchBuffer(), Math.min(maxBytes + 1, SCRATCH_BYTES), true, 0);
}

/** This thread's scratch buffer (64 KiB): what the last readSeqIntoScratch or preadSeqIntoScratch read. */
export function scratchBuffer(): Buffer {
  return (scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES));
}

/**
 * The text a capped read of `n` bytes into the scratch buffer gives (at most `maxBytes` + 1 were read: more than
 * `maxBytes` means the file was longer, cut at `maxBytes`): readTextCapped's answer, and kept-files.ts's for a pread.
 */
export function scratchText(n: number, maxBytes: number): { text: string; truncated: boolean } {
  const truncated = n > maxBytes;
  return { text: scratchBuffer().toString('utf8', 0, truncated ? maxBytes : n), truncated };
}

function readText(path: string, maxBytes: number, shortReadIsEof: boolean): { text: string; truncated: boolean } {
  if (maxBytes >= SCRATCH_BYTES) {
    const r = readCapped(path, maxBytes);
    return { text: r.buf.toString('utf8'), truncated: r.truncated };
  }
  const fd = openSync(path, 'r');
  try {
    return scratchText(fill(fd, scratchBuffer(), maxBytes + 1, shortReadIsEof), maxBytes);
  } finally {
    closeSync(fd);
  }
}

/** ENOENT / ESRCH: the process (or file) went away between listing and reading. */
export function isGoneError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}
