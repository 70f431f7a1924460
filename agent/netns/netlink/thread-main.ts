/**
 * Entry point of a netlink pool thread (pool.ts): netlink jobs on the parent port (worker-main.ts), and the root
 * reader's requests (agent/proc/root-serve.ts) on the side port the pool hands over in workerData, used only while
 * the thread is lent to that reader. One thread, one isolate, for both kinds of synchronous reads.
 */
import { workerData } from 'node:worker_threads';
import './worker-main.js';
import { serveRootRequests } from '../../proc/root-serve.js';
import type { ThreadData } from './pool.js';

const data = workerData as Partial<ThreadData> | null;
if (data?.sidePort) serveRootRequests(data.sidePort);
