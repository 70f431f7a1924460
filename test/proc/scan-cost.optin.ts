/**
 * Cost of the /proc scan and of collectPodFacts with thousands of processes (printed as `[measure]`), not part of
 * npm test (it forks thousands of processes next to timing-sensitive tests). Run it with:
 *   CNA_PROC_SCAN_EXTRA=2000 npx vitest run --config vitest.optin.config.ts test/proc/scan-cost.optin.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { collectPodFacts } from '../../agent/proc/facts.js';
import { scanProc } from '../../agent/proc/scan.js';
import { childrenOf, killAll } from '../helpers/chaos-stand-ins.js';
import { ctr, HEX, pod } from './fixtures.js';

describe('scan cost', () => {
  let xargs: ChildProcess | undefined;
  afterAll(async () => {
    if (!xargs?.pid) return;
    killAll(await childrenOf(xargs.pid));
    killAll([xargs.pid]);
  });

  const EXTRA = Number(process.env.CNA_PROC_SCAN_EXTRA ?? 2000);

  it(`${EXTRA} extra processes: measured (wall and CPU), bounded`, async () => {
    // xargs forks the sleeps at once (one spawn from here).
    xargs = spawn('xargs', ['-P', String(EXTRA), '-n', '1', 'sleep'], { stdio: ['pipe', 'ignore', 'ignore'] });
    xargs.stdin!.end('120\n'.repeat(EXTRA));
    // Forking them takes a while on a loaded 2-core machine.
    for (let i = 0; i < 1200 && (await childrenOf(xargs.pid!)).length < EXTRA; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await childrenOf(xargs.pid!)).length).toBe(EXTRA);
    const runs: { n: number; wall: number; cpu: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const c0 = process.cpuUsage();
      const s = await scanProc({ procRoot: '/proc' });
      const c = process.cpuUsage(c0);
      runs.push({ n: s.processes.size, wall: s.seconds * 1000, cpu: (c.user + c.system) / 1000 });
      expect(s.complete).toBe(true);
      expect(s.processes.size).toBeGreaterThanOrEqual(EXTRA);
    }
    const best = runs.reduce((a, b) => (b.wall < a.wall ? b : a));
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`[measure] /proc scan: ${best.n} processes, best of 3: ${best.wall.toFixed(0)} ms wall, ${best.cpu.toFixed(0)} ms CPU (load ${load}; all: ${runs.map((r) => `${r.wall.toFixed(0)}/${r.cpu.toFixed(0)}`).join(', ')})`);
    expect(best.wall).toBeLessThan(3000); // the default budget

    // collectPodFacts for EXTRA/4 pods of 2 containers (the sleeps as their PIDs; their root is the host's, which
    // has no DNSChaos backup and no Byteman: one mountinfo read and two short root walks per container).
    const sleeps = await childrenOf(xargs.pid!);
    const nPods = Math.floor(EXTRA / 4);
    const pods = Array.from({ length: nPods }, (_, i) => pod(`p${i}`, HEX(String(i % 10)).slice(0, 60) + String(1000 + i), sleeps[2 * i]!, [
      ctr('a', `a${i}`, sleeps[2 * i]!), ctr('b', `b${i}`, sleeps[2 * i + 1]!),
    ]));
    const scan = await scanProc({ procRoot: '/proc', detailPids: sleeps.slice(0, 2 * nPods) });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { facts } = await collectPodFacts(scan, pods, { procRoot: '/proc' });
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    expect(facts.size).toBe(nPods);
    expect([...facts.values()].every((f) => f.dns.length === 2 && f.dns.every((d) => d.state === 'none') && f.jvm.every((j) => j.state === 'none'))).toBe(true);
    console.log(`[measure] collectPodFacts: ${nPods} pods, ${2 * nPods} containers: ${wall.toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms CPU`);
  }, 180_000);
});
