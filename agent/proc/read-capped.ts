/**
 * Synchronous, size-capped reads of /proc files: stopped where the cap is reached (never read whole, then cut), so
 * a pod cannot make the agent hold more than the cap of any one file. Errors (ENOENT when the process exited,
 * EACCES...) are thrown as Node's errno errors for the caller to classify.
 *
 * Small reads go through one scratch buffer per thread (the calls are synchronous, so it is never shared by two
 * reads at once): a /proc scan reads thousands of tiny files and allocates only the strings it keeps.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface CappedRead {
  buf: Buffer;
  /** The file had more than `maxBytes` bytes; `buf` holds the first `maxBytes`. */
  truncated: boolean;
}

const SCRATCH_BYTES = 64 * 1024;
let scratch: Buffer | null = null;

/** Reads `fd` into `target` until EOF or `limit` bytes; returns the byte count. */
function fill(fd: number, target: Buffer, limit: number): number {
  let total = 0;
  while (total < limit) {
    const n = readSync(fd, target, total, limit - total, null);
    if (n === 0) break;
    total += n;
  }
  return total;
}

/**
 * Reads from the current position of `fd` until EOF or `maxBytes` (+1 byte to tell whether there was more), through
 * the scratch buffer: memory grows with what the file holds, not with the cap.
 */
export function readFdCapped(fd: number, maxBytes: number): CappedRead {
  const buf = (scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES));
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
  if (maxBytes >= SCRATCH_BYTES) {
    const r = readCapped(path, maxBytes);
    return { text: r.buf.toString('utf8'), truncated: r.truncated };
  }
  const fd = openSync(path, 'r');
  try {
    const target = (scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES));
    const total = fill(fd, target, maxBytes + 1);
    const truncated = total > maxBytes;
    return { text: target.toString('utf8', 0, truncated ? maxBytes : total), truncated };
  } finally {
    closeSync(fd);
  }
}

/** ENOENT / ESRCH: the process (or file) went away between listing and reading. */
export function isGoneError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}
