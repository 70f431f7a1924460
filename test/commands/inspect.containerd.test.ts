/**
 * Pods through the runtime layer: a real containerd (test/helpers/containerd.ts) runs two pods; Chaos Mesh's
 * partition is replayed into one pod's network namespace; `inspect NAMESPACE/POD...` and `--all` (CLI) and
 * collect() (library) find it through CRI, read each namespace once, and fingerprint it.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execa } from 'execa';
import { collect } from '../../agent/collection.js';
import { createNetnsReader } from '../../agent/netns/read.js';
import { Inventory } from '../../agent/runtime/inventory.js';
import { silentLogger } from '../../agent/log.js';
import { describeIntegration } from '../helpers/env.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { enterNetns } from '../helpers/netns.js';
import { ChaosMeshReplay, chainName, ipsetName } from '../helpers/chaos-mesh.js';
import { LOADED_MACHINE_DEADLINES } from '../helpers/serve.js';

const BIN = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;

describeIntegration('inspect pods through a real containerd', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'iptables-legacy', 'ipset', 'tc'] }, () => {
  let h: ContainerdHarness;
  let web: TestPod;
  let db: TestPod;
  beforeAll(async () => {
    h = await startContainerd({ name: 'h4insp' });
    [web, db] = await Promise.all([
      h.runPod({ name: 'web', namespace: 'shop', containers: ['app', 'sidecar'] }),
      h.runPod({ name: 'db', namespace: 'shop' }),
    ]);
    await new ChaosMeshReplay(enterNetns(web.netnsPath), 'legacy').partition({ experiment: 'web-to-db', direction: 'to', cidrs: ['10.9.9.9/32'] });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('inspect NAMESPACE/POD... finds pods through CRI; an unknown pod is an entry with errors; exit 0', async () => {
    const r = await execa('node', [BIN, 'inspect', 'shop/web', 'shop/db', 'shop/nope', '--runtime-endpoint', h.endpoint, ...LOADED_MACHINE_DEADLINES, '--json'], { reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(0);
    const pods = (JSON.parse(String(r.stdout)) as { pods: { namespace: string; name: string; runtime: string; netns: { inode: number } | null; chaos: { verdict: string; kinds: string[]; findings: string[] }; errors: string[] }[] }).pods;
    expect(pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/db', 'shop/web', 'shop/nope']);
    const w = pods[1]!;
    expect(w.runtime).toBe('containerd');
    expect(w.errors).toEqual([]);
    expect(w.chaos.verdict).toBe('active');
    expect(w.chaos.kinds).toEqual(['partition']);
    expect(w.chaos.findings[0]).toBe(`${chainName('OUTPUT', 'web-to-db')} drops eth0 traffic to ipset ${ipsetName('web-to-db', 'set_tgt')} (list:set of 2 sets, 1 member)`);
    expect(pods[0]!.chaos).toEqual({ verdict: 'clean', kinds: [], findings: [] });
    expect(pods[0]!.errors).toEqual([]);
    expect(pods[2]!.netns).toBeNull();
    expect(pods[2]!.errors).toEqual(['pod not found on this node']);
  });

  it('an unknown pod only: exit 1', async () => {
    const r = await execa('node', [BIN, 'inspect', 'shop/nope', '--runtime-endpoint', h.endpoint, ...LOADED_MACHINE_DEADLINES, '--json'], { reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(1);
  });

  it('--kube on with a kubeconfig that does not load: inspect, diff and metrics say so in one line and exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cna-kubeon-'));
    try {
      const broken = join(dir, 'broken.yaml');
      await writeFile(broken, 'garbage: [\n', 'utf8');
      const missing = join(dir, 'absent.yaml');
      const run = async (cmd: string[], kube: string[], env: NodeJS.ProcessEnv = {}) => {
        const r = await execa('node', [BIN, ...cmd, '--kube', 'on', ...kube, '--runtime-endpoint', h.endpoint, '--docker-endpoint', 'unix:///nonexistent.sock', ...LOADED_MACHINE_DEADLINES],
          { reject: false, timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, extendEnv: false });
        return [r.exitCode, String(r.stderr)];
      };
      const enoent = `no usable Kubernetes credentials (--kubeconfig ${missing}: ENOENT: no such file or directory, open '${missing}')`;
      const yaml = 'unexpected end of the stream within a flow collection (2:1)';
      expect(await run(['inspect', 'shop/web'], ['--kubeconfig', missing])).toEqual([1, `chaos-node-agent inspect: --kube on: ${enoent}`]);
      expect(await run(['inspect', 'shop/web'], ['--kubeconfig', broken])).toEqual([1, `chaos-node-agent inspect: --kube on: no usable Kubernetes credentials (--kubeconfig ${broken}: ${yaml})`]);
      expect(await run(['inspect', 'shop/web'], [], { KUBECONFIG: broken })).toEqual([1, `chaos-node-agent inspect: --kube on: no usable Kubernetes credentials (KUBECONFIG ${broken}: ${yaml})`]);
      expect(await run(['diff', 'shop/web'], ['--kubeconfig', missing])).toEqual([1, `chaos-node-agent diff: --kube on: ${enoent}`]);
      expect(await run(['metrics'], ['--kubeconfig', missing])).toEqual([1, `chaos-node-agent metrics: --kube on: ${enoent}`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('inspect POD resolves only its pod; a chaos process entering its namespace makes it place with every pod, as a full collection does', async () => {
    const cfg = { runtimeEndpoints: [h.endpoint], dockerEndpoints: [], hostRoot: '/', procRoot: '/proc', runtimeTimeoutMs: 5000 };
    const reader = createNetnsReader({ reader: 'netlink', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 16 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
    const once = async (filtered: boolean) => {
      const inventory = new Inventory(cfg, { log: silentLogger() });
      try {
        const snap = await collect({ inventory, reader, procRoot: '/proc', log: silentLogger(), disabled: new Set(['stats'] as const) },
          filtered ? { filter: (p) => p.namespace === 'shop' && p.name === 'web', hostSharing: 'full' } : {});
        const w = snap.pods.find((p) => p.name === 'web')!;
        return { requests: inventory.requestCount(), web: w, proc: snap.collectors.find((c) => c.collector === 'proc')! };
      } finally {
        inventory.close();
      }
    };
    const dir = await mkdtemp(join(tmpdir(), 'cna-toda-'));
    let toda: ReturnType<typeof execa> | null = null;
    try {
      // Nothing of chaos-daemon's: Version + 2 lists + web's sandbox and 2 containers; db's status never asked.
      const quiet = await once(true);
      expect(quiet.requests).toBe(6);
      expect(quiet.proc.success).toBe(true);
      expect(quiet.web.proc!.processes).toEqual([]);
      expect(quiet.web.proc).toEqual((await once(false)).web.proc);

      // A `toda` (IOChaos's injector) entering web's network namespace between two runs.
      await copyFile('/bin/sleep', join(dir, 'toda'));
      await execa('chmod', ['755', join(dir, 'toda')]);
      toda = execa('nsenter', [`--net=${web.netnsPath}`, '--', join(dir, 'toda'), '120'], { reject: false });
      const pid = toda.pid!;
      for (let i = 0; i < 100 && (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() !== 'toda'; i++) await new Promise((r) => setTimeout(r, 20));
      const busy = await once(true);
      expect(busy.requests).toBeGreaterThan(6); // every pod resolved for the placement
      expect(busy.web.proc!.processes.map((p) => [p.pid, p.role, p.via])).toEqual([[pid, 'toda', ['net-ns']]]);
      const full = await once(false);
      expect(busy.web.proc).toEqual(full.web.proc);
      expect(busy.web.chaos).toEqual(full.web.chaos);

      toda.kill('SIGKILL');
      await toda;
      toda = null;
      const after = await once(true);
      expect(after.requests).toBe(6);
      expect(after.web.proc!.processes).toEqual([]);
      expect(after.web.chaos).toEqual(quiet.web.chaos);
    } finally {
      toda?.kill('SIGKILL');
      await toda;
      await reader.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('collect(): one read per namespace, per-collector results, spawns counted', async () => {
    const reader = createNetnsReader({ reader: 'nsenter', netnsConcurrency: 4, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 16 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
    const inventory = new Inventory({ runtimeEndpoints: [h.endpoint], dockerEndpoints: [], hostRoot: '/', procRoot: '/proc', runtimeTimeoutMs: 5000 }, { log: silentLogger() });
    try {
      const snap = await collect({ inventory, reader, procRoot: '/proc', log: silentLogger() });
      expect(snap.collectors.map((c) => [c.collector, c.success])).toEqual([['runtime', true], ['netns', true], ['stats', true], ['proc', true], ['bpm', true]]);
      expect(snap.pods.map((p) => `${p.namespace}/${p.name}:${p.chaos.verdict}`)).toEqual(['shop/db:clean', 'shop/web:active']);
      const w = snap.pods[1]!;
      expect(w.netns!.inode).toBe((await import('node:fs')).statSync(web.netnsPath).ino);
      expect(w.pod!.sandboxId).toBe(web.sandboxId);
      // One tools read per namespace (a process per tool), counted on the entry that owns the read.
      expect(w.spawns).toBeGreaterThan(0);
      expect(snap.spawns).toBe(w.spawns + snap.pods[0]!.spawns);
      expect(snap.cpuSeconds).toBeGreaterThan(0);
      expect(snap.containerStats.length).toBeGreaterThanOrEqual(3);
      expect(db.pid).toBeGreaterThan(0);
    } finally {
      inventory.close();
      await reader.close();
    }
  });
});
