/**
 * The root reader's side of a thread (root-reader.ts): answers each request on `port` by reading every container's
 * mount table and root (root-facts.ts) with synchronous calls, one container after the other, and posting every
 * result at once. Before each container it stores that container's index in the request's shared progress word, so
 * the main thread can tell which container a call that never returns is stuck on (its watchdog then abandons this
 * thread). Nothing else is shared. A container whose facts equal the ones the main thread holds from this thread
 * is answered `null` (root-memo.ts: the reads still run, only the answer is elided). Runs on a thread of its own (root-worker.ts) or on a netlink pool thread lent to
 * the reader (netns/netlink/thread-main.ts, on the thread's side port).
 */
import type { MessagePort } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { readRootFacts, type RootFacts, type RootJob } from './root-facts.js';
import { ThreadRootMemo } from './root-memo.js';

export interface RootRequest {
  id: number;
  jobs: RootJob[];
  /** Per job, the generation of its facts the main thread holds from this thread (0: none; root-memo.ts). */
  known?: number[];
  /** Int32 [0]: index of the container being read (-1 before the first). */
  progress: SharedArrayBuffer;
}

/** `results[i]` null: the facts of generation `gens[i]` (= `known[i]`) are unchanged; else new ones of generation `gens[i]`. */
export type RootReply = { id: number; results: (RootFacts | null)[]; gens: number[] } | { id: number; error: string };

export function serveRootRequests(port: MessagePort): void {
  const memo = new ThreadRootMemo();
  port.on('message', (req: RootRequest) => void serveRequest(port, memo, req));
}

/**
 * One request, answered on `port`. Module-level, not an async closure made per request: V8 would compile that
 * closure again after every full GC of the thread's isolate (collect/netns.ts readGroup says why).
 */
async function serveRequest(port: MessagePort, memo: ThreadRootMemo, req: RootRequest): Promise<void> {
  const progress = new Int32Array(req.progress);
  const results: RootFacts[] = [];
  try {
    for (let i = 0; i < req.jobs.length; i++) {
      Atomics.store(progress, 0, i);
      results.push(await readRootFacts(req.jobs[i]!, true));
    }
    const a = memo.answer(req.jobs, req.known, results);
    port.postMessage({ id: req.id, results: a.results, gens: a.gens } satisfies RootReply);
    a.commit();
  } catch (err) {
    // Only a bug gets here (the pod's doing is a fact): reported to the main thread, which fails the collector.
    port.postMessage({ id: req.id, error: errorMessage(err) } satisfies RootReply);
  }
}
