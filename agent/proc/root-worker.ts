/**
 * The root reader's own worker thread (root-reader.ts, when it has no netlink pool thread to borrow): serves its
 * requests on the parent port (root-serve.ts).
 */
import { parentPort } from 'node:worker_threads';
import { lowerThreadPriority } from '../thread-priority.js';
import { markLoaded } from '../worker-loaded.js';
import { serveRootRequests } from './root-serve.js';

export type { RootReply, RootRequest } from './root-serve.js';

if (parentPort === null) throw new Error('root-worker.js runs only as a worker thread');
lowerThreadPriority(); // the event loop first on a busy core (thread-priority.ts); a failure changes nothing else
markLoaded(); // koffi is loaded (lowerThreadPriority): terminating this thread is safe from now on (worker-loaded.ts)
serveRootRequests(parentPort);
