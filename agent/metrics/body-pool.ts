/**
 * Backing buffers for the exposition's bodies, reused from one collection to the next.
 *
 * A body is ~800 KB at 110 chaos pods, written once per collection and format. A fresh Buffer of that size is above
 * glibc's mmap threshold (the agent ships MALLOC_MMAP_THRESHOLD_=131072, bin/node-flags.js), so each one was a new
 * mapping whose every page the rendering faulted in on the main thread (~200 minor faults per body, ~400 per
 * collection with both formats) and which went back to the kernel only when V8 collected the old body. A body whose
 * collection has been replaced, and that no response still writes, gives its backing back here; the next rendering
 * of the same format writes into it, already resident.
 *
 * Who may give a backing back is exposition.ts's business (RenderedMetrics.retire: replaced, no render pending, no
 * response holding it). The pool keeps at most one free backing per format: the agent renders each format at most
 * once per collection, so one spare is enough for the next, and the memory kept is one body per format rendered.
 */

/** A body `size` bytes long and the means to give its backing back (at most once; later calls do nothing). */
export interface BodyLease {
  body: Buffer;
  release(): void;
}

/** Headroom given to a new backing, so that a body a little longer next time still fits: 1/8 of its size. */
const headroom = (size: number): number => size + (size >>> 3);

export class BodyPool {
  private readonly free = new Map<string, Buffer>();
  /** Backings allocated, and takes served from a free one (for tests and the bench). */
  allocated = 0;
  reused = 0;

  /**
   * A buffer of exactly `size` bytes for `key`'s body: a view of the free backing if it holds `size` bytes and is
   * not more than twice what is asked (a body that shrank for good does not keep a backing twice its size), else a
   * new backing with headroom. Small bodies (under 64 KiB: malloc's own arenas serve them) are not pooled.
   */
  take(key: string, size: number): BodyLease {
    if (size < 64 * 1024) return { body: Buffer.allocUnsafe(size), release: () => undefined };
    let backing = this.free.get(key);
    if (backing && backing.length >= size && backing.length <= 2 * size) {
      this.free.delete(key);
      this.reused += 1;
    } else {
      backing = Buffer.allocUnsafeSlow(headroom(size));
      this.allocated += 1;
    }
    const kept = backing;
    let released = false;
    return {
      body: kept.subarray(0, size),
      release: () => {
        if (released) return;
        released = true;
        this.free.set(key, kept);
      },
    };
  }

  /** Bytes of the free backings (for tests and the bench). */
  freeBytes(): number {
    let n = 0;
    for (const b of this.free.values()) n += b.length;
    return n;
  }
}
