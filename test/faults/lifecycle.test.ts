/**
 * SIGTERM to a real `serve` reading real containerd pods, at the worst moments: in the middle of a collection (real
 * tools running), while a tool hangs (ignoring SIGTERM, with children holding its stdout), and under scrape load.
 * Each time serve exits 0 well within the DaemonSet's 10 s termination grace period (5 s) and leaves no process behind: none of the tools it ran, nothing they started,
 * nothing added to the pods' namespaces.
 */
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { fakeNsenter, type FakeNsenter, type FakeRule } from '../helpers/fake-nsenter.js';
import { pidsInNetns } from '../helpers/netns.js';
import { alive, descendants, settle, waitUntil } from '../helpers/procs.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { nextCollection } from '../helpers/serve-scrape.js';

const NS = 'f8life';
/**
 * Half the DaemonSet's terminationGracePeriodSeconds (10): the kubelet's SIGKILL is what the bound guards against.
 * serve itself gives requests 0.5 s; the rest is room for a loaded machine (the test measures from another
 * process, across a SIGTERM delivery and an exit). Without the prompt shutdown a hung tool holds it 60 s.
 */
const EXIT_WITHIN_MS = 5000;

/** Scrapers hammering GET /metrics on keep-alive connections until stopped or refused; counts answers by status. */
function scrapeLoad(port: number, clients: number): { answered: (status: number) => number; stop: () => Promise<Map<number, number>> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const statuses = new Map<number, number>();
  let running = true;
  /** One scrape: true when answered. */
  const one = (): Promise<boolean> => new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => {
        statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
        resolve(true);
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false)); // refused or reset once serve is shutting down: expected
  });
  const loops = Array.from({ length: clients }, async () => {
    while (running && (await one()));
  });
  return {
    answered: (status) => statuses.get(status) ?? 0,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return statuses;
    },
  };
}

describeIntegration('serve lifecycle: SIGTERM at the worst moments', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'ipset', 'tc', 'ip', 'nft'] }, () => {
  let h: ContainerdHarness | undefined;
  let dir: string;
  const pods: TestPod[] = [];
  const fakes: FakeNsenter[] = [];
  const serves: ServeProcess[] = [];
  let baseline: Map<string, number[]>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-f8life-'));
    h = await startContainerd({ name: 'f8life' });
    for (let i = 0; i < 3; i++) pods.push(await h.runPod({ name: uniqueName(`f8l${i}`), namespace: NS }));
    baseline = new Map(await Promise.all(pods.map(async (p) => [p.netnsPath, (await pidsInNetns(p.netnsPath)).sort()] as const)));
  });

  afterAll(async () => {
    for (const s of serves) await s.stop(1000);
    for (const f of fakes) for (const c of await f.calls().catch(() => [])) if (alive(c.pid)) process.kill(c.pid, 'SIGKILL');
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function fake(name: string, rules: FakeRule[]): Promise<FakeNsenter> {
    await mkdir(join(dir, name));
    const f = await fakeNsenter(join(dir, name), rules);
    fakes.push(f);
    return f;
  }

  async function serve(f: FakeNsenter): Promise<ServeProcess> {
    const s = await startServe(['--debug-insecure', '--runtime-endpoint', h!.endpoint, '--reader', 'nsenter', '--nsenter-path', f.path, '--command-timeout', '60s', '--namespace-timeout', '60s', '--interval', '60s']);
    serves.push(s);
    return s;
  }

  /** SIGTERM; exit 0 within EXIT_WITHIN_MS; no tool run left, nothing added to any pod's namespace. */
  async function terminate(s: ServeProcess, f: FakeNsenter): Promise<number> {
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const exit = await Promise.race([s.exited, sleep(EXIT_WITHIN_MS + 3000).then(() => null)]);
    expect(exit, `serve still running ${EXIT_WITHIN_MS + 3000} ms after SIGTERM`).not.toBeNull();
    const ms = exit!.at - t0;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(ms).toBeLessThan(EXIT_WITHIN_MS);
    expect(s.stderr()).toContain('"msg":"stopped"');
    const sameAsBaseline = async (): Promise<boolean> => {
      for (const p of pods) if ((await pidsInNetns(p.netnsPath)).sort().join() !== baseline.get(p.netnsPath)!.join()) return false;
      return true;
    };
    await settle(async () => !(await f.calls()).some((c) => alive(c.pid)) && (await sameAsBaseline()));
    expect((await f.calls()).filter((c) => alive(c.pid))).toEqual([]);
    for (const p of pods) expect((await pidsInNetns(p.netnsPath)).sort()).toEqual(baseline.get(p.netnsPath));
    return ms;
  }

  it('during a collection: tools running in the pods\' namespaces, many still to come', async () => {
    // Every tool takes 0.5 s more, then runs for real: the collection lasts several seconds, never hangs.
    const f = await fake('busy', ['ip', 'nft', 'ipset', 'tc'].map((tool) => ({ tool, act: { kind: 'slow', seconds: 0.5 } })));
    const s = await serve(f);
    await waitUntil('the collection to run its first tools', async () => ((await f.calls()).length >= 2 ? true : undefined), 45_000);
    expect(s.child.exitCode).toBeNull();
    const ms = await terminate(s, f);
    console.log(`SIGTERM mid-collection (${(await f.calls()).length} tool runs started): exit 0 after ${ms} ms`);
  }, 120_000);

  it('during a hung tool that ignores SIGTERM and whose children hold its stdout', async () => {
    const f = await fake('hung', [{ tool: 'nft', inode: statSync(pods[0]!.netnsPath).ino, act: { kind: 'hang' } }]);
    const s = await serve(f);
    const ns = pods[0]!.netnsPath;
    // Hung: the pipeline runs in the pod's namespace, under serve.
    await waitUntil('the hung tool to run', async () => ((await pidsInNetns(ns)).length >= baseline.get(ns)!.length + 3 ? true : undefined), 45_000);
    expect(descendants(s.pid).length).toBeGreaterThanOrEqual(3);
    const ms = await terminate(s, f);
    console.log(`SIGTERM during a hung tool: exit 0 after ${ms} ms`);
  }, 120_000);

  it('under scrape load, with a collection stuck in a hung tool', async () => {
    const f = await fake('load', []);
    const s = await startServe(['--debug-insecure', '--runtime-endpoint', h!.endpoint, '--reader', 'nsenter', '--nsenter-path', f.path, '--command-timeout', '60s', '--namespace-timeout', '60s', '--interval', '1s']);
    serves.push(s);
    await nextCollection(s, 0, undefined, 60_000); // published: scrapes are answered from it while the next collection hangs
    const ns = pods[1]!.netnsPath;
    await fakeNsenter(join(dir, 'load'), [{ tool: 'nft', inode: statSync(ns).ino, act: { kind: 'hang' } }]);
    await waitUntil('the hung tool to run', async () => ((await pidsInNetns(ns)).length >= baseline.get(ns)!.length + 3 ? true : undefined), 45_000);
    const load = scrapeLoad(s.port, 32);
    // The load is real before the SIGTERM (more answers than clients), however slowly a loaded machine serves them.
    await waitUntil('scrapes answered under load', () => (load.answered(200) > 32 ? true : undefined), 30_000);
    const ms = await terminate(s, f);
    const statuses = await load.stop();
    console.log(`SIGTERM under load (answers by status: ${JSON.stringify(Object.fromEntries(statuses))}): exit 0 after ${ms} ms`);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(32); // the load was real: scrapes kept being answered
    expect([...statuses.keys()]).toEqual([200]);
  }, 120_000);
});
