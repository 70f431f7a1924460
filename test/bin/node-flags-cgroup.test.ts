/**
 * bin/node-flags.js's --max-old-space-size against what node picks by itself inside the DaemonSet's container: node
 * sizes V8's default heap from the memory limit of its cgroup (uv_get_constrained_memory), so the pinned flag must
 * give the agent the heap limit it already had in the DaemonSet, and give it to the benchmark too, which runs serve
 * without a memory limit. A real memory cgroup with daemonset.yaml's limit; a launcher node process moves itself
 * into it and starts the probes, which inherit it.
 */
import { mkdirSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.js';
import { agentContainer, byKind, yamlDocs } from '../deploy/deploy-files.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';

const CGROUP2_MAGIC = 0x63677270;
const PROBE = `process.stdout.write(String(require('node:v8').getHeapStatistics().heap_size_limit))`;

/** daemonset.yaml's memory limit of the agent's container, bytes (Mi only: what the manifest uses). */
function daemonSetMemoryLimit(): number {
  const limit = String(agentContainer(byKind(yamlDocs('daemonset.yaml'), 'DaemonSet')).resources.limits.memory);
  const mi = /^(\d+)Mi$/.exec(limit);
  if (!mi) throw new Error(`daemonset.yaml memory limit ${limit}: expected <n>Mi`);
  return Number(mi[1]) * 2 ** 20;
}

const heapLimit = async (flags: readonly string[]): Promise<number> =>
  Number((await execa(process.execPath, [...flags, '-e', PROBE], { timeout: 30_000, maxBuffer: 1 << 16, shell: false })).stdout);

describeIntegration('bin/node-flags.js heap limit vs the DaemonSet memory limit', { root: true }, () => {
  const v2 = statfsSync('/sys/fs/cgroup').type === CGROUP2_MAGIC;
  const dir = join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', uniqueName('cnaflag'));
  let made = false;
  afterAll(() => {
    if (made) rmdirSync(dir); // the launcher and its probes have exited: the cgroup is empty
  });

  it('the pinned old-generation limit is the one node derives from the container limit without it', async () => {
    mkdirSync(dir);
    made = true;
    writeFileSync(join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(daemonSetMemoryLimit()));
    const unpinned = NODE_FLAGS.filter((f) => !f.startsWith('--max-old-space-size='));
    const launcher = `
      const { writeFileSync } = require('node:fs');
      const { execFileSync } = require('node:child_process');
      writeFileSync(${JSON.stringify(join(dir, 'cgroup.procs'))}, String(process.pid));
      const limit = (flags) => Number(execFileSync(process.execPath, [...flags, '-e', ${JSON.stringify(PROBE)}], { encoding: 'utf8', timeout: 30000 }));
      process.stdout.write(JSON.stringify({ constrained: process.constrainedMemory(), unpinned: limit(${JSON.stringify(unpinned)}), pinned: limit(${JSON.stringify(NODE_FLAGS)}) }));`;
    const r = await execa(process.execPath, ['-e', launcher], { timeout: 60_000, maxBuffer: 1 << 16, shell: false });
    const inside = JSON.parse(r.stdout) as { constrained: number; unpinned: number; pinned: number };
    expect(inside.constrained).toBe(daemonSetMemoryLimit());
    expect(inside.pinned).toBe(inside.unpinned);
    // Outside any limit (the benchmark, this machine's memory) the pinned flags give the same; without them node
    // picks a larger limit (2-4 GB on a machine with more than 8 GB of memory).
    expect(await heapLimit(NODE_FLAGS)).toBe(inside.unpinned);
    expect(await heapLimit(unpinned)).toBeGreaterThan(inside.unpinned);
  });
});
