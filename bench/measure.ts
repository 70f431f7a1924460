/**
 * What the benchmark measures with, besides wall clocks: CPU time of this process (process.cpuUsage) and of
 * its reaped children (cutime + cstime of /proc/self/stat: every nsenter tool the bench process spawned and
 * waited for), CPU of another process (utime + stime of /proc/<pid>/stat, e.g. containerd), resident memory of
 * a process (VmRSS / VmHWM of /proc/<pid>/status), the load average, and order statistics of samples.
 *
 * The kernel accumulates child times in nanoseconds and converts on read, so summing many short children is
 * not rounded per child; the value is reported in clock ticks (CLK_TCK, 100 on Linux x86-64).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AgentError, errorMessage } from '../agent/errors.js';
import { validatePid } from '../agent/runtime/netns-resolve.js';

/** USER_HZ as exposed by /proc (sysconf(_SC_CLK_TCK)); 100 on every mainstream Linux architecture. */
export const CLK_TCK = 100;

export interface CpuSnapshot {
  /** user+system of this process, microseconds. */
  selfUs: number;
  /** cutime+cstime of this process (children already waited for), microseconds. */
  childrenUs: number;
  /** Of selfUs + childrenUs, the time spent in the kernel (system + cstime), microseconds. */
  kernelUs: number;
}

export interface CpuDelta {
  selfMs: number;
  childrenMs: number;
  totalMs: number;
  /** Of totalMs, the time spent in the kernel on behalf of the process and its children (syscalls, page faults). */
  kernelMs: number;
}

/** Fields of /proc/<pid>/stat after the `(comm)` field, which may itself contain spaces and parentheses. */
export function statFields(text: string): string[] {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new AgentError('BENCH_PROC', `unexpected /proc stat line: ${JSON.stringify(text.slice(0, 80))}`);
  return text.slice(close + 2).trim().split(/\s+/);
}

/** Field number `n` (1-based, as in proc(5)) of a stat line. */
function statField(fields: string[], n: number): number {
  // statFields starts at field 3 (state).
  const v = Number(fields[n - 3]);
  if (!Number.isFinite(v)) throw new AgentError('BENCH_PROC', `/proc stat field ${n} is not a number`);
  return v;
}

function ticksToUs(ticks: number): number {
  return (ticks * 1e6) / CLK_TCK;
}

export function cpuSnapshot(): CpuSnapshot {
  const self = process.cpuUsage();
  const fields = statFields(readFileSync('/proc/self/stat', 'utf8'));
  return { selfUs: self.user + self.system, childrenUs: ticksToUs(statField(fields, 16) + statField(fields, 17)), kernelUs: self.system + ticksToUs(statField(fields, 17)) };
}

export function cpuSince(before: CpuSnapshot, after: CpuSnapshot = cpuSnapshot()): CpuDelta {
  const selfMs = (after.selfUs - before.selfUs) / 1000;
  const childrenMs = (after.childrenUs - before.childrenUs) / 1000;
  return { selfMs, childrenMs, totalMs: selfMs + childrenMs, kernelMs: (after.kernelUs - before.kernelUs) / 1000 };
}

/** utime+stime of another process in milliseconds; null when it is gone. */
export async function processCpuMs(pid: number): Promise<number | null> {
  const p = validatePid('pid', pid);
  try {
    const fields = statFields(await readFile(`/proc/${p}/stat`, 'utf8'));
    return ticksToUs(statField(fields, 14) + statField(fields, 15)) / 1000;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw new AgentError('BENCH_PROC', `cannot read /proc/${p}/stat: ${errorMessage(err)}`, { cause: err });
  }
}

export interface Memory {
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size (VmHWM), bytes. */
  hwmBytes: number;
}

/** Parse the VmRSS and VmHWM lines (kB) of /proc/<pid>/status. */
export function parseStatusMemory(text: string): Memory {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!m) throw new AgentError('BENCH_PROC', `no ${key} line in /proc/<pid>/status`);
    return Number(m[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

export async function processMemory(pid: number): Promise<Memory> {
  const p = validatePid('pid', pid);
  try {
    return parseStatusMemory(await readFile(`/proc/${p}/status`, 'utf8'));
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw new AgentError('BENCH_PROC', `cannot read /proc/${p}/status: ${errorMessage(err)}`, { cause: err });
  }
}

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** First and third quartiles (linear interpolation between order statistics). */
  q1: number;
  q3: number;
  samples: number[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
    samples: samples.map((s) => round(s, 3)),
  };
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Samples the 1-minute load average every `everyMs` while a phase runs (the machine is shared: the figure
 * tells how much the numbers can be trusted).
 */
export class LoadSampler {
  private readonly samples: number[] = [];
  private timer: NodeJS.Timeout | null = null;

  start(everyMs = 5000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    this.samples.push(loadavg()[0] ?? NaN);
  }

  stop(): { min: number; mean: number; max: number; n: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    const s = this.samples;
    return {
      min: round(Math.min(...s), 2),
      mean: round(s.reduce((a, b) => a + b, 0) / s.length, 2),
      max: round(Math.max(...s), 2),
      n: s.length,
    };
  }
}

/** Run `fn` over `items` with at most `limit` at once; results in input order; every failure is kept. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i]!, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface ShippedLaunch {
  NODE_FLAGS: readonly string[];
  MALLOC_ENV: Readonly<Record<string, string>>;
}

const shippedLaunch = (repoRoot: string): Promise<ShippedLaunch> =>
  import(pathToFileURL(join(repoRoot, 'bin', 'node-flags.js')).href) as Promise<ShippedLaunch>;

/** The V8 flags the launcher ships with (bin/node-flags.js, plain JS outside dist/), for spawning the agent as it ships. */
export async function shippedNodeFlags(repoRoot: string): Promise<string[]> {
  return [...(await shippedLaunch(repoRoot)).NODE_FLAGS];
}

/** The environment the image and the DaemonSet give the agent (bin/node-flags.js MALLOC_ENV: glibc's tunables). */
export async function shippedEnv(repoRoot: string): Promise<Record<string, string>> {
  return { ...(await shippedLaunch(repoRoot)).MALLOC_ENV };
}
