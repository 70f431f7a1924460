/**
 * A one-shot command ends once its answer is out, whatever its abandoned reads still hold (agent/exit.ts, cli.ts run):
 * - the real CLI (bin/chaos-node-agent.js `metrics`) on a proc root whose /proc/<pid>/cmdline is a FIFO: the command
 *   line read blocks in libuv's thread pool (open() of a FIFO waits for a writer, as a read behind a stuck mmap lock
 *   would) and is abandoned at the scan's deadline; the process still exits, with its code and its whole answer;
 * - the flush: 4 MiB written to a pipe read only a second later all arrive, through process.exit() and through libc's
 *   _exit (a read still pending);
 * - the decision and its fallback, on a fake ExitIo.
 * Needs dist/ (npm run build). afterEach opens every FIFO for writing: no pool thread of this process stays stuck.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exitOneShot, holdingExit, type ExitIo } from '../../agent/exit.js';
import { CLI, repoRoot } from '../helpers/repo.js';

/** Far above the CLI's start plus its 1 s command-line budget on a loaded 2-core machine; the old code never exited. */
const EXIT_BOUND_MS = 25_000;
const EXIT_JS = join(repoRoot(), 'dist', 'agent', 'exit.js');

let dir: string;
const fifos: string[] = [];

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs node with `args`; kills it (SIGKILL) past `boundMs`; stdout is read only after `readAfterMs`. */
function runNode(args: string[], boundMs: number, readAfterMs = 0): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const start = setTimeout(() => child.stdout.on('data', (b: Buffer) => out.push(b)), readAfterMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), boundMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      clearTimeout(start);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - t0 });
    });
  });
}

async function mkfifo(path: string): Promise<void> {
  await execa('mkfifo', [path], { timeout: 5000 });
  fifos.push(path);
}

/** A process of the fake proc root: chaos-daemon's tproxy (its command line is wanted), cmdline a file or a FIFO. */
async function fakeTproxy(procRoot: string, pid: number, cmdline: 'fifo' | string[]): Promise<void> {
  const p = join(procRoot, String(pid));
  await mkdir(join(p, 'ns'), { recursive: true });
  await writeFile(join(p, 'stat'), `${pid} (tproxy) S 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid} 0 0\n`);
  await writeFile(join(p, 'cgroup'), '0::/\n');
  for (const [kind, inode] of Object.entries({ pid: 510, net: 610, mnt: 720 })) await symlink(`${kind}:[${inode}]`, join(p, 'ns', kind));
  if (cmdline === 'fifo') await mkfifo(join(p, 'cmdline'));
  else await writeFile(join(p, 'cmdline'), cmdline.map((a) => `${a}\0`).join(''));
}

beforeAll(() => {
  if (!existsSync(EXIT_JS)) throw new Error('dist/ missing: run `npm run build` first');
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cna-exit-'));
  fifos.length = 0;
});

afterEach(async () => {
  for (const path of fifos) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch (err) {
      // ENXIO: nobody reads it any more (the process that did has exited).
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    }
  }
  await rm(dir, { recursive: true, force: true });
});

describe('the real CLI: a one-shot command exits while a command-line read is blocked in the thread pool', () => {
  const metrics = (procRoot: string) => [CLI, 'metrics', '--runtime-endpoint', `unix://${dir}/none.sock`, '--proc-root', procRoot, '--kube', 'off'];
  const families = (text: string) => text.split('\n').filter((l) => l.startsWith('# TYPE '));

  it('metrics: exit code 1 (no runtime), the whole exposition printed, within the bound', async () => {
    const plain = join(dir, 'plain');
    const blocked = join(dir, 'blocked');
    await fakeTproxy(plain, 314, ['/usr/local/bin/tproxy', '-i', '-c', '/tmp/config.json']);
    await fakeTproxy(blocked, 314, 'fifo');

    const base = await runNode(metrics(plain), EXIT_BOUND_MS);
    expect([base.code, base.signal]).toEqual([1, null]);
    const r = await runNode(metrics(blocked), EXIT_BOUND_MS);
    // Killed at the bound (the old code: kept alive by the pending open() until a writer came) would be [null, 'SIGKILL'].
    expect([r.code, r.signal]).toEqual([1, null]);
    expect(r.ms).toBeLessThan(EXIT_BOUND_MS);
    expect(r.stderr).toContain('metrics: no container runtime reachable');
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(families(r.stdout).length).toBeGreaterThan(20);
    expect(families(r.stdout)).toEqual(families(base.stdout));
    // The read was abandoned, not answered: the proc collector still succeeded, within its budget.
    expect(r.stdout).toContain('chaos_daemon_scrape_collector_success{collector="proc"} 1');
  }, 2 * EXIT_BOUND_MS + 10_000);

  it('a reader that goes away before the answer (`... | head`): the command ends quietly with its own code', async () => {
    const plain = join(dir, 'plain');
    await fakeTproxy(plain, 314, ['/usr/local/bin/tproxy', '-i', '-c', '/tmp/config.json']);
    for (const [args, code] of [[[CLI, '--help'], 0], [metrics(plain), 1]] as const) {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.destroy(); // the reader is gone before the first byte: every write fails EPIPE
        const err: Buffer[] = [];
        child.stderr.on('data', (b: Buffer) => err.push(b));
        const kill = setTimeout(() => child.kill('SIGKILL'), EXIT_BOUND_MS);
        child.on('error', reject);
        child.on('close', (c) => {
          clearTimeout(kill);
          resolve({ code: c, stderr: Buffer.concat(err).toString('utf8') });
        });
      });
      // The old code: an unhandled 'error' event (EPIPE), its stack on stderr, exit code 1 whatever the command's.
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
      expect(r.code).toBe(code);
    }
  }, 2 * EXIT_BOUND_MS + 10_000);
});

describe('exitOneShot in a real process: the answer reaches a pipe read a second later', () => {
  /** A node process that writes 4 MiB to stdout, maybe leaves an open() of a FIFO pending, then exitOneShot(code). */
  const script = (code: number, fifo: string | null) => `
    const { exitOneShot } = await import(${JSON.stringify(pathToFileURL(EXIT_JS).href)});
    ${fifo ? `(await import('node:fs/promises')).open(${JSON.stringify(fifo)}, 'r').catch(() => undefined);` : ''}
    process.stdout.write(Buffer.alloc(4 << 20, 'x'));
    await exitOneShot(${code});
  `;

  it('nothing pending: process.exit() after the flush, 4 MiB arrive', async () => {
    const r = await runNode(['--input-type=module', '-e', script(4, null)], EXIT_BOUND_MS, 1000);
    expect([r.code, r.signal, r.stdout.length, r.stderr]).toEqual([4, null, 4 << 20, '']);
  }, EXIT_BOUND_MS + 5000);

  it('an open() of a FIFO pending in the pool: _exit after the flush, 4 MiB arrive, the code kept', async () => {
    const fifo = join(dir, 'cmdline');
    await mkfifo(fifo);
    const r = await runNode(['--input-type=module', '-e', script(5, fifo)], EXIT_BOUND_MS, 1000);
    expect([r.code, r.signal, r.stdout.length, r.stderr]).toEqual([5, null, 4 << 20, '']);
    expect(r.ms).toBeLessThan(EXIT_BOUND_MS);
  }, EXIT_BOUND_MS + 5000);
});

describe('exitOneShot decides on what is left', () => {
  function fakeIo(resources: string[][], hardExit: (code: number) => void = () => undefined) {
    const calls: string[] = [];
    const stderr = new PassThrough();
    const io: ExitIo = {
      stdout: new PassThrough(),
      stderr,
      // Each call takes the next list; the last one stays.
      resources: () => (resources.length > 1 ? resources.shift()! : resources[0]!),
      tick: async () => void calls.push('tick'),
      exit: (code) => void calls.push(`exit ${code}`),
      hardExit: (code) => {
        calls.push(`_exit ${code}`);
        hardExit(code);
      },
    };
    return { io, calls, stderr };
  }

  it('thread-pool requests and worker ports hold process.exit(); stdio, sockets, timers and loop requests do not', () => {
    expect(holdingExit(['PipeWrap', 'TTYWrap', 'TCPWrap', 'Timeout', 'Immediate', 'ConnectWrap', 'WriteWrap'])).toEqual([]);
    expect(holdingExit(['PipeWrap', 'FSReqCallback', 'FSReqPromise', 'GetAddrInfoReqWrap', 'MessagePort', 'CloseReq', 'Worker', 'ProcessWrap'])).toEqual(['FSReqCallback', 'FSReqPromise', 'GetAddrInfoReqWrap', 'MessagePort', 'CloseReq', 'Worker', 'ProcessWrap']);
  });

  it('a child still running (a tool being killed) is waited for, bounded; a live worker thread means _exit', async () => {
    // The child ends after 40 turns: process.exit then, not before (exiting would orphan it and drop execa's SIGKILL).
    const child = fakeIo([...Array<string[]>(40).fill(['ProcessWrap', 'PipeWrap']), ['PipeWrap']]);
    await exitOneShot(3, child.io);
    expect(child.calls.filter((c) => c === 'tick').length).toBe(40);
    expect(child.calls.at(-1)).toBe('exit 3');
    // One that never ends: waited ~1,000 turns, then _exit.
    const stuck = fakeIo([['ProcessWrap']]);
    await exitOneShot(1, stuck.io);
    expect(stuck.calls.filter((c) => c === 'tick').length).toBe(1005);
    expect(stuck.calls.at(-1)).toBe('_exit 1');
    // A worker thread that does not end within the turns: _exit (process.exit() would join it).
    const worker = fakeIo([['Worker', 'PipeWrap']]);
    await exitOneShot(0, worker.io);
    expect(worker.calls).toEqual(['tick', 'tick', 'tick', 'tick', 'tick', '_exit 0']);
  });

  it('only loop resources: process.exit at once; one that clears within a few turns: process.exit after them', async () => {
    const a = fakeIo([['PipeWrap', 'Timeout']]);
    await exitOneShot(0, a.io);
    expect(a.calls).toEqual(['exit 0']);
    const b = fakeIo([['CloseReq', 'PipeWrap'], ['CloseReq'], ['PipeWrap']]);
    await exitOneShot(2, b.io);
    expect(b.calls).toEqual(['tick', 'tick', 'exit 2']);
  });

  it('a request that stays: _exit with the code after 5 turns; libc unusable: says so on stderr, then process.exit', async () => {
    const a = fakeIo([['FSReqCallback', 'PipeWrap']]);
    await exitOneShot(1, a.io);
    expect(a.calls).toEqual(['tick', 'tick', 'tick', 'tick', 'tick', '_exit 1']);
    const b = fakeIo([['FSReqCallback']], () => {
      throw new Error('Cannot find module koffi');
    });
    await exitOneShot(3, b.io);
    expect(b.calls.slice(-2)).toEqual(['_exit 3', 'exit 3']);
    expect(String(b.stderr.read())).toBe('chaos-node-agent: cannot end at once (Cannot find module koffi); waiting for FSReqCallback\n');
  });
});
