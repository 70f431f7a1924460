/** CPU time of the calling thread, for per-read CPU figures (worker threads and the in-thread reader alike). */
import { readFileSync } from 'node:fs';

/** CPU time this thread has run, ns (/proc/thread-self/schedstat's first field; 0 when unreadable). */
export function threadCpuNanos(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) || 0;
  } catch (err) {
    void err; // no schedstat (kernel without CONFIG_SCHEDSTATS): per-read CPU is simply not reported
    return 0;
  }
}
