/**
 * fd-ledger.ts: the fds a worker thread opens through koffi are closed by its parent once the thread has ended
 * (Node closes only those a worker opened with `fs`). The ledger itself on literal fds; then real threads: one
 * terminated while it holds netlink sockets and a /proc directory fd (the same script started with a plain
 * `new Worker` leaves them open: the ledger is what closes them), one that dies on its own, and the netlink pool's
 * threads, which left their /proc/thread-self fd behind every time one ended.
 */
import { closeSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLeftFds, FD_LEDGER_SLOTS, FdLedger, newFdLedgerSlots } from '../agent/fd-ledger.js';
import { silentLogger } from '../agent/log.js';
import { NetlinkPool } from '../agent/netns/netlink/pool.js';
import { leftFds, startWorker, terminateLoaded } from '../agent/worker-loaded.js';
import { describeIntegration } from './helpers/env.js';
import { createNetns, destroyAll } from './helpers/netns.js';
import { ownFds } from './helpers/procs.js';

describe('FdLedger and closeLeftFds', () => {
  it('records fds after their open and forgets them before their close; the parent closes exactly what is left', () => {
    const slots = newFdLedgerSlots();
    const l = new FdLedger(slots);
    expect([l.opened(40), l.opened(-1), l.opened(41), l.opened(0)]).toEqual([40, -1, 41, 0]);
    l.closing(41);
    l.closing(99); // never recorded: nothing happens
    expect(l.opened(42)).toBe(42);
    const closed: number[] = [];
    expect(closeLeftFds(slots, (fd) => void closed.push(fd)).failed).toEqual([]);
    expect(closed.sort((a, b) => a - b)).toEqual([0, 40, 42]);
    // The slots are cleared: a second pass closes nothing.
    expect(closeLeftFds(slots, () => {
      throw new Error('closed twice');
    })).toEqual({ closed: [], failed: [] });
  });

  it('a full ledger counts what it could not record; a failing close is returned, not thrown', () => {
    const slots = newFdLedgerSlots();
    const l = new FdLedger(slots);
    for (let fd = 100; fd < 100 + FD_LEDGER_SLOTS + 3; fd++) l.opened(fd);
    expect(l.unrecorded).toBe(3);
    const r = closeLeftFds(slots, (fd) => {
      if (fd === 100) throw new Error('EBADF');
    });
    expect([r.closed.length, r.failed.map((f) => f.fd)]).toEqual([FD_LEDGER_SLOTS - 1, [100]]);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'cna-fdledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const libcJs = pathToFileURL(resolve('dist/agent/netns/netlink/libc.js')).href;

/** A thread that opens two netlink sockets and a /proc/thread-self fd through koffi, says which, then spins (or throws). */
function holder(end: 'spin' | 'throw' = 'spin'): URL {
  const file = join(dir, `holder-${end}.mjs`);
  writeFileSync(file, `import { parentPort, workerData } from 'node:worker_threads';
import { libc, AF_NETLINK, SOCK_RAW, SOCK_CLOEXEC, NETLINK_ROUTE, NETLINK_NETFILTER, AT_FDCWD, O_PATH, O_DIRECTORY, O_CLOEXEC } from ${JSON.stringify(libcJs)};
const lib = libc();
const fds = [lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER),
  lib.openat(AT_FDCWD, '/proc/thread-self', O_PATH | O_DIRECTORY | O_CLOEXEC)];
// One opened and closed again: not left, not closed twice.
lib.close(lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
if (workerData?.loaded) { Atomics.store(workerData.loaded, 0, 1); Atomics.notify(workerData.loaded, 0); }
parentPort.postMessage(fds);
${end === 'spin' ? 'for (;;);' : "setTimeout(() => { throw new Error('the thread dies on its own'); }, 50);"}
`);
  return pathToFileURL(file);
}

const opened = (fds: number[]): number[] => {
  const open = new Set(ownFds().map((f) => f.fd));
  return fds.filter((fd) => open.has(fd));
};

/** The thread's first message, or its error (a missing or stale dist/ makes the script fail to load). */
const firstMessage = (w: Worker): Promise<number[]> => new Promise((res, rej) => {
  w.once('message', res);
  w.once('error', rej);
});

const built = existsSync('dist/agent/fd-ledger.js') ? null : 'dist/ is not built (npm run build)';

describeIntegration('fds of ended reader threads (needs npm run build for dist/)', { root: true, commands: ['ip'], unmet: built }, () => {
  afterAll(destroyAll);

  it('a thread terminated while it holds koffi sockets and a /proc fd: its parent closes them; a plain Worker leaves them', async () => {
    const w = startWorker(holder(), {}, silentLogger());
    const fds = await firstMessage(w);
    expect(fds.every((fd) => fd >= 0)).toBe(true);
    expect(opened(fds)).toEqual(fds);
    const before = leftFds.closed;
    await terminateLoaded(w);
    expect(opened(fds)).toEqual([]);
    expect(leftFds.closed - before).toBe(3);

    // Without the ledger (a Worker not started by startWorker): the same fds outlive the thread.
    const plain = new Worker(holder());
    const kept = await firstMessage(plain);
    await plain.terminate();
    expect(opened(kept)).toEqual(kept);
    for (const fd of kept) closeSync(fd);
  });

  it('a thread that dies on its own (an uncaught error): its fds are closed once it has exited, with no terminate', async () => {
    const w = startWorker(holder('throw'), {}, silentLogger());
    const fds = await firstMessage(w);
    expect(opened(fds)).toEqual(fds);
    const died = new Promise((res) => w.once('error', res));
    await new Promise((res) => w.once('exit', res));
    expect(((await died) as Error).message).toBe('the thread dies on its own');
    expect(opened(fds)).toEqual([]);
  });

  it('the netlink pool\'s threads leave no fd behind once they end, after reads', async () => {
    const ns = await createNetns('fdl');
    const job = { path: ns.path, inode: statSync(ns.path).ino, maxSourceBytes: 1 << 20, budgetMs: 5000 };
    const warm = new NetlinkPool({ size: 1, idleMs: 5000 });
    await warm.read(job);
    await warm.close(); // koffi and the modules loaded once: what follows is per thread
    const before = new Set(ownFds().map((f) => `${f.fd} ${f.target}`));
    for (let i = 0; i < 4; i++) {
      const p = new NetlinkPool({ size: 1, idleMs: 5000 });
      expect((await p.read(job)).state.reader).toBe('netlink');
      await p.close();
    }
    expect(ownFds().filter((f) => !before.has(`${f.fd} ${f.target}`)).map((f) => f.target)).toEqual([]);
  });
});
