/**
 * lowerThreadPriority (agent/thread-priority.ts) in real worker threads of a real node process, read back from
 * /proc/<pid>/task/<tid>/stat: the calling thread alone becomes WORKER_NICE_STEP nicer, the others keep their
 * priority, and the shipped worker entry points (netlink reader, root reader; from dist/, as the pool loads them)
 * lower their own thread when they start. Once as the test runs, once under the DaemonSet's capability set
 * (setpriv: bounding set reduced to daemonset.yaml's `add`, no new privileges), where raising one's own nice value
 * needs no capability. lowerOtherThreads (what serve does to node's own helper threads) likewise: every thread but the
 * caller's, and a thread started later at the next call.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, expect, it } from 'vitest';
import { WORKER_NICE_STEP, lowerOtherThreads } from '../agent/thread-priority.js';
import { describeIntegration } from './helpers/env.js';
import { repoRoot } from './helpers/repo.js';
import { addedCapabilities } from './deploy/deploy-files.js';

const DIST = join(repoRoot(), 'dist');

/** Runs in a fresh node process; prints the nice values it read as one JSON line. */
const SCRIPT = `
import { Worker } from 'node:worker_threads';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const dist = process.argv[1];
const nice = (tid) => { try { return Number(readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ')[16]); } catch { return NaN; } };
const tids = () => readdirSync('/proc/self/task').map(Number);
const main = nice(process.pid);
const mod = pathToFileURL(join(dist, 'agent/thread-priority.js')).href;
// execArgv []: workers may not inherit --input-type; the listener keeps the thread alive until terminate()
const w = new Worker("const { parentPort, workerData } = require('node:worker_threads'); parentPort.on('message', () => undefined); import(workerData).then((m) => parentPort.postMessage(m.lowerThreadPriority()));", { eval: true, workerData: mod, execArgv: [] });
const result = await new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
const out = { main, result, called: result.ok ? nice(result.tid) : null, others: tids().filter((t) => t !== result.tid).map(nice) };
await w.terminate();
// Started and terminated as the agent does (worker-loaded.ts): a thread terminated while koffi loads aborts the process
// (CI, 02:47: the netlink worker lowers its priority first, then loads libc's bindings, and was terminated in between).
const loading = await import(pathToFileURL(join(dist, 'agent/worker-loaded.js')).href);
const niced = async (file) => {
  const before = new Set(tids());
  const x = loading.startWorker(pathToFileURL(join(dist, file)), { execArgv: [] }, { warn: (o, m) => console.error(m, o) });
  await new Promise((r) => x.once('online', r));
  let got = [];
  for (let i = 0; i < 100; i++) {
    got = tids().filter((t) => !before.has(t)).map(nice);
    if (got.some((n) => n !== main)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await loading.terminateLoaded(x);
  return got;
};
out.netlinkWorker = await niced('agent/netns/netlink/worker-main.js');
out.rootWorker = await niced('agent/proc/root-worker.js');
console.log(JSON.stringify(out));
`;

/**
 * Runs in a fresh node process: lowerOtherThreads from the main thread, with libuv's pool started and a worker thread
 * running, then again after a second worker started. Prints the nice values it read as one JSON line.
 */
const OTHERS = `
import { Worker } from 'node:worker_threads';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const dist = process.argv[1];
const nice = (tid) => Number(readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ')[16]);
const tids = () => readdirSync('/proc/self/task').map(Number);
const others = () => tids().filter((t) => t !== process.pid).map(nice);
const { lowerOtherThreads } = await import(pathToFileURL(join(dist, 'agent/thread-priority.js')).href);
await readFile('/proc/self/stat'); // starts libuv's thread pool
const idle = () => { const w = new Worker("require('node:worker_threads').parentPort.on('message', () => undefined)", { eval: true, execArgv: [] }); return new Promise((r) => w.once('online', () => r(w))); };
const w1 = await idle();
const before = others();
const seen = new Set();
const first = lowerOtherThreads(seen);
const afterFirst = others();
const again = lowerOtherThreads(seen);
const w2 = await idle();
const third = lowerOtherThreads(seen);
const out = { main: nice(process.pid), before, first, afterFirst, again, third, after: others(), threads: tids().length };
await w1.terminate(); await w2.terminate();
console.log(JSON.stringify(out));
`;

interface OthersSeen {
  main: number;
  before: number[];
  first: { nice: number; lowered: number[]; failed: unknown[] };
  afterFirst: number[];
  again: { lowered: number[]; failed: unknown[] };
  third: { nice: number; lowered: number[]; failed: unknown[] };
  after: number[];
  threads: number;
}

/** `script` in a fresh node process behind `prefix` (e.g. setpriv), its one JSON line parsed. */
async function runScript<T>(script: string, prefix: string[]): Promise<T> {
  const [cmd, ...args] = [...prefix, process.execPath, '--input-type=module', '-e', script, DIST];
  const r = await execa(cmd!, args, { timeout: 30_000, maxBuffer: 1 << 20, stdin: 'ignore' });
  return JSON.parse(String(r.stdout).trim()) as T;
}

const runOthers = (prefix: string[]): Promise<OthersSeen> => runScript<OthersSeen>(OTHERS, prefix);

function expectOthersLowered(s: OthersSeen): void {
  const want = Math.min(19, s.main + WORKER_NICE_STEP);
  // node's threads (V8's platform, libuv's pool, a worker thread) start at the event loop's priority.
  expect(s.before.length).toBeGreaterThan(6);
  expect(new Set(s.before)).toEqual(new Set([s.main]));
  expect(s.first).toEqual({ nice: want, lowered: expect.any(Array), failed: [] });
  expect(s.first.lowered).toHaveLength(s.before.length);
  expect(new Set(s.afterFirst)).toEqual(new Set([want]));
  expect(s.again.lowered).toEqual([]); // nothing new: only the task directory read
  // The second worker's threads (its own and none else) are the third call's.
  expect(s.third.lowered.length).toBeGreaterThanOrEqual(1);
  expect(s.third.failed).toEqual([]);
  expect(new Set(s.after)).toEqual(new Set([want]));
  expect(s.main).toBeLessThan(want); // the calling thread kept its priority
}

interface Seen {
  main: number;
  result: { ok: boolean; tid?: number; nice?: number; reason?: string };
  called: number | null;
  others: number[];
  netlinkWorker: number[];
  rootWorker: number[];
}

const run = (prefix: string[]): Promise<Seen> => runScript<Seen>(SCRIPT, prefix);

function expectLowered(s: Seen): void {
  const want = Math.min(19, s.main + WORKER_NICE_STEP);
  expect(s.result).toEqual({ ok: true, tid: expect.any(Number), nice: want });
  expect(s.called).toBe(want);
  // Per thread: every other thread of the process (main, libuv, V8) kept the process's priority.
  expect(s.others.length).toBeGreaterThan(3);
  expect(new Set(s.others)).toEqual(new Set([s.main]));
  // The shipped entry points lowered their own thread on start.
  expect(s.netlinkWorker).toContain(want);
  expect(s.rootWorker).toContain(want);
}

beforeAll(() => {
  if (!existsSync(join(DIST, 'agent', 'thread-priority.js'))) throw new Error('dist/ missing: run npm run build');
});

it('lowers only the calling thread, and the shipped workers lower theirs on start', async () => {
  const seen = await run([]);
  expect(seen.main).toBeLessThan(19); // else nothing could be lowered
  expectLowered(seen);
});

it("lowerOtherThreads lowers every thread but the caller's, each once, and threads started later at the next call", async () => {
  expectOthersLowered(await runOthers([]));
});

it('lowerOtherThreads reports an unreadable task directory and changes nothing', () => {
  const seen = new Set<number>();
  const r = lowerOtherThreads(seen, WORKER_NICE_STEP, '/proc/self/no-such-task-dir');
  expect(r.lowered).toEqual([]);
  expect(r.failed).toEqual([{ tid: 0, reason: expect.stringContaining('/proc/self/no-such-task-dir') }]);
  expect(seen.size).toBe(0);
});

describeIntegration('thread priority under the DaemonSet capability set', { root: true, commands: ['setpriv'] }, () => {
  it('lowers the worker threads with only the capabilities daemonset.yaml adds', async () => {
    const caps = addedCapabilities();
    expect(caps).not.toContain('CAP_SYS_NICE'); // what makes this case worth testing
    const bset = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
    const setpriv = ['setpriv', '--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${bset}`, '--'];
    expectLowered(await run(setpriv));
    expectOthersLowered(await runOthers(setpriv)); // other threads of the same process: no capability either
  });
});
