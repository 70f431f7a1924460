/**
 * Faults that are not network state, on REAL containerd pods: stand-ins of what chaos-daemon runs (real executables
 * with Chaos Mesh's argv, started by a process named chaos-daemon in a pod labelled like Chaos Mesh's DaemonSet,
 * entering the target's namespaces with nsenter as nsexec does, moved into the target's cgroups as the stress
 * server does), a real kernel FUSE mount with source `toda` over a volume moved to `__chaosfs__`, DNSChaos applied
 * and recovered with dns_server.go's own commands, and the JVMChaos layout (the jars copied as jvm_server.go does, a
 * process named java listening on 127.0.0.1:9277). For each: the facts and verdict before, during, after recovery,
 * and a process left behind by a failed recovery (an active leftover).
 */
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mergeProcReport } from '../../agent/chaos/processes.js';
import { inspectTarget } from '../../agent/collection.js';
import { createNetnsReader } from '../../agent/netns/read.js';
import { bpmFromScan } from '../../agent/proc/bpm.js';
import { collectPodFacts } from '../../agent/proc/facts.js';
import { RootReader } from '../../agent/proc/root-reader.js';
import { scanProc } from '../../agent/proc/scan.js';
import { createCriRuntime } from '../../agent/runtime/cri-runtime.js';
import type { PodInfo, RuntimeClient } from '../../agent/runtime/types.js';
import { ChaosDaemonStandIn, inNamespaces, killAll, killAndWait, moveToCgroupsOf, waitChild, writeStub } from '../helpers/chaos-stand-ins.js';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll } from '../helpers/netns.js';

const CLEAN = { verdict: 'clean' as const, kinds: [], findings: [], details: [] };
const DAEMON_LABELS = { 'app.kubernetes.io/component': 'chaos-daemon', 'app.kubernetes.io/name': 'chaos-mesh', 'app.kubernetes.io/instance': 'chaos-mesh' };

describeIntegration('non-network faults in real containerd pods', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'ip'] }, () => {
  let h: ContainerdHarness;
  let rt: RuntimeClient;
  let dir: string;
  let daemon: ChaosDaemonStandIn;
  const spawned = new Set<number>();
  const rootReader = new RootReader();
  const pidOf = async (pod: string, container: string): Promise<number> => {
    const p = (await rt.listPods()).find((x) => x.name === pod)!;
    return p.containers.find((c) => c.name === container)!.pid!;
  };

  /** One collection's /proc part, as collection.ts runs it. */
  async function observe() {
    const pods = await rt.listPods();
    const detailPids = pods.flatMap((p) => [p.pid, ...p.containers.map((c) => c.pid)]).filter((x): x is number => x !== null);
    // Budgets for a loaded CI machine: the defaults (3 s scan, 1 s per container) can cut a read there, and an
    // incomplete source turns a verdict into unknown.
    const scan = await scanProc({ procRoot: '/proc', detailPids, budgetMs: 30_000 });
    // As serve reads them (the containers' roots in the root reader's worker thread)...
    const { facts, index } = await collectPodFacts(scan, pods, { procRoot: '/proc', containerTimeoutMs: 15_000, rootReader });
    // ...and as inspect does (on the main thread): the same facts.
    expect((await collectPodFacts(scan, pods, { procRoot: '/proc', containerTimeoutMs: 15_000 })).facts).toEqual(facts);
    const bpm = bpmFromScan(scan, pods, index);
    const pod = (name: string): PodInfo => pods.find((p) => p.name === name)!;
    const of = (name: string) => facts.get(pod(name).sandboxId)!;
    const verdict = (name: string) => mergeProcReport(CLEAN, of(name), pod(name));
    return { pods, scan, of, verdict, bpm, pod };
  }

  beforeAll(async () => {
    h = await startContainerd({ name: 'procfs' });
    rt = createCriRuntime({ protocol: 'cri', url: h.endpoint, socketPath: h.socket, source: 'flag' }, { timeoutMs: 5000, procRoot: '/proc', hostRoot: '/' });
    await Promise.all([
      h.runPod({ name: 'web', namespace: 'shop', containers: ['app', 'side'] }),
      h.runPod({ name: 'api', namespace: 'shop', containers: ['main'] }),
      h.runPod({ name: 'chaos-daemon-x7k2p', namespace: 'chaos-mesh', containers: ['chaos-daemon'], hostNetwork: true, labels: DAEMON_LABELS }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'cna-procfs-'));
    for (const tool of ['stress-ng', 'memStress', 'tproxy']) await writeStub(join(dir, tool));
    await symlink(process.execPath, join(dir, 'java')); // a node named java (comm is the exec'd name)
    // toda runs from inside the container's mount namespace: its executable goes into the app's root.
    const app = await pidOf('web', 'app');
    await mkdir(`/proc/${app}/root/usr/local/bin`, { recursive: true });
    await writeStub(`/proc/${app}/root/usr/local/bin/toda`);
    // The app's volume: a tmpfs at /data.
    await inNamespaces(app, ['m'], ['mkdir', '-p', '/data']);
    await inNamespaces(app, ['m'], ['mount', '-t', 'tmpfs', 'tmpfs', '/data']);
    // chaos-daemon: a process of that name in the daemon pod's container cgroups.
    daemon = await ChaosDaemonStandIn.start(dir);
    await moveToCgroupsOf(daemon.pid, await pidOf('chaos-daemon-x7k2p', 'chaos-daemon'));
  });

  afterAll(async () => {
    daemon?.stop();
    await rootReader.close();
    killAll(spawned);
    await destroyAll();
    rt?.close();
    await h?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pods without faults read clean, every source complete', async () => {
    const o = await observe();
    for (const name of ['web', 'api']) {
      expect(o.verdict(name)).toEqual(CLEAN);
      expect(Object.values(o.of(name).sources).every((s) => s.complete)).toBe(true);
      expect(o.of(name).dns.map((d) => d.state)).toEqual(name === 'web' ? ['none', 'none'] : ['none']);
    }
    expect(o.bpm.daemons.map((d) => d.pid)).toEqual([daemon.pid]);
    expect(o.bpm.controlled).toBe(0);
    console.log(`[measure] /proc scan: ${o.scan.processes.size} processes in ${(o.scan.seconds * 1000).toFixed(1)} ms`);
  });

  it('IOChaos: toda in the container\'s pid and mount namespaces, a toda FUSE mount over the moved volume; recovery cleans both', async () => {
    const app = await pidOf('web', 'app');
    // toda's mount_injector: move the volume to /__chaosfs__data__, mount FUSE (fsname=toda) on /data.
    await inNamespaces(app, ['m'], ['mkdir', '-p', '/__chaosfs__data__']);
    await inNamespaces(app, ['m'], ['mount', '--move', '/data', '/__chaosfs__data__']);
    const fuse = openSync('/dev/fuse', 'r+');
    try {
      await inNamespaces(app, ['m'], ['mount', '-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions', 'toda', '/data'], { extraFd: fuse });
    } finally {
      closeSync(fuse); // the server is gone: the mount answers ENOTCONN, the agent must not touch it anyway
    }
    const wrapper = await daemon.run(['nsenter', '-t', String(app), '-p', '-m', '--', '/usr/local/bin/toda', '--path', '/data', '--verbose', 'info']);
    spawned.add(wrapper);
    const toda = await waitChild(wrapper);
    spawned.add(toda);

    let o = await observe();
    const appId = o.pod('web').containers.find((c) => c.name === 'app')!.id;
    expect(o.of('web').processes).toEqual([expect.objectContaining({
      role: 'toda', kind: 'io', pid: toda, ppid: wrapper, containerId: appId, via: ['pid-ns', 'mnt-ns'],
      cmdline: ['/usr/local/bin/toda', '--path', '/data', '--verbose', 'info'], volume: '/data',
      bpmIdentifier: `toda-${appId}`, launchedBy: { pid: daemon.pid, comm: 'chaos-daemon' },
    })]);
    expect(o.of('web').mounts).toEqual([{ container: 'app', containerId: appId, volume: '/data', fuse: { mountId: expect.any(Number), fstype: 'fuse', source: 'toda' }, movedTo: '/__chaosfs__data__' }]);
    const r = o.verdict('web');
    expect([r.verdict, r.kinds]).toEqual(['active', ['io']]);
    expect(r.findings[1]).toBe('container app: /data is a toda FUSE mount (IOChaos, fuse source toda); the volume is moved to /__chaosfs__data__');
    expect(o.of('web').sources.dns.complete).toBe(true); // DNS read fine next to the dead FUSE mount
    expect(o.bpm.controlled).toBe(1);
    expect(o.bpm.byCommand.get('toda')).toBe(1);

    // Recovery as chaos-daemon does it: SIGTERM toda, unmount, move the volume back.
    await killAndWait(toda);
    await inNamespaces(app, ['m'], ['umount', '/data']);
    await inNamespaces(app, ['m'], ['mount', '--move', '/__chaosfs__data__', '/data']);
    o = await observe();
    expect(o.verdict('web')).toEqual(CLEAN);
    expect(o.bpm.controlled).toBe(0);

    // A failed recovery: the wrapper dies, toda survives (orphaned), the volume stays moved away.
    await inNamespaces(app, ['m'], ['mount', '--move', '/data', '/__chaosfs__data__']);
    const wrapper2 = await daemon.run(['nsenter', '-t', String(app), '-p', '-m', '--', '/usr/local/bin/toda', '--path', '/data', '--verbose', 'info']);
    spawned.add(wrapper2);
    const toda2 = await waitChild(wrapper2);
    spawned.add(toda2);
    await killAndWait(wrapper2, 'SIGKILL');
    o = await observe();
    const left = o.verdict('web');
    expect([left.verdict, left.kinds]).toEqual(['active', ['io']]);
    expect(o.of('web').processes).toEqual([expect.objectContaining({ pid: toda2, launchedBy: null })]);
    expect(left.findings).toEqual([
      expect.stringMatching(new RegExp(`^toda injects IOChaos into container app on /data: .*\\(pid ${toda2}, .*no chaos-daemon ancestor\\)$`)),
      'container app: the volume of /data is still moved to /__chaosfs__data__ with no toda mount on /data (failed IOChaos recovery: the application sees the bare mount point)',
    ]);
    await killAndWait(toda2, 'SIGKILL');
    await inNamespaces(app, ['m'], ['mount', '--move', '/__chaosfs__data__', '/data']);
  });

  it('StressChaos: stress-ng and memStress moved into the containers\' cgroups; a survivor is an active leftover', async () => {
    const app = await pidOf('web', 'app');
    const main = await pidOf('api', 'main');
    // pause execs stress-ng (no EnterNS): host pid namespace, moved into the app's cgroups.
    const stress = await daemon.run([join(dir, 'stress-ng'), '--cpu', '1', '--cpu-load', '50']);
    spawned.add(stress);
    await moveToCgroupsOf(stress, app);
    // EnterNS: pause execs nsexec -p, which forks memStress; both in main's cgroups.
    const wrapper = await daemon.run(['nsenter', '-t', String(main), '-p', '--', join(dir, 'memStress'), '--size', '10MB', '--workers', '1']);
    spawned.add(wrapper);
    const mem = await waitChild(wrapper);
    spawned.add(mem);
    await moveToCgroupsOf(wrapper, main);
    await moveToCgroupsOf(mem, main);

    let o = await observe();
    const appId = o.pod('web').containers.find((c) => c.name === 'app')!.id;
    const mainId = o.pod('api').containers[0]!.id;
    expect(o.of('web').processes).toEqual([expect.objectContaining({ role: 'stress-ng', pid: stress, containerId: appId, via: ['cgroup'], cgroup: `/k8s.io/${appId}`, workers: 0 })]);
    expect(o.of('api').processes).toEqual([expect.objectContaining({ role: 'memStress', pid: mem, containerId: mainId, via: ['cgroup', 'pid-ns'] })]);
    expect([o.verdict('web').kinds, o.verdict('api').kinds]).toEqual([['stress'], ['stress']]);
    expect([o.bpm.byCommand.get('stress-ng'), o.bpm.byCommand.get('memStress'), o.bpm.controlled]).toEqual([1, 1, 0]);

    // Recovery kills both; memStress's wrapper is killed without its child: the child stays, still in main's cgroup.
    await killAndWait(stress);
    await killAndWait(wrapper, 'SIGKILL');
    o = await observe();
    expect(o.verdict('web')).toEqual(CLEAN);
    expect(o.verdict('api')).toMatchObject({ verdict: 'active', kinds: ['stress'] });
    expect(o.of('api').processes).toEqual([expect.objectContaining({ pid: mem, launchedBy: null })]);
    await killAndWait(mem, 'SIGKILL');
    expect((await observe()).verdict('api')).toEqual(CLEAN);
  });

  it('HTTPChaos: tproxy -i in the pod\'s pid and net namespaces, tproxy --proxy in the proxy namespace; recovery leaves -i idle (scaffolding)', async () => {
    const main = await pidOf('api', 'main');
    const proxyNs = await createNetns('cnapx');
    const wrapper = await daemon.run(['nsenter', '-t', String(main), '-p', '-n', '--', join(dir, 'tproxy'), '-i', '-vv']);
    spawned.add(wrapper);
    const ctl = await waitChild(wrapper);
    spawned.add(ctl);
    const px = execa('nsenter', ['-t', String(main), '-p', `--net=${proxyNs.path}`, '--', join(dir, 'tproxy'), '-vv', '--proxy', '--ipc-path=/tmp/0b7f.sock'], { reject: false, detached: false });
    void px.catch((err: unknown) => err); // killed below
    spawned.add(px.pid!);
    const proxy = await waitChild(px.pid!);
    spawned.add(proxy);

    let o = await observe();
    const mainId = o.pod('api').containers[0]!.id;
    expect(o.of('api').processes.map((p) => [p.pid, p.role, p.via, p.bpmIdentifier])).toEqual([
      [ctl, 'tproxy', ['pid-ns', 'net-ns'], `tproxy-${mainId}`],
      [proxy, 'tproxy-proxy', ['pid-ns'], null],
    ].sort((a, b) => Number(a[0]) - Number(b[0])));
    expect(o.verdict('api')).toMatchObject({ verdict: 'active', kinds: ['http'] });
    expect(o.bpm.controlled).toBe(1);
    expect(o.bpm.byCommand.get('tproxy')).toBe(1);

    // Recovery: the proxy stops, tproxy -i stays (Chaos Mesh kills it only on re-create).
    await killAndWait(proxy, 'SIGINT');
    o = await observe();
    expect(o.verdict('api')).toMatchObject({ verdict: 'scaffolding', kinds: [] });
    expect(o.verdict('api').findings[0]).toMatch(/^idle tproxy -i left by HTTPChaos in container main/);
    expect(o.bpm.controlled).toBe(1); // still a live bpm process with an identifier, as in Chaos Mesh
    await killAndWait(ctl);
    expect((await observe()).verdict('api')).toEqual(CLEAN);
  });

  it('DNSChaos applied and recovered with dns_server.go\'s commands: active naming both lists, then scaffolding', async () => {
    const app = await pidOf('web', 'app');
    const conf = '/etc/resolv.conf';
    const sh = (script: string) => inNamespaces(app, ['m'], ['sh', '-c', script]);
    const before = await sh(`cat ${conf}`);
    // SetDNSServer(enable): backup once, then rewrite every nameserver line in place.
    await sh(`ls ${conf}.chaos.bak || cp ${conf} ${conf}.chaos.bak`);
    await sh(`cp ${conf} /etc/resolv_conf_dnschaos_temp && sed -i 's/.*nameserver.*/nameserver 10.96.99.53/' /etc/resolv_conf_dnschaos_temp && cat /etc/resolv_conf_dnschaos_temp > ${conf} && rm /etc/resolv_conf_dnschaos_temp`);
    let o = await observe();
    const original = before.split('\n').filter((l) => l.startsWith('nameserver')).map((l) => l.split(/\s+/)[1]);
    expect(o.of('web').dns.map((d) => [d.container, d.state, d.nameservers, d.backupNameservers])).toEqual([
      ['app', 'active', ['10.96.99.53'], original],
      // side shares the bind-mounted resolv.conf, but the backup lives in app's own root: nothing to compare
      // (without a backup resolv.conf is not even read).
      ['side', 'none', null, null],
    ]);
    expect(o.verdict('web').findings).toEqual([`container app: /etc/resolv.conf nameservers 10.96.99.53 differ from /etc/resolv.conf.chaos.bak's ${original.join(', ')} (DNSChaos)`]);
    // `inspect --pid` takes the process as a one-container pod: the same facts, without any runtime.
    const reader = createNetnsReader({ reader: 'nsenter', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 16 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc' });
    try {
      const r = await inspectTarget(reader, { netnsPath: `/proc/${app}/ns/net`, pid: app, procRoot: '/proc' });
      expect(r.chaos).toMatchObject({ verdict: 'active', kinds: ['dns'] });
      expect(r.dnsChaos).toEqual([{ container: `pid ${app}`, pid: app }]);
      expect(r.proc!.dns[0]).toMatchObject({ state: 'active', nameservers: ['10.96.99.53'], backupNameservers: original });
    } finally {
      await reader.close();
    }

    // SetDNSServer(disable): copy the backup back, never delete it.
    await sh(`ls ${conf}.chaos.bak && cat ${conf}.chaos.bak > ${conf} || true`);
    o = await observe();
    expect(o.verdict('web')).toMatchObject({ verdict: 'scaffolding', kinds: [], findings: [`container app: /etc/resolv.conf.chaos.bak left by a recovered DNSChaos (same nameservers: ${original.join(', ')})`] });
  });

  it('JVMChaos: jars copied into the container and a java process listening on 9277: active; jars alone: scaffolding', async () => {
    const main = await pidOf('api', 'main');
    await inNamespaces(main, ['m'], ['sh', '-c', 'mkdir -p /usr/local/byteman/lib/']);
    for (const jar of ['byteman.jar', 'byteman-helper.jar', 'chaos-agent.jar']) {
      await inNamespaces(main, ['m'], ['sh', '-c', `cat > /usr/local/byteman/lib/${jar}`], { input: Buffer.from(`PK\x03\x04 stand-in for ${jar}`) });
    }
    let o = await observe();
    expect(o.of('api').jvm).toEqual([expect.objectContaining({ container: 'main', state: 'scaffolding', jars: ['byteman.jar', 'byteman-helper.jar', 'chaos-agent.jar'], listeners: [] })]);
    expect(o.verdict('api').verdict).toBe('scaffolding');

    const agent = execa('nsenter', ['-t', String(main), '-n', '--', join(dir, 'java'), '-e', "require('node:net').createServer().listen(9277, '127.0.0.1', () => console.log('up'))"], { reject: false });
    void agent.catch((err: unknown) => err);
    const java = agent.pid!; // nsenter without -p execs in place: it is the java process
    spawned.add(java);
    await new Promise<void>((resolve) => agent.stdout!.once('data', () => resolve()));
    o = await observe();
    expect(o.of('api').jvm[0]).toMatchObject({ state: 'active', listeners: [{ address: '127.0.0.1', port: 9277, owner: { pid: java, comm: 'java' } }] });
    expect(o.verdict('api')).toMatchObject({ verdict: 'active', kinds: ['jvm'] });
    expect(o.verdict('api').findings[0]).toMatch(new RegExp(`^container main: Byteman agent listening on 127\\.0\\.0\\.1:9277 \\(java pid ${java}\\) with byteman\\.jar, byteman-helper\\.jar, chaos-agent\\.jar`));
    await killAndWait(java, 'SIGKILL');
  });

  it('bpm counts only the chaos-daemon of chaos-daemon\'s pod: impostors on the host and in other pods count for nothing', async () => {
    const impostorHost = await ChaosDaemonStandIn.start(await mkdtemp(join(dir, 'imp-')));
    const impostorPod = await ChaosDaemonStandIn.start(await mkdtemp(join(dir, 'imp-')));
    try {
      await moveToCgroupsOf(impostorPod.pid, await pidOf('api', 'main'));
      for (const d of [impostorHost, impostorPod]) spawned.add(await d.run([join(dir, 'tproxy'), '-i', '-vv']));
      const real = await daemon.run([join(dir, 'tproxy'), '-i', '-vv']);
      spawned.add(real);
      const o = await observe();
      expect(o.bpm.daemons).toEqual([{ pid: daemon.pid, sandboxId: o.pod('chaos-daemon-x7k2p').sandboxId, pod: 'chaos-mesh/chaos-daemon-x7k2p' }]);
      expect(o.bpm.impostors).toEqual(expect.arrayContaining([impostorHost.pid, impostorPod.pid]));
      expect(o.bpm.background.map((b) => [b.pid, b.command])).toEqual([[real, 'tproxy']]);
      expect(o.bpm.controlled).toBe(1);
      killAll([real]);
    } finally {
      impostorHost.stop();
      impostorPod.stop();
    }
  });
});
