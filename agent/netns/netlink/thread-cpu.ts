/** CPU time of the calling thread, for per-read CPU figures (worker threads and the in-thread reader alike). */
import { libc } from './libc.js';

/**
 * CPU time this thread has run, ns: clock_gettime(CLOCK_THREAD_CPUTIME_ID) through libc, exact to the call and
 * ~8 µs (/proc/thread-self/schedstat, read before, lags by up to a scheduler tick for the running thread and cost
 * ~70 µs: two file reads per namespace). 0 when libc cannot be loaded: the read then fails on its own, and per-read
 * CPU is simply not reported.
 */
export function threadCpuNanos(): number {
  try {
    return libc().threadCpuNanos() || 0;
  } catch (err) {
    void err; // koffi or libc unavailable: readNamespace reports that itself
    return 0;
  }
}
