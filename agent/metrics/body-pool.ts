/**
 * Backing buffers for the exposition's text bodies, reused from one rendering to the next.
 *
 * A body is ~0.8 MB at 110 chaos pods (~1.9 MB at 110 mesh pods), written once per collection and format. A fresh
 * Buffer of that size is above glibc's mmap threshold (the agent ships MALLOC_MMAP_THRESHOLD_=131072,
 * bin/node-flags.js), so each one was a new mapping whose every page the rendering faulted in on the main thread
 * (~200 minor faults per 0.8 MB body) and which went back to the kernel only when V8 collected the old body. A body
 * nothing reads any more gives its backing back here (exposition.ts: a text only a gzip needed, once gzipped; the
 * others once their collection is replaced and no response holds them), and the next rendering writes into it,
 * already resident.
 *
 * The two formats' bodies differ by a few bytes a family, so any free backing serves either. At most MAX_FREE are
 * kept, and one not taken again within EXPIRY_TAKES takes is dropped: a format no longer rendered does not keep its
 * backing for the process's life.
 */

/** A body `size` bytes long and the means to give its backing back (at most once; later calls do nothing). */
export interface BodyLease {
  body: Buffer;
  release(): void;
}

/** Bodies under this are not pooled: malloc serves them from its arenas, which keep what is freed. */
export const MIN_POOLED_BYTES = 64 * 1024;
/** Free backings kept: the agent renders at most two texts per collection (one per format). */
export const MAX_FREE = 2;
/** A free backing not taken within this many takes (2-4 collections) is dropped. */
export const EXPIRY_TAKES = 4;

/** A fresh buffer of `size` bytes, owned by nobody else: nothing to give back. */
export const freshLease = (size: number): BodyLease => ({ body: Buffer.allocUnsafe(size), release: () => undefined });

/** Headroom given to a new backing, so that a body a little longer next time still fits: 1/8 of its size. */
const headroom = (size: number): number => size + (size >>> 3);

interface Free {
  backing: Buffer;
  /** `takes` when it was given back. */
  at: number;
}

export class BodyPool {
  private free: Free[] = [];
  private takes = 0;
  /** Backings allocated, and takes served from a free one (for tests and the bench). */
  allocated = 0;
  reused = 0;

  /**
   * A buffer of exactly `size` bytes: a view of the smallest free backing that holds `size` bytes and is not more
   * than twice what is asked (a body that shrank for good does not keep a backing twice its size), else a new
   * backing with headroom. The pages of a backing past what is written are never touched, so never resident.
   */
  take(size: number): BodyLease {
    if (size < MIN_POOLED_BYTES) return freshLease(size);
    this.takes += 1;
    this.free = this.free.filter((f) => this.takes - f.at <= EXPIRY_TAKES);
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]!.backing.length;
      if (len >= size && len <= 2 * size && (best < 0 || len < this.free[best]!.backing.length)) best = i;
    }
    let backing: Buffer;
    if (best >= 0) {
      backing = this.free[best]!.backing;
      this.free.splice(best, 1);
      this.reused += 1;
    } else {
      backing = Buffer.allocUnsafeSlow(headroom(size));
      this.allocated += 1;
    }
    let released = false;
    return {
      body: backing.subarray(0, size),
      release: () => {
        if (released) return;
        released = true;
        this.free.push({ backing, at: this.takes });
        // Past MAX_FREE, the oldest goes.
        if (this.free.length > MAX_FREE) this.free.shift();
      },
    };
  }

  /** Bytes of the free backings (for tests and the bench). */
  freeBytes(): number {
    let n = 0;
    for (const f of this.free) n += f.backing.length;
    return n;
  }
}
