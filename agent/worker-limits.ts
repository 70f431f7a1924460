/**
 * The V8 heap limits of the agent's worker threads (the netlink pool's, the root reader's own), made effective.
 *
 * V8 gives the command line's --max-semi-space-size and --max-old-space-size (bin/node-flags.js: 1 MB and 256 MB,
 * meant for the main isolate) precedence over a worker's `resourceLimits`, so every worker got the main thread's
 * new space (8 MB when the flag said 4) and 256 MB old generation whatever its limits said. V8 flags are read when
 * an isolate is created: the main isolate's heap was sized at startup and keeps its flags; clearing them (0: unset)
 * before the first worker starts lets each worker's own limits apply.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';

/**
 * Young generation of a worker, MB: V8 splits it into 3 semi-space sizes (two semi-spaces and the new large object
 * space), so 3 is 1 MB semi-spaces, a 2 MB new space. A reader thread keeps only the tapes of its reads between
 * jobs (netns/netlink/tape-cache.ts: promoted once, replaced only when a namespace changes; the pool keeps the
 * states on the main thread): its other young objects live one job.
 */
export const WORKER_YOUNG_GENERATION_MB = 3;

let cleared = false;

/** `resourceLimits` for a worker thread with an old generation of `oldMb`; call right before `new Worker`. */
export function workerLimits(oldMb: number): ResourceLimits {
  if (!cleared) {
    setFlagsFromString('--max-semi-space-size=0');
    setFlagsFromString('--max-old-space-size=0');
    cleared = true;
  }
  return { maxOldGenerationSizeMb: oldMb, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
}
