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

// ~11 MB of text: more than loopback's buffers hold for a client that does not read (~4 MiB sent, ~128 KiB received).
const PODS = 800;

describe('bodies reused across collections', () => {
  const log = silentLogger();
  const persistent = new PersistentMetrics({ defaultMetrics: false });
  const pipeline = new MetricsPipeline({ compatMetrics: true, persistent, log });
  // Same sizes, other names: each collection's body is as long as the last (so its backing can be reused) and differs.
  const snaps: Snapshot[] = ['aaa', 'bbb', 'ccc', 'ddd', 'eee'].map((prefix) => nodeScaleSnapshot(PODS, { prefix, extraRules: 10 }));
  let n = 0;
  const scheduler = new CollectionScheduler({
    intervalMs: 3_600_000,
    collect: async () => snaps[n++ % snaps.length]!,
    process: (s, signal) => pipeline.process(s, signal),
    log,
  });
  const server = new AgentServer({ state: scheduler, debug: { mode: 'off' }, log });
  afterAll(async () => {
    await scheduler.stop();
    await server.close(100);
  });

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
    const done = new Promise<void>((resolve) => socket.on('end', resolve));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.write('GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await sleep(300);
    const reusedBefore = persistent.bodies.reused;
    for (let i = 0; i < 3; i++) await scheduler.collectNow();
    // The second collection's body was given back when the third was published, and the fourth wrote into it.
    expect(persistent.bodies.reused).toBeGreaterThan(reusedBefore);
    socket.resume();
    await done;
    const reply = Buffer.concat(chunks);
    const body = reply.subarray(reply.indexOf('\r\n\r\n') + 4);
    expect(body.length).toBe(reference.length);
    expect(body.equals(reference)).toBe(true);
    // Read to the end and closed: the first body's backing is free, and the next collection writes into it.
    await sleep(50);
    await scheduler.collectNow();
    const next = await scheduler.latest!.metrics.body('prometheus', false);
    expect(next.buffer).toBe(first.buffer);
    expect(next.equals(reference)).toBe(false);
  }, 60_000);
});
