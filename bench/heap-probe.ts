/**
 * Bench-only instrumentation preloaded into a `serve` process (`node --expose-gc --import dist/bench/heap-probe.js
 * bin/chaos-node-agent.js serve ...`; never part of the shipped agent). Monitors the event loop's delay
 * (perf_hooks.monitorEventLoopDelay, 10 ms resolution) from startup and, on SIGUSR2, runs a full GC twice and
 * writes one line `HEAPPROBE {json}` to stderr: VmRSS before the GC, memoryUsage() and V8 heap-space sizes after
 * it, and the event-loop delay (max, p99, mean, ms) since the previous report, whose histogram is then reset.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const gc = (globalThis as { gc?: () => void }).gc;
const delay = monitorEventLoopDelay({ resolution: 10 });
// Main thread only: a preloaded module (--import) runs in every worker thread too (bench/loop-probe.ts).
if (isMainThread) delay.enable();
/** Time spent in GC pauses since startup (perf_hooks 'gc' entries), ms. */
let gcMs = 0;
if (isMainThread) new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

function vmRssBytes(): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resident memory by kind of mapping (/proc/self/smaps): file-backed (node binary, libraries), [heap] (brk), anonymous. */
function residentByKind(): { fileKb: number; brkKb: number; anonKb: number } {
  let fileKb = 0;
  let brkKb = 0;
  let anonKb = 0;
  let kind: 'file' | 'brk' | 'anon' = 'anon';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1] ?? '';
      kind = name === '[heap]' ? 'brk' : name.startsWith('/') ? 'file' : 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const kb = Number(rss[1]);
    if (kind === 'file') fileKb += kb;
    else if (kind === 'brk') brkKb += kb;
    else anonKb += kb;
  }
  return { fileKb, brkKb, anonKb };
}

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

if (isMainThread) process.on('SIGUSR2', () => {
  const rssBeforeGc = vmRssBytes();
  const gcMsBefore = gcMs;
  const el = { maxMs: ms(delay.max), p99Ms: ms(delay.percentile(99)), meanMs: ms(delay.mean) };
  delay.reset();
  if (gc) {
    gc();
    gc();
  }
  const mu = process.memoryUsage();
  const spaces: Record<string, number> = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = s.space_size;
  process.stderr.write(`HEAPPROBE ${JSON.stringify({ t: Date.now(), gc: gc !== undefined, rssBeforeGc, rss: mu.rss, heapTotal: mu.heapTotal, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers, spaces, resident: residentByKind(), gcMs: Math.round(gcMsBefore), cpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000), eventLoop: el })}\n`);
});
