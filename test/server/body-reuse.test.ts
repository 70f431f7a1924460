/**
 * The exposition's bodies are reused from one collection to the next (agent/metrics/body-pool.ts): never while a
 * response still writes one. A real HTTP server, a client that stops reading a body larger than the kernel buffers
 * on loopback, and collections that would reuse that body's backing meanwhile.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.js';
import { MetricsPipeline } from '../../agent/metrics/pipeline.js';
import { PersistentMetrics } from '../../agent/metrics/registry.js';
import { CollectionScheduler } from '../../agent/scheduler.js';
import { AgentServer } from '../../agent/server/http-server.js';
import type { Snapshot } from '../../agent/snapshot.js';
import { nodeScaleSnapshot } from '../metrics/node-scale.js';
import { get } from './http-client.js';

/**
 * A real server over a scheduler that collects only when asked (`collect` gives each snapshot) and renders as serve
 * does, with the persistent metrics whose body pool the tests read; stopped after the describe block.
 */
function serve(collect: () => Promise<Snapshot>, serverOpts: { idleSocketTimeoutMs?: number; firstCollectionWaitMs?: number }) {
  const log = silentLogger();
  const persistent = new PersistentMetrics({ defaultMetrics: false });
  const pipeline = new MetricsPipeline({ compatMetrics: true, persistent, log });
  const scheduler = new CollectionScheduler({ intervalMs: 3_600_000, collect, process: (s, signal) => pipeline.process(s, signal), log });
  const server = new AgentServer({ state: scheduler, debug: { mode: 'off' }, log, ...serverOpts });
  afterAll(async () => {
    await scheduler.stop();
    await server.close(100);
  });
  return { persistent, scheduler, server };
}

// ~11 MB of text: more than loopback's buffers hold for a client that does not read (~4 MiB sent, ~128 KiB received).
const PODS = 800;

describe('bodies reused across collections', () => {
  // Same sizes, other names: each collection's body is as long as the last (so its backing can be reused) and differs.
  const snaps: Snapshot[] = ['aaa', 'bbb', 'ccc', 'ddd', 'eee'].map((prefix) => nodeScaleSnapshot(PODS, { prefix, extraRules: 10 }));
  let n = 0;
  // No idle cut: on a loaded machine the collections below may keep the paused client waiting past the default 15 s.
  const { persistent, scheduler, server } = serve(async () => snaps[n++ % snaps.length]!, { idleSocketTimeoutMs: 120_000 });

  it('a body a client is still reading is not reused; once it is read, the next rendering reuses it', async () => {
    const { port } = await server.listen('127.0.0.1', 0);
    await scheduler.collectNow();
    const first = await scheduler.latest!.metrics.body('prometheus', false);
    const reference = (await get(port, '/metrics')).body;
    expect(reference.equals(first)).toBe(true);
    // A client asks for the same body and stops reading it (paused: the kernel's buffers fill, the rest waits in Node).
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (d: Buffer) => chunks.push(d));
    let error: string | null = null;
    socket.on('error', (err) => (error = err.message));
    socket.write('GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await sleep(300);
    const reusedBefore = persistent.bodies.reused;
    for (let i = 0; i < 3; i++) await scheduler.collectNow();
    // The second collection's body was given back when the third was published, and the fourth wrote into it.
    expect(persistent.bodies.reused).toBeGreaterThan(reusedBefore);
    // Free now: the second collection's backing (taken by the fourth) went back, the third's came back; not the first's.
    const freeWhileHeld = persistent.bodies.freeBytes();
    socket.resume();
    await done;
    expect(error).toBeNull();
    const reply = Buffer.concat(chunks);
    const body = reply.subarray(reply.indexOf('\r\n\r\n') + 4);
    expect(body.length).toBe(reference.length);
    expect(body.equals(reference)).toBe(true);
    // Read to the end and closed: the first body's backing is given back too.
    await sleep(50);
    expect(persistent.bodies.freeBytes()).toBe(freeWhileHeld + first.buffer.byteLength);
  }, 60_000);
});

describe('a request given up while the first collection was awaited', () => {
  const snap = nodeScaleSnapshot(50, { extraRules: 10 });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { scheduler, server } = serve(async () => {
    await gate;
    return snap;
  }, { firstCollectionWaitMs: 10_000 });

  it('holds nothing: the first collection is recycled when replaced', async () => {
    const { port } = await server.listen('127.0.0.1', 0);
    const first = scheduler.collectNow();
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    socket.write('GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n');
    await sleep(200); // the request waits for the first collection
    socket.destroy();
    await sleep(100);
    open();
    await first;
    await sleep(50); // the request's handler resumes
    const body = await scheduler.latest!.metrics.body('prometheus', false);
    expect(body.length).toBeGreaterThan(64 * 1024);
    await scheduler.collectNow();
    await scheduler.collectNow();
    // Identity, not toBe: a failing toBe would print both buffers.
    expect((await scheduler.latest!.metrics.body('prometheus', false)).buffer === body.buffer).toBe(true);
  });
});
