/**
 * The root reader's side of a thread (root-reader.ts): answers each request on `port` by reading every container's
 * mount table and root (root-facts.ts) with synchronous calls, one container after the other, and posting every
 * result at once. Before each container it stores that container's index in the request's shared progress word, so
 * the main thread can tell which container a call that never returns is stuck on (its watchdog then abandons this
 * thread). Nothing else is shared. A container whose facts equal the ones the main thread holds from this thread
 * is answered `null` (root-memo.ts: the reads still run, only the answer is elided); a mount table the request's
 * tickets say cannot have changed is not read (mount-quiet.ts). Runs on a thread of its own (root-worker.ts) or on
 * a netlink pool thread lent to the reader (netns/netlink/thread-main.ts, on the thread's side port).
 */
import type { MessagePort } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import type { MountTicket } from './mount-events.js';
import { QuietMounts } from './mount-quiet.js';
import { readRootFacts, type RootFacts, type RootJob } from './root-facts.js';
import { ThreadRootMemo } from './root-memo.js';

export interface RootRequest {
  id: number;
  jobs: RootJob[];
  /** Per job, the generation of its facts the main thread holds from this thread (0: none; root-memo.ts). */
  known?: number[];
  /** Int32 [0]: index of the container being read (-1 before the first). */
  progress: SharedArrayBuffer;
  /** Per job, its mount-event ticket (mount-events.ts); absent: every mount table is read. */
  tickets?: (MountTicket | null)[];
}

/**
 * `results[i]` null: the facts of generation `gens[i]` (= `known[i]`) are unchanged; else new ones of generation
 * `gens[i]`. `quiet`: mount tables not read because no mount event said they changed (mount-quiet.ts).
 */
export type RootReply = { id: number; results: (RootFacts | null)[]; gens: number[]; quiet: number } | { id: number; error: string };

export function serveRootRequests(port: MessagePort): void {
  const thread: ThreadState = { memo: new ThreadRootMemo(), quiet: new QuietMounts() };
  port.on('message', (req: RootRequest) => void serveRequest(port, thread, req));
}

/** What a thread keeps between requests. */
interface ThreadState {
  memo: ThreadRootMemo;
  quiet: QuietMounts;
}

/**
 * One request, answered on `port`. Module-level, not an async closure made per request: V8 would compile that
 * closure again after every full GC of the thread's isolate (collect/netns.ts readGroup says why).
 */
async function serveRequest(port: MessagePort, thread: ThreadState, req: RootRequest): Promise<void> {
  const progress = new Int32Array(req.progress);
  const results: RootFacts[] = [];
  const quiet = thread.quiet;
  const skippedBefore = quiet.skipped;
  try {
    if (req.tickets) quiet.retain(req.jobs);
    for (let i = 0; i < req.jobs.length; i++) {
      Atomics.store(progress, 0, i);
      quiet.begin(req.tickets?.[i] ?? null);
      results.push(await readRootFacts(req.jobs[i]!, true, quiet));
    }
    const a = thread.memo.answer(req.jobs, req.known, results);
    port.postMessage({ id: req.id, results: a.results, gens: a.gens, quiet: quiet.skipped - skippedBefore } satisfies RootReply);
    a.commit();
  } catch (err) {
    // Only a bug gets here (the pod's doing is a fact): reported to the main thread, which fails the collector.
    port.postMessage({ id: req.id, error: errorMessage(err) } satisfies RootReply);
  }
}
