/**
 * Hostile pods against the /proc readers, in REAL containerd pods: what a pod plants in its own root (symlink
 * loops, absolute symlinks at host files, `..` climbing out, a 4 MiB resolv.conf, a dead FUSE mount, an absolute
 * symlink at a host directory holding Byteman jars). Each is refused or capped, counted on that pod only, never read
 * outside the pod's root (the host files carry a marker the facts must never contain), and every other pod is read
 * as usual, through the whole collection too. A FUSE server that never answers shows the deadline at work.
 */
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mergeProcReport, procErrors } from '../../agent/chaos/processes.js';
import { collect } from '../../agent/collection.js';
import { silentLogger } from '../../agent/log.js';
import { createNetnsReader } from '../../agent/netns/read.js';
import { collectPodFacts } from '../../agent/proc/facts.js';
import { statInRoot } from '../../agent/proc/pod-root.js';
import { scanProc } from '../../agent/proc/scan.js';
import { createCriRuntime } from '../../agent/runtime/cri-runtime.js';
import { Inventory } from '../../agent/runtime/inventory.js';
import type { PodInfo, RuntimeClient } from '../../agent/runtime/types.js';
import { inNamespaces } from '../helpers/chaos-stand-ins.js';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { describeIntegration } from '../helpers/env.js';

const MARK = '6.6.6.6'; // only in host files: a fact holding it was read outside a pod's root
const CLEAN = { verdict: 'clean' as const, kinds: [], findings: [], details: [] };

describeIntegration('hostile pods against the /proc readers', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'iptables-legacy', 'ipset', 'tc'] }, () => {
  let h: ContainerdHarness;
  let rt: RuntimeClient;
  let host: string;
  let pods: PodInfo[];
  let silentFuse: number | null = null;
  const root = (container: string): string => `/proc/${pods.find((p) => p.name === 'evil')!.containers.find((c) => c.name === container)!.pid}/root`;

  beforeAll(async () => {
    h = await startContainerd({ name: 'hostile' });
    rt = createCriRuntime({ protocol: 'cri', url: h.endpoint, socketPath: h.socket, source: 'flag' }, { timeoutMs: 5000, procRoot: '/proc', hostRoot: '/' });
    await Promise.all([
      h.runPod({ name: 'evil', namespace: 'hostile', containers: ['loop', 'abs', 'dotdot', 'big', 'fusey', 'jvmabs'] }),
      h.runPod({ name: 'stuck', namespace: 'hostile', containers: ['app'] }),
      h.runPod({ name: 'quiet', namespace: 'shop', containers: ['app'] }),
    ]);
    pods = await rt.listPods();
    // Host files a pod must never make the agent read.
    host = await mkdtemp(join(tmpdir(), 'cna-hostile-'));
    await writeFile(join(host, 'resolv.conf'), `nameserver ${MARK}\n`);
    await mkdir(join(host, 'byteman', 'lib'), { recursive: true });
    await writeFile(join(host, 'byteman', 'lib', 'byteman.jar'), MARK);

    await symlink('resolv.conf.chaos.bak2', `${root('loop')}/etc/resolv.conf.chaos.bak`);
    await symlink('resolv.conf.chaos.bak', `${root('loop')}/etc/resolv.conf.chaos.bak2`);
    await symlink(join(host, 'resolv.conf'), `${root('abs')}/etc/resolv.conf.chaos.bak`);
    await symlink(`${'../'.repeat(12)}${host.slice(1)}/resolv.conf`, `${root('dotdot')}/etc/resolv.conf.chaos.bak`);
    await mkdir(`${root('jvmabs')}/usr/local`, { recursive: true });
    await symlink(join(host, 'byteman'), `${root('jvmabs')}/usr/local/byteman`);
    // big: a backup and a 4 MiB resolv.conf (a bind mount shared by the pod's containers) with the same nameserver.
    const conf = await readFile(`${root('big')}/etc/resolv.conf`, 'utf8');
    await writeFile(`${root('big')}/etc/resolv.conf.chaos.bak`, conf);
    await writeFile(`${root('big')}/etc/resolv.conf`, conf + `# ${'x'.repeat(78)}\n`.repeat(52_429));
    // fusey: a FUSE mount whose server is gone at the Byteman path (every access there fails or could block).
    const fusey = Number(root('fusey').split('/')[2]);
    await inNamespaces(fusey, ['m'], ['mkdir', '-p', '/usr/local/byteman']);
    const fd = openSync('/dev/fuse', 'r+');
    try {
      await inNamespaces(fusey, ['m'], ['mount', '-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'evil', '/usr/local/byteman'], { extraFd: fd });
    } finally {
      closeSync(fd);
    }
    // stuck: a FUSE mount whose server holds the device open and never answers: a lookup there blocks for good.
    const stuck = pods.find((p) => p.name === 'stuck')!.containers[0]!.pid!;
    await inNamespaces(stuck, ['m'], ['mkdir', '-p', '/usr/local/byteman']);
    silentFuse = openSync('/dev/fuse', 'r+');
    await inNamespaces(stuck, ['m'], ['mount', '-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'evil', '/usr/local/byteman'], { extraFd: silentFuse });
  });

  afterAll(async () => {
    if (silentFuse !== null) closeSync(silentFuse); // aborts the connection: blocked lookups return ENOTCONN
    rt?.close();
    await h?.stop();
    if (host) await rm(host, { recursive: true, force: true });
  });

  it('the attacks are real: a naive read through /proc/<pid>/root follows them out of the pod', async () => {
    expect(await readFile(`${root('abs')}/etc/resolv.conf.chaos.bak`, 'utf8')).toBe(`nameserver ${MARK}\n`);
    expect((await stat(`${root('jvmabs')}/usr/local/byteman/lib/byteman.jar`)).size).toBe(MARK.length);
    await expect(stat(`${root('loop')}/etc/resolv.conf.chaos.bak`)).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('each attack is refused or capped, counted on the evil pod only; the quiet pod reads clean', async () => {
    const t0 = performance.now();
    // Budgets for a loaded CI machine (the defaults, 3 s scan and 1 s per container, can cut a read there and turn an
    // expected reason into a timeout); every attack below is refused on its own merits, none by a deadline.
    const scan = await scanProc({ procRoot: '/proc', detailPids: pods.flatMap((p) => p.containers.map((c) => c.pid!)), budgetMs: 30_000 });
    const { facts } = await collectPodFacts(scan, pods, { procRoot: '/proc', containerTimeoutMs: 15_000 });
    const ms = performance.now() - t0;
    const evil = pods.find((p) => p.name === 'evil')!;
    const quiet = pods.find((p) => p.name === 'quiet')!;
    const f = facts.get(evil.sandboxId)!;
    expect(f.dns.map((d) => [d.container, d.state, d.error?.reason ?? null])).toEqual([
      ['abs', 'unknown', 'absolute-symlink'],
      ['big', 'unknown', 'truncated'],
      ['dotdot', 'unknown', 'escape'],
      ['fusey', 'none', null],
      ['jvmabs', 'none', null],
      ['loop', 'unknown', 'too-many-links'],
    ]);
    expect(f.jvm.filter((j) => j.state !== 'none').map((j) => [j.container, j.state, j.error?.reason])).toEqual([
      ['fusey', 'unknown', 'unsafe-mount'],
      ['jvmabs', 'unknown', 'absolute-symlink'],
    ]);
    expect(f.sources.dns).toMatchObject({ complete: false });
    expect(f.sources.dns.errors).toHaveLength(4);
    expect(f.sources.jvm.errors).toHaveLength(2);
    expect(procErrors(f)).toContain(`dns: /etc/resolv.conf.chaos.bak: /etc/resolv.conf.chaos.bak -> ${host}/resolv.conf: absolute symlink refused (absolute-symlink)`);
    // Nothing read outside the pod: the marker of the host files appears nowhere.
    expect(JSON.stringify([...facts.values()])).not.toContain(MARK);
    expect(mergeProcReport(CLEAN, f, evil)).toMatchObject({ verdict: 'unknown', kinds: [] });
    // The other pod is untouched by all this.
    expect(mergeProcReport(CLEAN, facts.get(quiet.sandboxId)!, quiet)).toEqual(CLEAN);
    expect(Object.values(facts.get(quiet.sandboxId)!.sources).every((s) => s.complete)).toBe(true);
    console.log(`[measure] hostile pods: /proc facts of ${pods.length} pods (${pods.reduce((n, p) => n + p.containers.length, 0)} containers) in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(10_000);
    // stuck: refused from its mountinfo, never touched.
    const stuck = pods.find((p) => p.name === 'stuck')!;
    expect(facts.get(stuck.sandboxId)!.jvm.map((j) => [j.state, j.error?.reason])).toEqual([['unknown', 'unsafe-mount']]);
  });

  it('a mount table cut at its cap: mounts incomplete, and the root is not walked at all (a cut table may hide a FUSE mount)', async () => {
    const quiet = pods.find((p) => p.name === 'quiet')!;
    const scan = await scanProc({ procRoot: '/proc', detailPids: quiet.containers.map((c) => c.pid!), budgetMs: 30_000 });
    const pid = quiet.containers[0]!.pid!;
    // The cap cuts both files (mountstats first, then mountinfo): nothing proves the table harmless.
    expect((await readFile(`/proc/${pid}/mountstats`)).length).toBeGreaterThan(200);
    const { facts } = await collectPodFacts(scan, pods, { procRoot: '/proc', maxMountinfoBytes: 200, containerTimeoutMs: 15_000 }, [quiet]);
    const f = facts.get(quiet.sandboxId)!;
    expect(procErrors(f)).toEqual([
      'mounts: mountinfo of app is larger than 200 bytes (truncated)',
      'dns: app: mount table unread or cut, root not walked (unsafe-mount)',
      'jvm: app: mount table unread or cut, root not walked (unsafe-mount)',
    ]);
    expect(f.dns).toEqual([]);
    expect(mergeProcReport(CLEAN, f, quiet).verdict).toBe('unknown');
    // A cap that cuts only mountinfo: the whole mountstats proves no FUSE, network filesystem or __chaosfs__ mount.
    const stats = (await readFile(`/proc/${pid}/mountstats`)).length;
    const info = (await readFile(`/proc/${pid}/mountinfo`)).length;
    expect(stats).toBeLessThan(info);
    const between = await collectPodFacts(scan, pods, { procRoot: '/proc', maxMountinfoBytes: stats, containerTimeoutMs: 15_000 }, [quiet]);
    expect(procErrors(between.facts.get(quiet.sandboxId)!)).toEqual([]);
    expect(mergeProcReport(CLEAN, between.facts.get(quiet.sandboxId)!, quiet)).toEqual(CLEAN);
  });

  it('a lookup that blocks in a silent FUSE server is abandoned at the deadline (without the mount guard)', async () => {
    const pid = pods.find((p) => p.name === 'stuck')!.containers[0]!.pid!;
    const t0 = performance.now();
    await expect(statInRoot({ procRoot: '/proc', pid, deadline: Date.now() + 300 }, '/usr/local/byteman/lib')).rejects.toMatchObject({ reason: 'timeout' });
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(10_000); // at the deadline, not never (a loaded machine delays the timer, not by 10 s)
  });

  it('through the whole collection: the proc collector succeeds, the evil pod is unknown with its reasons', async () => {
    const reader = createNetnsReader({ reader: 'nsenter', netnsConcurrency: 4, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 16 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
    const inventory = new Inventory({ runtimeEndpoints: [h.endpoint], dockerEndpoints: [], hostRoot: '/', procRoot: '/proc', runtimeTimeoutMs: 5000 }, { log: silentLogger() });
    try {
      const snap = await collect({ inventory, reader, procRoot: '/proc', log: silentLogger() });
      expect(snap.collectors.find((c) => c.collector === 'proc')).toMatchObject({ success: true });
      expect(snap.collectors.find((c) => c.collector === 'bpm')).toMatchObject({ success: true });
      const evil = snap.pods.find((p) => p.name === 'evil')!;
      expect(evil.chaos.verdict).toBe('unknown');
      expect(evil.errors.filter((e) => e.startsWith('dns: ') || e.startsWith('jvm: '))).toHaveLength(6);
      expect(snap.pods.find((p) => p.name === 'quiet')!.chaos.verdict).toBe('clean');
      expect(snap.bpm).toMatchObject({ daemons: [], controlled: 0 });
    } finally {
      inventory.close();
      await reader.close();
    }
  });
});
