/**
 * Process drift end to end: a toda stand-in (the real executable's name and argv, started by a process named
 * chaos-daemon through nsenter into the pod's pid and mount namespaces, as chaos-daemon's bpm does) in a real
 * containerd pod, and the PodIOChaos Chaos Mesh would have written, served by the fake kube-apiserver. `inspect
 * --json` through a kubeconfig: status.pid naming the running toda -> present and owned; status.pid naming another
 * process -> that entry missing and the running toda a leftover with no owner.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCriRuntime } from '../../agent/runtime/cri-runtime.js';
import { experiment } from '../helpers/chaos-mesh-crds.js';
import { ChaosDaemonStandIn, inNamespaces, killAll, waitChild, writeStub } from '../helpers/chaos-stand-ins.js';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { LOADED_MACHINE_DEADLINES } from '../helpers/serve.js';

const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;
const NS = uniqueName('h12p');
const PATH_ONLY = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };

interface Entry { artefact: string; name: string; where: string | null; owners: string[]; state: string }

/** Start time of a process in ms since the epoch, as Chaos Mesh records it (boot time + starttime ticks). */
async function startTimeMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const btime = Number(/^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'))![1]);
  return btime * 1000 + Math.round((ticks * 1000) / 100);
}

function podIoChaos(pid: number, startTime: number) {
  return {
    metadata: { namespace: NS, name: 'web' },
    spec: { volumeMountPath: '/data', container: 'app', actions: [{ type: 'latency', path: '', percent: 100, delay: '100ms', source: `${NS}/io-delay` }] },
    status: { pid, startTime, observedGeneration: 1 },
  };
}

describeIntegration('process drift: a toda stand-in against PodIOChaos status.pid', {
  root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'openssl'],
}, () => {
  let h: ContainerdHarness | undefined;
  let api: FakeKubeApiServer | undefined;
  let daemon: ChaosDaemonStandIn | undefined;
  let dir = '';
  let kubeconfig = '';
  let toda = 0;
  const spawned = new Set<number>();

  async function drift(): Promise<Entry[]> {
    const r = await execa(process.execPath, [CLI, 'inspect', `${NS}/web`, '--json', '--kube', 'on', '--kubeconfig', kubeconfig, '--runtime-endpoint', h!.endpoint, ...LOADED_MACHINE_DEADLINES, '--log-level', 'error'], {
      reject: false, timeout: 60_000, env: PATH_ONLY, extendEnv: false,
    });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const doc = JSON.parse(String(r.stdout)) as { pods: { chaos: { kinds: string[]; drift?: { entries: Entry[] } } }[] };
    // Seen once in a loaded run (kinds []): the whole pod entry in the message, to tell a cut /proc read from a miss.
    expect(doc.pods[0]!.chaos.kinds, JSON.stringify(doc.pods[0]).slice(0, 4000)).toContain('io');
    return (doc.pods[0]!.chaos.drift?.entries ?? []).filter((e) => e.artefact === 'process');
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-pdrift-'));
    api = await FakeKubeApiServer.start();
    kubeconfig = await api.writeKubeconfig(join(dir, 'kubeconfig'));
    h = await startContainerd({ name: 'h12proc' });
    await h.runPod({ name: 'web', namespace: NS, containers: ['app'] });
    const rt = createCriRuntime({ protocol: 'cri', url: h.endpoint, socketPath: h.socket, source: 'flag' }, { timeoutMs: 15_000, procRoot: '/proc', hostRoot: '/' });
    let app: number;
    try {
      app = (await rt.listPods()).find((p) => p.namespace === NS && p.name === 'web')!.containers.find((c) => c.name === 'app')!.pid!;
    } finally {
      rt.close();
    }
    await mkdir(`/proc/${app}/root/usr/local/bin`, { recursive: true });
    await writeStub(`/proc/${app}/root/usr/local/bin/toda`);
    await inNamespaces(app, ['m'], ['mkdir', '-p', '/data']);
    daemon = await ChaosDaemonStandIn.start(dir);
    const wrapper = await daemon.run(['nsenter', '-t', String(app), '-p', '-m', '--', '/usr/local/bin/toda', '--path', '/data', '--verbose', 'info']);
    spawned.add(wrapper);
    toda = await waitChild(wrapper);
    spawned.add(toda);
    api.create('iochaos', experiment(NS, 'io-delay', 'latency', [{ id: `${NS}/web/app` }]));
  });

  afterAll(async () => {
    daemon?.stop();
    killAll(spawned);
    await h?.stop();
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('status.pid names the running toda: present, owned by the IOChaos', async () => {
    api!.create('podiochaos', podIoChaos(toda, await startTimeMs(toda)));
    expect(await drift()).toEqual([expect.objectContaining({ name: 'toda', where: `pid ${toda}`, owners: [`${NS}/io-delay`], state: 'present' })]);
  });

  it('status.pid names another process: missing, and the running toda is a leftover with no owner', async () => {
    api!.update('podiochaos', podIoChaos(4_194_000, await startTimeMs(toda)));
    const entries = await drift();
    expect(entries.map((e) => [e.name, e.where, e.state, e.owners])).toEqual(expect.arrayContaining([
      ['toda', 'pid 4194000', 'missing', [`${NS}/io-delay`]],
      ['toda', `pid ${toda}`, 'leftover', []],
    ]));
    expect(entries).toHaveLength(2);
  });
});
