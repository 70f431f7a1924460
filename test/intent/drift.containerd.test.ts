/**
 * Owner and drift end to end: a real containerd runs four pods; Chaos Mesh's partition / bandwidth command
 * sequences are replayed into their network namespaces; the fake kube-apiserver (HTTPS, bearer token, real
 * list/watch protocol) serves the PodNetworkChaos objects and NetworkChaos records Chaos Mesh would have written;
 * the built CLI reads both through a kubeconfig:
 * - web: partition + its PodNetworkChaos -> present, owned; orphan: partition, no intent -> leftover, owner none;
 *   ghost: PodNetworkChaos, nothing in the kernel -> missing; api: tbf + its PodNetworkChaos -> present, then
 *   the rate changed by hand -> mismatch; forced: partition + its PodNetworkChaos whose NetworkChaos was
 *   force-deleted (gone without recovery) -> leftover named after it (serve: once past the owner grace);
 * - `serve`: metrics (injection_active{experiment}, injection_drift, kube_up, kube_sync_age_seconds) and
 *   /debug/pods; the API server killed mid-run (collections go on, kube_up 0, stale cache) and restarted with
 *   intent changed meanwhile (resumed: kube_up 1, the change applied);
 * - `inspect` and `diff`, human and --json; `--kube off`, `auto` without credentials and an unreachable API
 *   server leave the agent's output as without the feature.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChaosMeshReplay, chainName, ipsetName } from '../helpers/chaos-mesh.js';
import { experiment, partitionEntries, podNetworkChaos } from '../helpers/chaos-mesh-crds.js';
import { startContainerd, type ContainerdHarness } from '../helpers/containerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { lintExposition, PROM_CLIENT_GAUGE_TOTALS, samplesOf, valueOf } from '../helpers/metrics-lint.js';
import { LOADED_MACHINE_DEADLINES, startServe, type ServeProcess } from '../helpers/serve.js';
import { podNetns } from '../commands/pod-netns.js';
import { get } from '../server/http-client.js';

const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;
const NS = uniqueName('h12');
const PATH_ONLY = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };

interface DriftJson {
  status: string;
  reason?: string;
  counts: Record<string, number>;
  entries: { artefact: string; name: string; owners: string[]; state: string; kinds: string[]; active: boolean; detail: string; expected?: Record<string, unknown>; actual?: Record<string, unknown> }[];
  findings: { finding: string; owners: string[] }[];
}
interface PodJson {
  namespace: string;
  name: string;
  chaos: { verdict: string; kinds: string[]; findings: string[]; intent?: { status: string; podNetworkChaos: unknown; experiments: { name: string }[] }; drift?: DriftJson };
}

describeIntegration('intent and drift against real containerd pods and a fake kube-apiserver', {
  root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'iptables-legacy', 'ipset', 'tc', 'openssl'],
}, () => {
  let h: ContainerdHarness | undefined;
  let api: FakeKubeApiServer | undefined;
  let dir: string;
  let kubeconfig: string;
  const served: ServeProcess[] = [];
  const pods: Record<string, { netnsPath: string }> = {};

  /** The runtime, and deadlines for a 2-core machine shared by parallel suites (containerd and the tools answer slowly under load). */
  const runtimeArgs = (): string[] => ['--runtime-endpoint', h!.endpoint, ...LOADED_MACHINE_DEADLINES];

  async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
    // --runtime-timeout: containerd answers slowly when the machine is loaded.
    const r = await execa(process.execPath, [CLI, ...args, ...runtimeArgs(), '--log-level', 'error'], {
      reject: false, timeout: 60_000, env: { ...PATH_ONLY, ...env }, extendEnv: false,
    });
    return { code: r.exitCode ?? -1, out: String(r.stdout), err: String(r.stderr) };
  }

  async function metricsOf(s: ServeProcess): Promise<string> {
    return (await get(s.port, '/metrics')).text;
  }

  async function until(what: string, s: ServeProcess, cond: (text: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await metricsOf(s);
      if (cond(text)) return text;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; agent log:\n${s.stderr().slice(-3000)}`);
      await sleep(200);
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-drift-'));
    api = await FakeKubeApiServer.start({ bookmarkIntervalMs: 500 });
    kubeconfig = await api.writeKubeconfig(join(dir, 'kubeconfig'));
    h = await startContainerd({ name: 'h12drift' });
    for (const name of ['web', 'orphan', 'ghost', 'api', 'forced']) pods[name] = await h.runPod({ name, namespace: NS });
    const replay = (pod: string) => new ChaosMeshReplay(podNetns(pods[pod]!.netnsPath), 'legacy');
    await replay('web').partition({ experiment: 'web-part', direction: 'to', cidrs: ['10.9.9.9/32'] });
    await replay('orphan').partition({ experiment: 'orph-part', direction: 'to', cidrs: ['10.9.9.8/32'] });
    await replay('api').bandwidth({ rate: 1_000_000, burst: 32_000, limit: 64_000 });
    await replay('forced').partition({ experiment: 'forced-part', direction: 'to', cidrs: ['10.9.9.6/32'] });
    // What Chaos Mesh wrote for them (ghost's was never applied in the kernel).
    api.create('podnetworkchaos', podNetworkChaos(NS, 'web', partitionEntries(NS, 'web-part', ['10.9.9.9'])));
    api.create('podnetworkchaos', podNetworkChaos(NS, 'ghost', partitionEntries(NS, 'ghost-part', ['10.9.9.7'])));
    api.create('podnetworkchaos', podNetworkChaos(NS, 'api', { tcs: [{ type: 'bandwidth', source: `${NS}/api-slow`, bandwidth: { rate: '1mbit', limit: 64000, buffer: 32000 } }] }));
    api.create('networkchaos', experiment(NS, 'web-part', 'partition', [{ id: `${NS}/web` }]));
    api.create('networkchaos', experiment(NS, 'ghost-part', 'partition', [{ id: `${NS}/ghost` }]));
    api.create('networkchaos', experiment(NS, 'api-slow', 'bandwidth', [{ id: `${NS}/api` }]));
    // forced-part was deleted with the dashboard's force delete (cleanFinalizer=forced): the finalizer dropped
    // without recovery, so its PodNetworkChaos entries and the kernel state stay, and the NetworkChaos is gone.
    api.create('podnetworkchaos', podNetworkChaos(NS, 'forced', partitionEntries(NS, 'forced-part', ['10.9.9.6'])));
    api.create('networkchaos', { ...experiment(NS, 'forced-part', 'partition', [{ id: `${NS}/forced` }]), metadata: { namespace: NS, name: 'forced-part', annotations: { 'chaos-mesh.chaos-mesh.org/cleanFinalizer': 'forced' } } });
    api.remove('networkchaos', NS, 'forced-part');
  });

  afterAll(async () => {
    for (const s of served) await s.stop(1000);
    await h?.stop();
    await api?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serve: owners and drift in the metrics and /debug/pods; mismatch after a hand change; API killed and restarted', async () => {
    const s = await startServe([...runtimeArgs(), '--interval', '1s', '--kubeconfig', kubeconfig, '--debug-insecure'], { startTimeoutMs: 30_000 });
    served.push(s);
    const pod = (name: string) => ({ namespace: NS, pod: name });
    // The caches are listed before their watches open: a collection in between has drift from a stale view (kube_up
    // 0, an age > 0). Wait for one with every watch open; the series below are then all from it.
    let text = await until('drift series, every watch open', s, (t) => valueOf(t, 'chaos_daemon_injection_drift', { ...pod('ghost'), state: 'missing' }) !== undefined
      && valueOf(t, 'chaos_daemon_kube_up') === 1);
    expect(lintExposition(text, { allowNonCounterTotal: PROM_CLIENT_GAUGE_TOTALS })).toEqual([]);
    expect(valueOf(text, 'chaos_daemon_kube_up')).toBe(1);
    expect(valueOf(text, 'chaos_daemon_kube_sync_age_seconds')).toBe(0);
    expect(valueOf(text, 'chaos_daemon_kube_objects', { resource: 'podnetworkchaos' })).toBe(4);
    expect(valueOf(text, 'chaos_daemon_scrape_collector_success', { collector: 'kube' })).toBe(1);
    const active = samplesOf(text, 'chaos_daemon_injection_active').filter((x) => x.labels.namespace === NS).map((x) => [x.labels.pod, x.labels.kind, x.labels.experiment, x.value]);
    expect(active.sort()).toEqual([
      ['api', 'bandwidth', `${NS}/api-slow`, 1],
      ['forced', 'partition', `${NS}/forced-part`, 1], // named by its entries, gone or not
      ['orphan', 'partition', '', 1],
      ['web', 'partition', `${NS}/web-part`, 1],
    ]);
    const drift = samplesOf(text, 'chaos_daemon_injection_drift').filter((x) => x.labels.namespace === NS).map((x) => [x.labels.pod, x.labels.kind, x.labels.state, x.value]);
    // orphan: its chain and the list:set its DROP rule matches change traffic; ghost: chain + 3 ipsets missing;
    // reconciled pods export their active kinds with 0. (forced: below, once its owner's grace has passed.)
    expect(drift.filter((d) => d[3] !== 0 && d[0] !== 'forced').sort()).toEqual([['ghost', 'partition', 'missing', 4], ['orphan', 'partition', 'leftover', 2]]);
    expect(drift.filter((d) => d[0] === 'web').sort()).toEqual([['web', 'partition', 'leftover', 0], ['web', 'partition', 'mismatch', 0], ['web', 'partition', 'missing', 0]]);

    const debug = JSON.parse((await get(s.port, `/debug/pods/${NS}/orphan`)).text) as { pods: PodJson[] };
    const o = debug.pods[0]!.chaos;
    expect(o.intent).toMatchObject({ status: 'synced', podNetworkChaos: null, experiments: [] });
    expect(o.drift!.status).toBe('reconciled');
    const chain = o.drift!.entries.find((e) => e.name === chainName('OUTPUT', 'orph-part'))!;
    expect(chain).toMatchObject({ artefact: 'chain', state: 'leftover', owners: [], active: true, kinds: ['partition'] });
    expect(o.drift!.findings[0]).toEqual({ finding: o.findings[0], owners: [] });
    const w = (JSON.parse((await get(s.port, `/debug/pods/${NS}/web`)).text) as { pods: PodJson[] }).pods[0]!.chaos;
    expect(w.drift!.counts).toMatchObject({ missing: 0, mismatch: 0 });
    expect(w.drift!.findings[0]!.owners).toEqual([`${NS}/web-part`]);
    expect(w.intent!.experiments.map((e) => e.name)).toEqual(['web-part']);

    // forced: its NetworkChaos absent since the first synced view; past the owner grace (30 s) its chain and the
    // list:set its DROP rule matches are leftovers that change traffic, named after the force-deleted experiment.
    text = await until('forced leftover', s, (t) => valueOf(t, 'chaos_daemon_injection_drift', { ...pod('forced'), kind: 'partition', state: 'leftover' }) === 2, 90_000);
    expect(valueOf(text, 'chaos_daemon_injection_drift', { ...pod('forced'), kind: 'partition', state: 'missing' })).toBe(0);
    const f = (JSON.parse((await get(s.port, `/debug/pods/${NS}/forced`)).text) as { pods: PodJson[] }).pods[0]!.chaos.drift!;
    const forcedChain = f.entries.find((e) => e.name === chainName('OUTPUT', 'forced-part'))!;
    expect(forcedChain).toMatchObject({ artefact: 'chain', state: 'leftover', owners: [`${NS}/forced-part`], active: true, kinds: ['partition'] });
    expect(forcedChain.detail).toMatch(new RegExp(`is in the kernel for PodNetworkChaos ${NS}/forced's entry, but NetworkChaos ${NS}/forced-part no longer exists \\(seen so for \\d+ s\\): it was deleted without recovering its entries`));
    expect(f.entries.every((e) => e.state === 'leftover' && e.owners.join() === `${NS}/forced-part`)).toBe(true);

    // A tbf rate changed by hand: mismatch.
    await podNetns(pods.api!.netnsPath).exec(['tc', 'qdisc', 'change', 'dev', 'eth0', 'root', 'handle', '1:', 'tbf', 'rate', '2mbit', 'burst', '32000', 'limit', '64000']);
    text = await until('mismatch', s, (t) => valueOf(t, 'chaos_daemon_injection_drift', { ...pod('api'), kind: 'bandwidth', state: 'mismatch' }) === 1);
    const a = (JSON.parse((await get(s.port, `/debug/pods/${NS}/api`)).text) as { pods: PodJson[] }).pods[0]!.chaos.drift!;
    // The bandwidth apply also set up the base chains (chaos-daemon's initializeEnv): owned by the same experiment.
    expect(a.entries.map((e) => [e.state, e.name, e.owners])).toEqual([['present', 'CHAOS-INPUT', [`${NS}/api-slow`]], ['present', 'CHAOS-OUTPUT', [`${NS}/api-slow`]], ['mismatch', 'eth0 root tbf', [`${NS}/api-slow`]]]);
    expect(a.entries[2]).toMatchObject({ artefact: 'qdisc', kinds: ['bandwidth'], active: true, expected: { rateBytesPerSecond: 125_000 }, actual: { rateBytesPerSecond: 250_000 } });

    // The API server dies: collections go on, kube_up 0, the last caches still give drift.
    const last = valueOf(text, 'chaos_daemon_last_collection_timestamp_seconds')!;
    await api!.kill();
    text = await until('kube_up 0 and newer collections', s, (t) => valueOf(t, 'chaos_daemon_kube_up') === 0 && valueOf(t, 'chaos_daemon_last_collection_timestamp_seconds')! > last + 1);
    expect(valueOf(text, 'chaos_daemon_kube_sync_age_seconds')).toBeGreaterThan(0);
    expect(valueOf(text, 'chaos_daemon_scrape_collector_success', { collector: 'kube' })).toBe(0);
    expect(valueOf(text, 'chaos_daemon_injection_drift', { ...pod('ghost'), state: 'missing' })).toBe(4);
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { ...pod('web'), verdict: 'active' })).toBe(1);
    // Meanwhile Chaos Mesh writes the orphan's NetworkChaos and PodNetworkChaos, and drops ghost's.
    api!.create('networkchaos', experiment(NS, 'orph-part', 'partition', [{ id: `${NS}/orphan` }]));
    api!.create('podnetworkchaos', podNetworkChaos(NS, 'orphan', partitionEntries(NS, 'orph-part', ['10.9.9.8'])));
    api!.remove('podnetworkchaos', NS, 'ghost');
    await sleep(1500);
    await api!.restart();
    // Both changes replayed from the watch history (a collection may fall between the two events: wait for both).
    const drifting = (t: string) => samplesOf(t, 'chaos_daemon_injection_drift').filter((x) => x.labels.namespace === NS && x.value > 0).map((x) => `${x.labels.pod} ${x.labels.state}`);
    text = await until('resynced', s, (t) => valueOf(t, 'chaos_daemon_kube_up') === 1
      && samplesOf(t, 'chaos_daemon_injection_active').some((x) => x.labels.pod === 'orphan' && x.labels.experiment === `${NS}/orph-part`)
      && drifting(t).sort().join() === 'api mismatch,forced leftover', 60_000);
    expect(valueOf(text, 'chaos_daemon_kube_sync_age_seconds')).toBe(0);
    expect(s.stderr()).toContain('"msg":"kube list/watch failed"');
    expect(s.stderr()).toContain('"msg":"kube watch recovered"');
    expect((await s.stop()).code).toBe(0);
    // Put the cluster state back as the other tests expect it.
    api!.remove('podnetworkchaos', NS, 'orphan');
    api!.remove('networkchaos', NS, 'orph-part');
    api!.create('podnetworkchaos', podNetworkChaos(NS, 'ghost', partitionEntries(NS, 'ghost-part', ['10.9.9.7'])));
  }, 240_000);

  it('inspect: owners on every finding and a drift section (human), chaos.intent and chaos.drift (--json)', async () => {
    const j = await cli(['inspect', `${NS}/web`, `${NS}/orphan`, `${NS}/ghost`, `${NS}/forced`, '--json', '--kubeconfig', kubeconfig]);
    expect(j.code, j.err).toBe(0);
    const byName = Object.fromEntries((JSON.parse(j.out) as { pods: PodJson[] }).pods.map((p) => [p.name, p.chaos]));
    expect(byName.ghost!.drift!.counts).toEqual({ present: 0, missing: 4, leftover: 0, mismatch: 0, stale: 0, pending: 0, failed: 0 });
    // forced: one-shot lists have no memory (NetworkChaos is listed after PodNetworkChaos): its owner is absent
    // at once, and its kernel state is what a leftover without intent would be, named after that owner.
    const forced = byName.forced!.drift!;
    expect(forced.counts).toEqual(byName.orphan!.drift!.counts);
    expect(forced.entries.filter((e) => e.active).map((e) => [e.state, e.name, e.owners])).toEqual([
      ['leftover', chainName('OUTPUT', 'forced-part'), [`${NS}/forced-part`]], ['leftover', ipsetName('forced-part', 'set_tgt'), [`${NS}/forced-part`]],
    ]);
    expect(byName.ghost!.drift!.entries.map((e) => e.name)).toEqual([chainName('OUTPUT', 'ghost-part'), ipsetName('ghost-part', 'net_tgt'), ipsetName('ghost-part', 'netport_tgt'), ipsetName('ghost-part', 'set_tgt')]);
    expect(byName.orphan!.drift!.counts.leftover).toBeGreaterThanOrEqual(5); // chain, CHAOS-INPUT/OUTPUT, 3 sets (+ old)
    expect(byName.web!.drift!.findings.map((f) => f.owners)).toEqual([[`${NS}/web-part`], [`${NS}/web-part`]]);

    const human = await cli(['inspect', `${NS}/web`, `${NS}/orphan`, `${NS}/forced`, '--kubeconfig', kubeconfig]);
    expect(human.code).toBe(0);
    expect(human.out).toContain(`drops eth0 traffic to ipset ${ipsetName('web-part', 'set_tgt')} (list:set of 2 sets, 1 member)  [owner: ${NS}/web-part]`);
    expect(human.out).toContain(`drops eth0 traffic to ipset ${ipsetName('orph-part', 'set_tgt')} (list:set of 2 sets, 1 member)  [owner: none]`);
    expect(human.out).toContain(`intent (Kubernetes API, synced): PodNetworkChaos ${NS}/web: 1 chain, 3 ipsets, 0 tcs, generation 1 (observed 1); NetworkChaos ${NS}/web-part (partition): 1/1 records Injected, desired Run`);
    expect(human.out).toContain('drift: 0 leftover, 0 missing, 0 mismatch, 6 present');
    expect(human.out).toContain('drift: 6 leftover, 0 missing, 0 mismatch, 0 present');
    const orphanChain = chainName('OUTPUT', 'orph-part');
    // One-shot: no history, so no age (serve's has one).
    expect(human.out).toContain(`\n    leftover chain ${orphanChain} (legacy ipv4 filter)  owner: none  [partition, active]\n`);
    expect(human.out).toContain(`\n      ${orphanChain} (1 rule) is in the kernel, but no PodNetworkChaos entry asks for it\n`);
    const forcedChain = chainName('OUTPUT', 'forced-part');
    expect(human.out).toContain(`drops eth0 traffic to ipset ${ipsetName('forced-part', 'set_tgt')} (list:set of 2 sets, 1 member)  [owner: ${NS}/forced-part]`);
    expect(human.out).toContain(`intent (Kubernetes API, synced): PodNetworkChaos ${NS}/forced: 1 chain, 3 ipsets, 0 tcs, generation 1 (observed 1); NetworkChaos ${NS}/forced-part: absent`);
    expect(human.out).toContain(`\n    leftover chain ${forcedChain} (legacy ipv4 filter)  owner: ${NS}/forced-part  [partition, active]\n`);
    expect(human.out).toContain(`\n      ${forcedChain} is in the kernel for PodNetworkChaos ${NS}/forced's entry, but NetworkChaos ${NS}/forced-part no longer exists: it was deleted without recovering its entries (a forced delete removes the finalizer without recovery)\n`);
  }, 120_000);

  it('diff: intent and kernel side by side for one pod (human and --json); an unknown pod exits 1', async () => {
    // The rate changed by hand (as in the serve test; idempotent, so this test stands alone).
    await podNetns(pods.api!.netnsPath).exec(['tc', 'qdisc', 'change', 'dev', 'eth0', 'root', 'handle', '1:', 'tbf', 'rate', '2mbit', 'burst', '32000', 'limit', '64000']);
    const d = await cli(['diff', `${NS}/api`, '--kubeconfig', kubeconfig]);
    expect(d.code, d.err).toBe(0);
    const lines = d.out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^pod ${NS}/api \\(containerd\\)  netns inode \\d+ `));
    expect(lines).toContain('verdict: active  kinds: bandwidth');
    const header = lines.findIndex((l) => l.startsWith('STATE'));
    expect(lines.slice(header, header + 4).map((l) => l.split(/\s{2,}/))).toEqual([
      ['STATE', 'ARTEFACT', 'NAME', 'INTENT (Chaos Mesh)', 'KERNEL', 'OWNER'],
      ['present', 'chain', 'CHAOS-INPUT', '(set up by chaos-daemon with every apply)', '0 rules, from INPUT', `${NS}/api-slow`],
      ['present', 'chain', 'CHAOS-OUTPUT', '(set up by chaos-daemon with every apply)', '0 rules, from OUTPUT', `${NS}/api-slow`],
      ['mismatch', 'qdisc', 'eth0 root tbf', 'bandwidth rate 1mbit limit 64000 buffer 32000', 'tbf rateBytesPerSecond 250000 B/s burstBytes 32000 B limitBytes 64000 B', `${NS}/api-slow`],
    ]);
    expect(d.out).toContain('drift: 0 leftover, 0 missing, 1 mismatch, 2 present');
    expect(d.out).toContain('rateBytesPerSecond 250000 B/s in the kernel, 125000 B/s in the spec');
    expect(d.out).toContain('qdisc tbf 1: root rate 250000 B/s burst 32000 B limit 64000 B');

    const j = await cli(['diff', `${NS}/orphan`, '--json', '--kubeconfig', kubeconfig]);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.out) as { kube: string; verdict: string; drift: DriftJson; intent: { status: string }; kernel: { iptables: unknown[] } };
    expect([doc.kube, doc.verdict, doc.intent.status, doc.drift.status]).toEqual(['on', 'active', 'synced', 'reconciled']);
    expect(doc.drift.entries.filter((e) => e.active).map((e) => [e.state, e.name])).toEqual([['leftover', chainName('OUTPUT', 'orph-part')], ['leftover', ipsetName('orph-part', 'set_tgt')]]);
    expect(doc.kernel.iptables.length).toBeGreaterThan(0);

    const none = await cli(['diff', `${NS}/nope`, '--kubeconfig', kubeconfig]);
    expect(none.code).toBe(1);
    expect(none.err).toBe(`chaos-node-agent diff: pod ${NS}/nope not found on this node`);
  }, 120_000);

  it('without API access the agent runs unchanged: --kube off, auto without credentials, an unreachable server', async () => {
    const off = await cli(['inspect', `${NS}/web`, '--json', '--kube', 'off', '--kubeconfig', kubeconfig]);
    const auto = await cli(['inspect', `${NS}/web`, '--json']);
    for (const r of [off, auto]) {
      expect(r.code, r.err).toBe(0);
      const chaos = (JSON.parse(r.out) as { pods: PodJson[] }).pods[0]!.chaos;
      expect(Object.keys(chaos)).toEqual(['verdict', 'kinds', 'findings']);
      expect(chaos.verdict).toBe('active');
    }
    const m = await cli(['metrics']);
    expect(m.code).toBe(0);
    expect(samplesOf(m.out, 'chaos_daemon_kube_up')).toEqual([]);
    expect(samplesOf(m.out, 'chaos_daemon_scrape_collector_success').map((x) => x.labels.collector)).not.toContain('kube');
    expect(samplesOf(m.out, 'chaos_daemon_injection_drift')).toEqual([]);
    expect(valueOf(m.out, 'chaos_daemon_injection_active', { namespace: NS, pod: 'web', kind: 'partition' })).toBe(1);
    expect(samplesOf(m.out, 'chaos_daemon_injection_active').filter((x) => x.labels.namespace === NS).every((x) => x.labels.experiment === '')).toBe(true);
    const diffOff = await cli(['diff', `${NS}/web`]);
    expect(diffOff.code).toBe(0);
    expect(diffOff.out).toContain('intent: not read (no Kubernetes credentials');

    // --kube on without credentials: an error, exit 1.
    const on = await cli(['inspect', `${NS}/web`, '--kube', 'on']);
    expect(on.code).toBe(1);
    expect(on.err).toMatch(/^chaos-node-agent inspect: --kube on: no Kubernetes credentials/);

    // The server unreachable: the namespaces are read as usual, the drift is unknown, the metrics say kube_up 0.
    await api!.kill();
    try {
      const t0 = Date.now();
      const down = await cli(['inspect', `${NS}/web`, '--json', '--kubeconfig', kubeconfig]);
      expect(down.code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(60_000); // no wait on the API: the lists fail at once (ECONNREFUSED)
      const chaos = (JSON.parse(down.out) as { pods: PodJson[] }).pods[0]!.chaos;
      expect(chaos.verdict).toBe('active');
      expect(chaos.drift).toMatchObject({ status: 'unknown', entries: [] });
      expect(chaos.drift!.reason).toMatch(/^the Kubernetes API intent is not available \(podnetworkchaos: list: .*ECONNREFUSED/);
      const mm = await cli(['metrics', '--kubeconfig', kubeconfig]);
      expect(valueOf(mm.out, 'chaos_daemon_kube_up')).toBe(0);
      expect(samplesOf(mm.out, 'chaos_daemon_kube_sync_age_seconds')).toEqual([]);
      expect(samplesOf(mm.out, 'chaos_daemon_injection_drift')).toEqual([]);
    } finally {
      await api!.restart();
    }
  }, 180_000);
});
