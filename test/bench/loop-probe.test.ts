/**
 * bench/loop-probe.ts on real processes (dist/, as the bench preloads it): a block of the thread's own making is
 * counted as its own, and a thread kept from its CPU by another process has that wait counted as run-queue wait,
 * not as its own block (the main thread's /proc/thread-self/schedstat); the thread's CPU per gap is exact, and a
 * blocking call is busy time (outside epoll) without CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { measureLoopFloor } from '../../bench/probe-child.js';
import { describeIntegration } from '../helpers/env.js';
import { repoRoot } from '../helpers/repo.js';

const PROBE = fileURLToPath(new URL('../../dist/bench/loop-probe.js', import.meta.url));

interface Line {
  maxBlockMs: number;
  stealMs: number;
  worst: { gapMs: number; runqMs: number; ownMaxMs: number; cpuMs: number; cpuMaxMs: number; activeMs: number; activeMaxMs: number };
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/**
 * `node --import probe -e script` (behind `wrap`, e.g. taskset): once the script has printed `ready` (the probe is
 * installed before it runs) and `before(pid)` has resolved, SIGUSR2 starts a window; `windowMs` later a second
 * SIGUSR2 ends it; its line is returned.
 */
function window(script: string, windowMs: number, wrap: string[] = [], before: (pid: number) => Promise<void> = async () => undefined): Promise<Line> {
  const argv = [...wrap, process.execPath, '--import', PROBE, '-e', `process.stdout.write('ready\\n'); ${script}`];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no probe line in 20 s: ${err.slice(-500)}`)), 20_000);
    child.stdout!.once('data', () => {
      before(child.pid!).then(() => {
        child.kill('SIGUSR2');
        setTimeout(() => child.kill('SIGUSR2'), windowMs);
      }, reject);
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      const lines = err.split('\n').filter((l) => l.startsWith('LOOPPROBE '));
      if (lines.length >= 2) {
        clearTimeout(timer);
        resolve(JSON.parse(lines[1]!.slice(10)) as Line);
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`probe child exited (${code ?? sig}): ${err.slice(-500)}`));
    });
  });
}

describeIntegration('loop probe: run-queue wait told from own blocks', { commands: ['taskset', 'renice'], unmet: existsSync(PROBE) ? null : 'dist/bench/loop-probe.js missing: run `npm run build` first' }, () => {
  it('counts 80 ms of the thread\'s own CPU as its own block, as the histogram does', async () => {
    // The main thread's own CPU (its schedstat's first field, to a tick) for 80 ms, 200 ms into the window.
    const line = await window(`setTimeout(() => {
      const cpu = () => Number(require('fs').readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
      const t = cpu(); while (cpu() - t < 80) {}
    }, 200); setTimeout(() => {}, 5000)`, 1000);
    expect(line.worst.gapMs).toBeGreaterThanOrEqual(70);
    expect(line.maxBlockMs).toBeGreaterThanOrEqual(70); // the histogram's timer saw it too (on a loaded machine each
    // timer's longest gap may also hold a different wait around the block: CI once saw them 11 ms apart)
    // Whatever the machine took of it, 80 ms of the thread's own work stays its own (less the 2 ms resolution and a tick).
    expect(line.worst.ownMaxMs).toBeGreaterThanOrEqual(70);
    expect(line.worst.gapMs - line.worst.runqMs).toBeGreaterThanOrEqual(70);
    // The thread's CPU, exact (CLOCK_THREAD_CPUTIME_ID): the loop spun until schedstat, which lags, said 80 ms.
    expect(line.worst.cpuMs).toBeGreaterThanOrEqual(78);
    expect(line.worst.cpuMaxMs).toBeGreaterThanOrEqual(78);
    // The loop never went back to epoll meanwhile: the whole gap was busy.
    expect(line.worst.activeMaxMs).toBeGreaterThanOrEqual(78);
    expect(line.stealMs).toBeGreaterThanOrEqual(0);
  });

  it('counts a blocking call as busy time, not as the thread\'s CPU', async () => {
    // 60 ms asleep inside a callback (Atomics.wait): the loop is blocked, the thread runs nothing.
    const line = await window(`setTimeout(() => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60); }, 200);
      setTimeout(() => {}, 5000)`, 1000);
    expect(line.worst.gapMs).toBeGreaterThanOrEqual(55);
    expect(line.worst.activeMs).toBeGreaterThanOrEqual(58);
    expect(line.worst.activeMaxMs).toBeGreaterThanOrEqual(58);
    expect(line.worst.cpuMs).toBeLessThan(10);
  });

  it('counts the wait behind a busy process on its CPU as run-queue wait, not its own block', async () => {
    // An idle node on CPU 0, its main thread then at nice 19 (renice -p: that thread only), and a shell loop at nice 0
    // on the same CPU: the node's timer wakes, runnable, and waits.
    const line = await window('setInterval(() => {}, 1000)', 1000, ['taskset', '-c', '0'], async (pid) => {
      children.push(spawn('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
      await new Promise<void>((resolve, reject) => {
        spawn('renice', ['-n', '19', '-p', String(pid)], { stdio: 'ignore' }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`renice exited ${code}`))));
      });
    });
    expect(line.worst.gapMs).toBeGreaterThanOrEqual(5);
    expect(line.worst.runqMs).toBeGreaterThanOrEqual(3);
    // The idle node blocks nothing itself: its own longest block is far below its longest gap.
    expect(line.worst.ownMaxMs).toBeLessThan(line.worst.gapMs - 3);
    // It ran little in any gap: far less than the gaps the wait made. (Its busy time may hold the wait: at nice 19 the
    // thread is preempted as soon as epoll has returned, and libuv counts what follows as the loop's.) Not "< 3 ms":
    // on a 2-vCPU machine of 2026-12-02 the idle node's thread ran 2.4-6.1 ms of CPU in worst gaps of 150-250 ms while
    // it shared CPU 0 with the loop (CI: 1 run in 2 failed the old bound, 4.1 ms).
    expect(line.worst.cpuMaxMs).toBeLessThan(10);
    expect(line.worst.cpuMs).toBeLessThan(Math.max(10, line.worst.gapMs / 4));
  });

  it('measures the loop floor: windows of an empty node, and of one under SCHED_FIFO that waits for no CPU', async () => {
    const floor = await measureLoopFloor(repoRoot(), 3, 400);
    expect(floor.windows).toHaveLength(3);
    for (const w of floor.windows) {
      expect(w.maxBlockMs).toBeGreaterThanOrEqual(0);
      expect(w.maxBlockMs).toBeLessThan(400);
      expect(w.worst).toBeDefined();
    }
    if (process.getuid?.() !== 0) return; // chrt -f needs root: no rtWindows
    expect(floor.rtWindows).toHaveLength(3);
    // No thread of normal priority delays a SCHED_FIFO one: its longest gaps did not wait on a run queue. (The
    // hypervisor may still take the virtual CPU while it is runnable, which the guest counts as a wait: the median.)
    const waits = floor.rtWindows!.map((w) => w.worst!.runqMs).sort((a, b) => a - b);
    expect(waits[1]).toBeLessThan(1);
  });
});
