/**
 * Bench-only instrumentation preloaded into the real `serve` (`node <shipped flags> --import
 * dist/bench/loop-probe.js bin/chaos-node-agent.js serve ...`; never part of the shipped agent): how long the event
 * loop was blocked, window by window. perf_hooks.monitorEventLoopDelay with a RESOLUTION_MS timer records the time
 * between two firings of that timer; the longest block in a window is the longest of them minus the resolution.
 *
 * On SIGUSR2 it writes one line `LOOPPROBE {json}` to stderr and starts a new window: the window's longest block
 * and p99 (ms), the timer firings it saw, and the process's CPU (user+system of every thread, ms) and reaped
 * children's CPU (ms) so far. bench/serve-load.ts sends SIGUSR2 each time serve logs "collection published", so a
 * window is one collection interval: the collection, its rendering and whatever scrapes arrived meanwhile.
 *
 * Main thread only: node gives a preloaded module (--import) to every worker thread too, and until 2026-12-01 the probe
 * also ran its 2 ms timer in the agent's reader thread (~500 firings a second there, CPU serve does not spend in
 * production, and a second busy thread competing with the event loop it measures on 2 cores).
 *
 * Its own cost: about 500 timer firings per second (~21 ms of CPU per second), which serve's CPU in each window
 * includes; bench/serve-load.ts calibrateProbe measures it per firing and the report subtracts it.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

export const RESOLUTION_MS = 2;

const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
if (isMainThread) delay.enable();

/** cutime + cstime of /proc/self/stat (children already waited for), ms. */
function childrenCpuMs(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}

const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;

if (isMainThread) process.on('SIGUSR2', () => {
  const max = delay.count > 0 ? Math.max(0, ms(delay.max) - RESOLUTION_MS) : 0;
  const p99 = delay.count > 0 ? Math.max(0, ms(delay.percentile(99)) - RESOLUTION_MS) : 0;
  const count = delay.count;
  delay.reset();
  const cpu = process.cpuUsage();
  process.stderr.write(`LOOPPROBE ${JSON.stringify({ t: Date.now(), maxBlockMs: max, p99BlockMs: p99, firings: count, cpuMs: (cpu.user + cpu.system) / 1000, childrenCpuMs: childrenCpuMs() })}\n`);
});
