/**
 * The fds a worker thread opens through koffi (netns/netlink/libc.ts: socket, openat, openat2), written to a ledger
 * its parent shares, so that the parent closes what the thread left open once the thread has ended.
 *
 * Why: Node closes the fds a worker opened with `fs` when the worker ends (it tracks them), but knows nothing of those
 * opened through libc. Without this, every reader thread that ended kept its /proc/thread-self directory fd for good
 * (one per thread started: spares, replacements, threads stopped when idle), and one terminated in the middle of a
 * read kept its netlink and raw sockets, which keep the pod's network namespace alive after the pod is gone.
 *
 * Why the parent may close them: a fd is recorded only after its open succeeded and forgotten before it is closed,
 * so a recorded fd is still open and belongs to no one else (a thread that dies between an open and its record, or
 * between forgetting and closing, leaks that one fd, as before). The parent closes them only once the thread has
 * ended (worker-loaded.ts: its 'exit' event, or terminateLoaded after terminate() resolved).
 */
import { closeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';

/**
 * Slots per thread: a read holds a handful of fds at once (3 sockets, a proc file, the thread's directory), and the
 * thread keeps up to 6 per namespace between reads (netns/netlink/sessions.ts: at most SESSION_DEFAULTS.maxSessions,
 * 1024). 32 KB of shared memory per thread.
 */
export const FD_LEDGER_SLOTS = 8192;

/** The thread's side: record after open, forget before close. Slot value: fd + 1 (0 is a free slot). */
export class FdLedger {
  private readonly slotOf = new Map<number, number>();
  private readonly free: number[] = [];
  /** Opens not recorded because every slot was taken (such a fd is not closed by the parent). */
  unrecorded = 0;

  constructor(private readonly slots: Int32Array) {
    for (let i = slots.length - 1; i >= 0; i--) this.free.push(i);
  }

  /** After an open: `fd` (returned unchanged) is recorded when it is one (>= 0). */
  opened(fd: number): number {
    if (fd < 0) return fd;
    // The kernel just gave this number, so no fd of that number was open: a record of it would be stale (an fd of
    // ours closed some other way), and is reused rather than left for the parent to close.
    if (this.slotOf.has(fd)) return fd;
    const i = this.free.pop();
    if (i === undefined) {
      this.unrecorded++;
      return fd;
    }
    Atomics.store(this.slots, i, fd + 1);
    this.slotOf.set(fd, i);
    return fd;
  }

  /** Before a close: `fd` is forgotten (nothing when it was not recorded). */
  closing(fd: number): void {
    const i = this.slotOf.get(fd);
    if (i === undefined) return;
    this.slotOf.delete(fd);
    Atomics.store(this.slots, i, 0);
    this.free.push(i);
  }
}

/** A new ledger's shared slots, for a thread about to start (its workerData `fds`). */
export function newFdLedgerSlots(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(FD_LEDGER_SLOTS * 4));
}

let thread: FdLedger | null | undefined;

/** This thread's ledger: over the slots its parent gave it (workerData.fds), or null (the main thread, other threads). */
export function threadFdLedger(): FdLedger | null {
  if (thread !== undefined) return thread;
  const slots = (workerData as { fds?: unknown } | null)?.fds;
  thread = slots instanceof Int32Array ? new FdLedger(slots) : null;
  return thread;
}

/**
 * In the parent, once the thread has ended: close every fd its ledger still records, and clear the slots. Returns the
 * fds closed and those whose close failed (with the error; never expected: the fd was open and no one else's).
 */
export function closeLeftFds(slots: Int32Array, close: (fd: number) => void = closeSync): { closed: number[]; failed: { fd: number; error: unknown }[] } {
  const closed: number[] = [];
  const failed: { fd: number; error: unknown }[] = [];
  for (let i = 0; i < slots.length; i++) {
    const v = Atomics.exchange(slots, i, 0);
    if (v === 0) continue;
    try {
      close(v - 1);
      closed.push(v - 1);
    } catch (error) {
      failed.push({ fd: v - 1, error });
    }
  }
  return { closed, failed };
}
