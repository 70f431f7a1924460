/**
 * The per-thread probe of bench/profile.ts --threads, on this process's own threads: a worker thread that reads
 * files shows up as a new thread with its CPU and read() calls, and is labelled the root reader; the main thread is
 * `main`, threads alive before the first sample `startup`.
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { labelThreads, parseIo, parseSchedstat, sampleThreads, threadDeltas } from '../../bench/thread-cpu.js';

describe('per-thread CPU probe', () => {
  it('parses schedstat and io', () => {
    expect(parseSchedstat('123456789 2000 15\n')).toBe(123456789);
    expect(() => parseSchedstat('x')).toThrow(/schedstat/);
    expect(parseIo('rchar: 10\nwchar: 0\nsyscr: 3\nsyscw: 0\n')).toEqual({ syscr: 3, rchar: 10 });
    expect(() => parseIo('rchar: 10\n')).toThrow(/syscr/);
  });

  it('sees a worker thread that reads files, with its CPU and reads, and labels it', async () => {
    const before = sampleThreads(process.pid);
    expect(before.get(process.pid)!.cpuNs).toBeGreaterThan(0);
    const early = new Set(before.keys());
    // Keeps reading /proc/self/stat until told to stop, so it is alive when sampled.
    const w = new Worker(`
      const { readFileSync } = require('node:fs');
      const { parentPort } = require('node:worker_threads');
      const end = Date.now() + 300;
      while (Date.now() < end) readFileSync('/proc/self/stat');
      parentPort.postMessage('done');
      setTimeout(() => {}, 10000);
    `, { eval: true });
    try {
      await new Promise((resolve) => w.once('message', resolve));
      const d = threadDeltas(before, sampleThreads(process.pid));
      const born = [...d.keys()].filter((t) => !early.has(t));
      expect(born.length).toBeGreaterThan(0);
      const labels = labelThreads(process.pid, early, d);
      const reader = [...labels].find(([, l]) => l === 'root-reader')![0];
      expect(born).toContain(reader);
      expect(d.get(reader)!.syscr).toBeGreaterThan(50);
      expect(d.get(reader)!.cpuNs).toBeGreaterThan(0);
      expect(labels.get(process.pid)).toBe('main');
      for (const t of early) if (t !== process.pid && labels.has(t)) expect(labels.get(t)).toBe('startup');
    } finally {
      await w.terminate();
    }
  });
});
