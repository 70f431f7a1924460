/**
 * workerLimits() on a process started as the agent ships (bin/node-flags.js's --max-semi-space-size=4): a worker's
 * young-generation limit applies only through it (the flag takes precedence over resourceLimits otherwise), and the
 * main isolate keeps the flag's new space. Real isolates: each worker allocates short-lived garbage until its new
 * space has grown as far as it may, and reports that space's size.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../bin/node-flags.js';
import { WORKER_YOUNG_GENERATION_MB } from '../agent/worker-limits.js';

const MB = 2 ** 20;

describe('workerLimits (dist/, under the shipped V8 flags)', () => {
  it('a worker started with it gets its own young generation; without it the flag wins; the main isolate keeps the flag', () => {
    const dist = new URL('../dist/agent/worker-limits.js', import.meta.url);
    if (!existsSync(dist)) throw new Error('dist/ missing: run `npm run build` first');
    const churn = `
      let keep = [];
      for (let i = 0; i < 400000; i++) { keep.push({ i, s: 'x' + i, a: [i, i] }); if (keep.length > 20000) keep = []; }
      const size = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;`;
    const script = `
      import { Worker } from 'node:worker_threads';
      import { getHeapSpaceStatistics } from 'node:v8';
      const { workerLimits } = await import(${JSON.stringify(dist.href)});
      const newSpace = (resourceLimits) => new Promise((res, rej) => {
        const w = new Worker(${JSON.stringify(`const { getHeapSpaceStatistics } = require('node:v8'); ${churn} require('node:worker_threads').parentPort.postMessage(size);`)}, { eval: true, execArgv: [], resourceLimits });
        w.once('message', res).once('error', rej);
      });
      const plain = await newSpace({ maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: ${WORKER_YOUNG_GENERATION_MB} });
      const limited = await newSpace(workerLimits(64));
      const main = await new Promise((res) => { ${churn} res(size); });
      process.stdout.write(JSON.stringify({ plain, limited, main }));
    `;
    const r = spawnSync(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { plain, limited, main } = JSON.parse(r.stdout) as Record<string, number>;
    const semi = Number(/--max-semi-space-size=(\d+)/.exec(NODE_FLAGS.join(' '))![1]);
    // New space = two semi-spaces; V8 takes a third of the young generation per semi-space.
    expect(plain).toBe(2 * semi * MB);
    expect(limited).toBe(2 * (WORKER_YOUNG_GENERATION_MB / 3) * MB);
    expect(main).toBe(2 * semi * MB);
  });
});
