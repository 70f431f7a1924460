import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { MALLOC_ENV, NODE_FLAGS } from '../../bin/node-flags.js';
import { agentContainer, byKind, yamlDocs } from '../deploy/deploy-files.js';

/** Allocates short-lived objects until the young generation has grown to its maximum, then prints its size. */
const PROBE = `
let keep = [];
for (let i = 0; i < 3e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 1000) keep = []; }
const ns = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(ns.space_size));
`;

async function newSpaceBytes(flags: readonly string[]): Promise<number> {
  const r = await execa(process.execPath, [...flags, '-e', PROBE], { timeout: 30_000, maxBuffer: 1 << 16, killSignal: 'SIGKILL', shell: false });
  return Number(r.stdout);
}

async function heapLimitBytes(flags: readonly string[]): Promise<number> {
  const r = await execa(process.execPath, [...flags, '-e', `process.stdout.write(String(require('node:v8').getHeapStatistics().heap_size_limit))`],
    { timeout: 30_000, maxBuffer: 1 << 16, killSignal: 'SIGKILL', shell: false });
  return Number(r.stdout);
}

/**
 * A process that holds ~30 MB, runs one full GC (gc()), then idles printing --trace-gc: it exits at its first full GC
 * it did not ask for (V8's memory reducer starts one ~8 s after a full GC once the process allocates little), or when
 * its stdin ends.
 */
function idleAfterGc(flags: readonly string[]) {
  const probe = `const { PerformanceObserver, constants: c } = require('node:perf_hooks');
    const live = []; for (let i = 0; i < 3e5; i++) live.push({ x: i, y: 'v' + i });
    gc();
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.detail.kind === c.NODE_PERFORMANCE_GC_MAJOR && !(e.detail.flags & c.NODE_PERFORMANCE_GC_FLAGS_FORCED)) process.exit(0);
      }
    }).observe({ entryTypes: ['gc'] });
    process.stdin.on('end', () => process.exit(live.length > 0 ? 0 : 1)).resume();`;
  return execa(process.execPath, [...flags, '--expose-gc', '--trace-gc', '-e', probe],
    { timeout: 60_000, maxBuffer: 1 << 20, killSignal: 'SIGKILL', shell: false });
}

/**
 * Allocates ~4 million small objects, keeping some long enough to be promoted (scavenges and full GCs), and prints the
 * CPU the main thread and the process's other threads (V8's platform threads: nothing else runs here) spent meanwhile.
 */
const GC_THREADS = `
const { readdirSync, readFileSync } = require('node:fs');
const cpu = (t) => Number(readFileSync('/proc/self/task/' + t + '/schedstat', 'utf8').split(' ')[0]) / 1e6;
const others = () => readdirSync('/proc/self/task').map(Number).filter((t) => t !== process.pid).reduce((a, t) => a + cpu(t), 0);
const o0 = others();
const m0 = cpu(process.pid);
let keep = [];
const old = [];
for (let i = 0; i < 4e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 5000) { old.push(keep); keep = []; if (old.length > 60) old.splice(0, 30); } }
process.stdout.write(JSON.stringify({ others: others() - o0, main: cpu(process.pid) - m0 }));
`;

async function gcThreadsMs(flags: readonly string[]): Promise<{ others: number; main: number }> {
  const r = await execa(process.execPath, [...flags, '-e', GC_THREADS], { timeout: 60_000, maxBuffer: 1 << 16, killSignal: 'SIGKILL', shell: false });
  return JSON.parse(r.stdout) as { others: number; main: number };
}

describe('bin/node-flags.js (V8 flags the agent ships with)', () => {
  it('caps the young generation at 2 MB (V8 grows it to 32 MB without the flag)', async () => {
    expect(NODE_FLAGS).toContain('--max-semi-space-size=1');
    expect(await newSpaceBytes(NODE_FLAGS)).toBe(2 << 20);
    expect(await newSpaceBytes([])).toBe(32 << 20);
  });

  it('limits the heap to 256 MB of old generation plus the young generation (3 semi-spaces of 1 MB)', async () => {
    // Without the flag V8 derives the limit from the machine's memory (4 GB here, 2 GB on 8-16 GB machines).
    expect(NODE_FLAGS).toContain('--max-old-space-size=256');
    expect(await heapLimitBytes(NODE_FLAGS)).toBe((256 + 3 * 1) * 2 ** 20);
  });

  it("turns V8's memory reducer off (no reducing full GC once the process idles after a full GC)", async () => {
    // Both at once. Without the flag (the same heap flags otherwise) the probe's idle ends with "Mark-Compact
    // (reduce)" ~8 s after its gc() (later on a loaded machine); the shipped flags' probe idles that long plus 3 s.
    const shipped = idleAfterGc(NODE_FLAGS);
    let plain: string;
    try {
      plain = (await idleAfterGc(NODE_FLAGS.filter((f) => f !== '--no-memory-reducer'))).stdout;
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      shipped.stdin!.end();
    }
    const out = (await shipped).stdout;
    expect(plain).toMatch(/Mark-Compact \(reduce\)/);
    expect(out).toMatch(/Mark-Compact/); // its gc()
    expect(out).not.toMatch(/\(reduce\)/);
  }, 90_000);

  it("keeps garbage collection on the heap's own thread (V8's platform threads do none of it)", async () => {
    // Measured here: with V8's helpers 721-797 ms of the other threads' CPU for this allocation, 7 ms without
    // (what is left: V8's compiler jobs).
    expect(NODE_FLAGS).toContain('--single-threaded-gc');
    const shipped = await gcThreadsMs(NODE_FLAGS);
    const helped = await gcThreadsMs(NODE_FLAGS.filter((f) => f !== '--single-threaded-gc'));
    expect(helped.others).toBeGreaterThan(100);
    expect(shipped.others).toBeLessThan(helped.others / 5);
    expect(shipped.others).toBeLessThan(50);
  }, 120_000);

  it('the image and the DaemonSet set the malloc environment the bench runs serve with', () => {
    expect(MALLOC_ENV).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' });
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').replace(/\\\n\s*/g, ' ');
    const imageEnv: Record<string, string> = {};
    for (const line of dockerfile.split('\n')) {
      if (!line.startsWith('ENV ')) continue;
      for (const m of line.slice(4).matchAll(/(MALLOC_\w+)=(\S+)/g)) imageEnv[m[1]!] = m[2]!;
    }
    expect(imageEnv).toEqual(MALLOC_ENV);
    const env = (agentContainer(byKind(yamlDocs('daemonset.yaml'), 'DaemonSet')).env ?? []) as { name: string; value: string }[];
    expect(Object.fromEntries(env.filter((e) => e.name.startsWith('MALLOC_')).map((e) => [e.name, e.value]))).toEqual(MALLOC_ENV);
  });

  it('is what the image ENTRYPOINT passes to node', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(entrypoint && JSON.parse(entrypoint)).toEqual(['node', ...NODE_FLAGS, '/app/bin/chaos-node-agent.js']);
  });

  it('is what the shebang of the bin passes to node when the bin is run directly', () => {
    const bin = readFileSync(new URL('../../bin/chaos-node-agent.js', import.meta.url), 'utf8');
    expect(bin.split('\n')[0]).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });
});
