import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.js';

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

describe('bin/node-flags.js (V8 flags the agent ships with)', () => {
  it('caps the young generation at 8 MB (V8 grows it to 32 MB without the flag)', async () => {
    expect(NODE_FLAGS).toEqual(['--max-semi-space-size=4']);
    expect(await newSpaceBytes(NODE_FLAGS)).toBe(8 << 20);
    expect(await newSpaceBytes([])).toBe(32 << 20);
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
