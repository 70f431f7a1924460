/**
 * The root reader's worker thread (root-reader.ts): reads each container's mount table and root (root-facts.ts)
 * with synchronous calls, one container after the other, and answers once with every result. Before each container
 * it stores that container's index in the shared progress word, so the main thread can tell which container a
 * call that never returns is stuck on (its watchdog then replaces this thread). Nothing else is shared.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { readRootFacts, type RootFacts, type RootJob } from './root-facts.js';
import { lowerThreadPriority } from '../thread-priority.js';

export interface RootRequest {
  id: number;
  jobs: RootJob[];
  /** Int32 [0]: index of the container being read (-1 before the first). */
  progress: SharedArrayBuffer;
}

export type RootReply = { id: number; results: RootFacts[] } | { id: number; error: string };

const port = parentPort;
if (port === null) throw new Error('root-worker.js runs only as a worker thread');
lowerThreadPriority(); // the event loop first on a busy core (thread-priority.ts); a failure changes nothing else

port.on('message', (req: RootRequest) => {
  void (async () => {
    const progress = new Int32Array(req.progress);
    const results: RootFacts[] = [];
    try {
      for (let i = 0; i < req.jobs.length; i++) {
        Atomics.store(progress, 0, i);
        results.push(await readRootFacts(req.jobs[i]!, true));
      }
      port.postMessage({ id: req.id, results } satisfies RootReply);
    } catch (err) {
      // Only a bug gets here (the pod's doing is a fact): reported to the main thread, which fails the collector.
      port.postMessage({ id: req.id, error: errorMessage(err) } satisfies RootReply);
    }
  })();
});
