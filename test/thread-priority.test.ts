/**
 * lowerThreadPriority (agent/thread-priority.ts) in real worker threads of a real node process, read back from
 * /proc/<pid>/task/<tid>/stat: the calling thread alone becomes WORKER_NICE_STEP nicer, the others keep their
 * priority, and the shipped worker entry points (netlink reader, root reader; from dist/, as the pool loads them)
 * lower their own thread when they start. Once as the test runs, once under the DaemonSet's capability set
 * (setpriv: bounding set reduced to daemonset.yaml's `add`, no new privileges), where raising one's own nice value
 * needs no capability.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, expect, it } from 'vitest';
import { WORKER_NICE_STEP } from '../agent/thread-priority.js';
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

interface Seen {
  main: number;
  result: { ok: boolean; tid?: number; nice?: number; reason?: string };
  called: number | null;
  others: number[];
  netlinkWorker: number[];
  rootWorker: number[];
}

async function run(prefix: string[]): Promise<Seen> {
  const [cmd, ...args] = [...prefix, process.execPath, '--input-type=module', '-e', SCRIPT, DIST];
  const r = await execa(cmd!, args, { timeout: 30_000, maxBuffer: 1 << 20, stdin: 'ignore' });
  return JSON.parse(String(r.stdout).trim()) as Seen;
}

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

describeIntegration('thread priority under the DaemonSet capability set', { root: true, commands: ['setpriv'] }, () => {
  it('lowers the worker threads with only the capabilities daemonset.yaml adds', async () => {
    const caps = addedCapabilities();
    expect(caps).not.toContain('CAP_SYS_NICE'); // what makes this case worth testing
    const bset = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
    expectLowered(await run(['setpriv', '--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${bset}`, '--']));
  });
});
