/**
 * The root reader's side of a thread (root-reader.ts): answers each request on `port` by reading every container's
 * mount table and root (root-facts.ts) with synchronous calls, one container after the other, and posting every
 * result at once. Before each container it stores that container's index in the request's shared progress word, so
 * the main thread can tell which container a call that never returns is stuck on (its watchdog then abandons this
 * thread). Nothing else is shared. Runs on a thread of its own (root-worker.ts) or on a netlink pool thread lent to
 * the reader (netns/netlink/thread-main.ts, on the thread's side port).
 */
import type { MessagePort } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { readRootFacts, type RootFacts, type RootJob } from './root-facts.js';

export interface RootRequest {
  id: number;
  jobs: RootJob[];
  /** Int32 [0]: index of the container being read (-1 before the first). */
  progress: SharedArrayBuffer;
}

export type RootReply = { id: number; results: RootFacts[] } | { id: number; error: string };

export function serveRootRequests(port: MessagePort): void {
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
}
