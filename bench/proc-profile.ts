/**
 * The proc collector alone, against a running containerd: `node dist/bench/proc-profile.js --endpoint unix://...
 * [--collections 20] [--proc-root /proc] [--in-thread] [--no-kept] [--no-mount-events]`. Lists the pods once (the runtime
 * layer, as a collection does), then runs the proc collector's work N times in this process as `serve` runs it (the
 * containers' roots read in the root reader's worker thread, a mount table read again only after a mount event in its
 * namespace where the kernel gives them: mount-events.ts; `--no-mount-events`: every mount table every time, as on a
 * kernel before 6.15; `--in-thread`: on the main thread, as `inspect` does), and prints the median
 * [min-max] of its wall and process CPU (process.cpuUsage around it: main thread, libuv thread pool and the root
 * reader's thread) and of its two halves (the scan, given the previous one and the kept stat files as serve's memo
 * does; `--no-kept`: every file opened, read and closed each scan, for an A/B of kept-files.ts; the facts).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../agent/config.js';
import { AgentError } from '../agent/errors.js';
import { silentLogger } from '../agent/log.js';
import { podPids } from '../agent/collect/proc.js';
import { collectPodFacts } from '../agent/proc/facts.js';
import { RootReader } from '../agent/proc/root-reader.js';
import { KeptProcFiles } from '../agent/proc/kept-files.js';
import { MountEvents } from '../agent/proc/mount-events.js';
import { scanProc } from '../agent/proc/scan.js';
import { Inventory } from '../agent/runtime/inventory.js';
import { round, summarize } from './measure.js';

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoint: { type: 'string' },
      collections: { type: 'string', default: '20' },
      'proc-root': { type: 'string', default: '/proc' },
      'in-thread': { type: 'boolean', default: false },
      'no-kept': { type: 'boolean', default: false },
      'no-mount-events': { type: 'boolean', default: false },
    },
  });
  const cfg = loadConfig(['metrics', '--runtime-endpoint', values.endpoint ?? '', '--kube', 'off'], {});
  const inventory = new Inventory(cfg, { log: silentLogger() });
  const { pods } = await inventory.collect();
  const procRoot = values['proc-root']!;
  // As serve's exporterRootReader (metrics/node-collector.ts), without its lent netlink thread.
  const events = values['in-thread'] || values['no-mount-events'] ? null : MountEvents.open();
  if (events !== null && !(events instanceof MountEvents)) process.stderr.write(`proc-profile: no mount events (${events.unavailable}): every mount table is read every time\n`);
  const rootReader = values['in-thread'] ? undefined : new RootReader(events instanceof MountEvents ? { mountEvents: events } : {});
  const rows: Record<string, number[]> = { wall: [], cpu: [], scanWall: [], scanCpu: [], factsWall: [], factsCpu: [] };
  const n = Number(values.collections);
  let processes = 0;
  // The previous scan, kept as serve's ProcScanMemo keeps it (scan.ts reuses what it can from it).
  let previous: Awaited<ReturnType<typeof scanProc>> | null = null;
  const kept = values['no-kept'] ? null : new KeptProcFiles();
  for (let i = 0; i < n + 2; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const scan = await scanProc({ procRoot, detailPids: podPids(pods), previous, kept });
    previous = scan;
    const scanCpu = cpuMs(process.cpuUsage(c0));
    const t1 = performance.now();
    const r = await collectPodFacts(scan, pods, { procRoot, ...(rootReader ? { rootReader } : {}) });
    const cpu = cpuMs(process.cpuUsage(c0));
    const t2 = performance.now();
    processes = scan.processes.size;
    if (r.facts.size !== pods.length) throw new AgentError('BENCH_CHECK', `facts for ${r.facts.size} of ${pods.length} pods`);
    if (i < 2) continue;
    rows.wall!.push(t2 - t0);
    rows.cpu!.push(cpu);
    rows.scanWall!.push(t1 - t0);
    rows.scanCpu!.push(scanCpu);
    rows.factsWall!.push(t2 - t1);
    rows.factsCpu!.push(cpu - scanCpu);
  }
  process.stdout.write(`${pods.length} pods, ${processes} processes, ${n} collections (median [min-max], ms)\n`);
  for (const [k, v] of Object.entries(rows)) {
    const s = summarize(v);
    process.stdout.write(`${k.padEnd(10)} ${round(s.median, 1)} [${round(s.min, 1)}-${round(s.max, 1)}]\n`);
  }
  inventory.close();
  kept?.close();
  await rootReader?.close(); // closes the mount-event group too
}

main().catch((err: unknown) => {
  process.stderr.write(`proc-profile: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
