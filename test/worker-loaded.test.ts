/**
 * worker-loaded.ts: a worker is terminated only once it has said its native modules are loaded (terminating one
 * while koffi initialises aborts the process: CI saw `FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw`),
 * without waiting for one that has exited, and never longer than the bound. Real threads; the agent's two thread
 * entry points (dist/) mark themselves. The fds an ended thread left that could not be closed are logged at warn.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { workerUrl } from '../agent/netns/netlink/pool.js';
import { rootWorkerUrl } from '../agent/proc/root-reader.js';
import { pino } from 'pino';
import { silentLogger } from '../agent/log.js';
import { isLoaded, leftFds, liveWorkers, startWorker, terminateLoaded, whenLoaded } from '../agent/worker-loaded.js';

const dir = mkdtempSync(join(tmpdir(), 'cna-loaded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A worker script: `before` runs, then it marks itself loaded (as markLoaded does) unless `mark` is false, then `after`. */
function script(name: string, before: string, mark: boolean, after: string): URL {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `import { workerData } from 'node:worker_threads';
${before}
${mark ? 'Atomics.store(workerData.loaded, 0, 1); Atomics.notify(workerData.loaded, 0);' : ''}
${after}
`);
  return pathToFileURL(file);
}

const BUSY = (ms: number) => `{ const end = Date.now() + ${ms}; while (Date.now() < end); }`;
const FOREVER = 'setInterval(() => {}, 1000);';

describe('liveWorkers and whenLoaded', () => {
  it('a started thread counts as live until it has exited; whenLoaded resolves once it marks itself loaded', async () => {
    const before = liveWorkers();
    const w = startWorker(script('live', BUSY(200), true, FOREVER), {}, silentLogger());
    expect(liveWorkers()).toBe(before + 1);
    await whenLoaded(w);
    expect(isLoaded(w)).toBe(true);
    expect(liveWorkers()).toBe(before + 1); // loaded and idle: still a thread process.exit() would join
    await terminateLoaded(w);
    await new Promise((res) => setImmediate(res));
    expect(liveWorkers()).toBe(before);
  });
});

describe('terminateLoaded', () => {
  it('waits for a worker still loading, then terminates it', async () => {
    const w = startWorker(script('slow', BUSY(400), true, FOREVER), {}, silentLogger());
    expect(isLoaded(w)).toBe(false);
    const code = await terminateLoaded(w, 60_000);
    expect([isLoaded(w), code]).toEqual([true, 1]);
  });

  it('does not wait for a worker that exited before it was loaded', async () => {
    const w = startWorker(script('dies', 'throw new Error("no addon here");', true, ''), {}, silentLogger());
    w.on('error', () => undefined);
    // The bound is past the test's timeout: waiting for the mark would fail the test.
    await terminateLoaded(w, 60_000);
    expect(isLoaded(w)).toBe(false);
  }, 20_000);

  it('terminates a worker that never marks itself after the bound', async () => {
    const w = startWorker(script('never', '', false, FOREVER), {}, silentLogger());
    const code = await terminateLoaded(w, 300);
    expect([isLoaded(w), code]).toEqual([false, 1]);
  }, 20_000);

  it('keeps the caller\'s workerData beside the word', async () => {
    const w = startWorker(script('data', 'import { parentPort } from "node:worker_threads"; parentPort.postMessage(workerData.x);', true, FOREVER), { workerData: { x: 42 } }, silentLogger());
    const got = await new Promise((res) => w.once('message', res));
    expect(got).toBe(42);
    await terminateLoaded(w);
  });

  it('the agent\'s thread entry points (netlink pool, root reader) mark themselves loaded', async () => {
    for (const url of [workerUrl(), rootWorkerUrl()]) {
      const w = startWorker(url, {}, silentLogger());
      w.on('error', () => undefined);
      for (const end = Date.now() + 20_000; Date.now() < end && !isLoaded(w); ) await new Promise((r) => setTimeout(r, 20));
      expect([url.pathname.split('/').pop(), isLoaded(w)]).toEqual([url.pathname.split('/').pop(), true]);
      await terminateLoaded(w);
    }
  }, 60_000);
});

describe('fds an ended thread left', () => {
  /** A logger at info writing its lines here: the agent's quiet default would show a warn, not an info. */
  const capture = (): { log: pino.Logger; lines: Record<string, unknown>[] } => {
    const lines: Record<string, unknown>[] = [];
    return { log: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }), lines };
  };

  it('a close that fails is logged at warn with the fd and the error; a thread whose fds all close logs nothing', async () => {
    // Its ledger records a fd that cannot be open (past the kernel's fs.nr_open ceiling): its close fails, EBADF.
    const bad = 2 ** 30;
    const failing = capture();
    const w = startWorker(script('bad-fd', `Atomics.store(workerData.fds, 0, ${bad + 1});`, true, FOREVER), {}, failing.log);
    const threadId = w.threadId;
    const before = leftFds.failed;
    await terminateLoaded(w);
    expect(leftFds.failed - before).toBe(1);
    expect(failing.lines.map((l) => [l.level, l.msg, l.threadId, l.fds, l.closed, String(l.err).startsWith('EBADF')])).toEqual([
      [40, 'could not close fds an ended worker thread left open', threadId, [bad], 0, true],
    ]);

    const clean = capture();
    await terminateLoaded(startWorker(script('no-fd', '', true, FOREVER), {}, clean.log));
    expect(clean.lines).toEqual([]);
  });
});
