/**
 * requestSlice (agent/thread-priority.ts): the struct it passes, byte by byte; and in a real node process, read back
 * from /proc/<pid>/task/<tid>/sched (the kernel's se.slice) and stat: the calling thread alone gets the slice, keeps
 * its nice value, needs no capability (under the DaemonSet's set), and a thread under another policy is left alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { EVENT_LOOP_SLICE_US, requestSlice, schedAttr } from '../agent/thread-priority.js';
import { addedCapabilities } from './deploy/deploy-files.js';
import { describeIntegration } from './helpers/env.js';
import { repoRoot } from './helpers/repo.js';

const DIST = join(repoRoot(), 'dist');

describe('schedAttr', () => {
  it('lays out struct sched_attr (SCHED_ATTR_SIZE_VER1) for SCHED_OTHER, a nice value and a slice', () => {
    const b = schedAttr(-3, 100_000n);
    expect(b.toString('hex')).toBe(
      '38000000' + '00000000' + // size 56, policy SCHED_OTHER
      '0000000000000000' + // flags
      'fdffffff' + '00000000' + // nice -3, priority 0
      'a086010000000000' + // runtime (the slice) 100000 ns
      '0000000000000000' + '0000000000000000' + // deadline, period
      '00000000' + '00000000', // util_min, util_max
    );
  });

  it('refuses an architecture whose syscall number it does not know, without calling anything', () => {
    expect(requestSlice(100, 'mips')).toEqual({ ok: false, reason: 'no sched_setattr number for mips' });
  });
});

/** Runs in a fresh node process: requestSlice on the main thread, then what /proc says of every thread. */
const SCRIPT = `
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const task = (tid, f) => readFileSync('/proc/self/task/' + tid + '/' + f, 'utf8');
const slice = (tid) => Number(/^se\\.slice\\s+:\\s+(\\d+)/m.exec(task(tid, 'sched'))?.[1]);
const stat = (tid) => task(tid, 'stat').split(') ')[1].split(' ');
const before = slice(process.pid);
const { requestSlice } = await import(pathToFileURL(join(process.argv[1], 'agent/thread-priority.js')).href);
const result = requestSlice();
const others = readdirSync('/proc/self/task').map(Number).filter((t) => t !== process.pid);
console.log(JSON.stringify({ before, result, after: slice(process.pid), nice: Number(stat(process.pid)[16]), policy: Number(stat(process.pid)[38]), others: others.map(slice) }));
`;

interface Seen {
  before: number;
  result: { ok: boolean; tid?: number; sliceUs?: number; reason?: string };
  after: number;
  nice: number;
  policy: number;
  others: number[];
}

async function run(prefix: string[]): Promise<Seen> {
  const [cmd, ...args] = [...prefix, process.execPath, '--input-type=module', '-e', SCRIPT, DIST];
  const r = await execa(cmd!, args, { timeout: 30_000, maxBuffer: 1 << 20, stdin: 'ignore' });
  return JSON.parse(String(r.stdout).trim()) as Seen;
}

function expectSliced(s: Seen, nice: number): void {
  expect(s.result).toEqual({ ok: true, tid: expect.any(Number), sliceUs: EVENT_LOOP_SLICE_US });
  expect(s.before).toBeGreaterThan(EVENT_LOOP_SLICE_US * 1000); // the default, longer: else the test proves nothing
  expect(s.after).toBe(EVENT_LOOP_SLICE_US * 1000);
  expect(s.nice).toBe(nice); // sched_setattr sets the nice value too: requestSlice passes the thread's own
  expect(s.policy).toBe(0);
  // The calling thread only: node's other threads (libuv, V8) keep the default.
  expect(s.others.length).toBeGreaterThan(3);
  expect(new Set(s.others)).toEqual(new Set([s.before]));
}

/** Kernels with EEVDF's per-task slice show it in /proc/<pid>/sched (CONFIG_SCHED_DEBUG) as se.slice. */
function sliceShown(): string | null {
  try {
    return /^se\.slice\s+:/m.test(readFileSync('/proc/self/sched', 'utf8')) ? null : 'this kernel has no se.slice in /proc/self/sched (EEVDF, Linux >= 6.6)';
  } catch (err) {
    return `no /proc/self/sched: ${String(err)}`;
  }
}

describeIntegration('requestSlice on this kernel', { commands: ['nice', 'chrt'], unmet: sliceShown() ?? (existsSync(join(DIST, 'agent', 'thread-priority.js')) ? null : 'dist/ missing: run npm run build') }, () => {
  it('gives the calling thread the slice and keeps its nice value', async () => {
    expectSliced(await run(['nice', '-n', '3']), 3);
  });

  it('leaves a thread under another policy (SCHED_BATCH) as it is', async () => {
    const s = await run(['chrt', '--batch', '0']);
    expect(s.result).toEqual({ ok: false, reason: 'scheduling policy 3, not SCHED_OTHER' });
    expect(s.policy).toBe(3);
    expect(s.after).toBe(s.before);
  });
});

describeIntegration('requestSlice under the DaemonSet capability set', { root: true, commands: ['setpriv'], unmet: sliceShown() }, () => {
  it('needs no capability', async () => {
    const caps = addedCapabilities();
    expect(caps).not.toContain('CAP_SYS_NICE');
    const bset = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
    expectSliced(await run(['setpriv', '--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${bset}`, '--']), 0);
  });
});
