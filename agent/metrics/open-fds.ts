/**
 * process_open_fds, counted without listing the fds.
 *
 * prom-client's default gauge lists /proc/self/fd (readdirSync, minus the fd of the listing itself) at every
 * rendering. The agent keeps ~1,000 files open at 110 pods (proc/kept-files.ts), so that listing made ~1,000 procfs
 * dentries and a 1,000-string array once per collection. Since Linux 6.2 ("proc: report open files as size in
 * stat() for /proc/pid/fd"), stat of /proc/self/fd gives the count as st_size (the fd table's bitmap weight: no
 * listing, no fd of its own), the number the listing gives minus its own fd. Older kernels report 0 there: the
 * listing is then used, as prom-client does.
 */
import { readdirSync, statSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

export const OPEN_FDS = 'process_open_fds';

/** The fds of this process: /proc/self/fd's st_size, or its listing minus the listing's own fd when that is 0. */
export function openFdCount(dir = '/proc/self/fd'): number {
  const size = statSync(dir).size;
  if (size > 0) return size;
  return readdirSync(dir).length - 1;
}

/** Replaces prom-client's process_open_fds in `registry` (same name and help) with one that counts by stat. */
export function replaceOpenFdsGauge(registry: Registry): void {
  registry.removeSingleMetric(OPEN_FDS);
  new Gauge({
    name: OPEN_FDS,
    help: 'Number of open file descriptors.',
    registers: [registry],
    collect() {
      try {
        this.set(openFdCount());
      } catch (err) {
        // No /proc (not Linux, or not mounted): no series rather than a stale count, as prom-client's gauge.
        void err;
        this.reset();
      }
    },
  });
}
