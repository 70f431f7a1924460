/**
 * The owners of PodHttpChaos rules and PodIOChaos actions in the pure reconciliation (owners.ts, lifecycle.ts), on
 * literal Chaos Mesh objects and literal /proc evidence (a toda with its FUSE mount, a tproxy -i with its proxy):
 * - a running HTTPChaos / IOChaos owns the proxy, tproxy and toda it asks for, and the findings on them name it;
 * - once every HTTPChaos / IOChaos a rule or action names is absent (force-deleted: its Recover, the only thing that
 *   clears a source's rules / actions, never ran), being deleted or stopped, for the grace (no memory: at once), that
 *   kernel side is a leftover named after it, active and counted when a finding shows it at work; a recorded
 *   tproxy / toda that is not running is stale;
 * - the condition keys the `serve` source tracks for those owners, apart from NetworkChaos' of the same name.
 */
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../agent/chaos/fingerprint.js';
import { mergeProcReport } from '../../agent/chaos/processes.js';
import { attachIntent, processesOf } from '../../agent/intent/attach.js';
import type { PodDrift } from '../../agent/intent/drift.js';
import { intentSummary } from '../../agent/intent/format.js';
import type { IntentStatus } from '../../agent/intent/model.js';
import { normaliseExperiment, normalisePodHttpChaos, normalisePodIoChaos, normalisePodNetworkChaos } from '../../agent/intent/normalise.js';
import { ownerKey, pendingKey } from '../../agent/intent/owners.js';
import { driftCounts, reconcilePod, type ReconcileInput } from '../../agent/intent/reconcile.js';
import { IntentView, type SinceLookup } from '../../agent/intent/view.js';
import type { ChaosProcess } from '../../agent/proc/chaos-processes.js';
import { emptyPodProcFacts, type PodProcFacts } from '../../agent/proc/model.js';
import type { NetnsState } from '../../agent/netns/state.js';
import type { PodReport } from '../../agent/snapshot.js';
import { iptables, state } from '../chaos/builders.js';

const SYNCED: IntentStatus = { state: 'synced', syncAgeSeconds: 0, errors: [] };
const NOW = 1_800_000_000;
const SLOW_IO = 'shop/slow-io';
const ABORT = 'shop/abort';
const SANDBOX = 'sb-web';
const C_APP = 'c'.repeat(64);
const POD = { containers: [{ id: C_APP, name: 'app', state: 'CONTAINER_RUNNING' as const, pid: 4100 }] };
const TODA_START = 1_799_990_000_000;
const TPROXY_START = 1_799_990_500_000;

/** A /proc process as agent/proc/chaos-processes.ts places it on the pod. */
function proc(role: ChaosProcess['role'], pid: number, startTimeMs: number, cmdline: string[], extra: Partial<ChaosProcess> = {}): ChaosProcess {
  return {
    sandboxId: SANDBOX, containerId: C_APP, role, kind: role === 'toda' ? 'io' : 'http', pid, ppid: 310, comm: cmdline[0]!.split('/').pop()!,
    cmdline, cmdlineTruncated: false, startTimeMs, uid: 0, via: ['pid-ns'], cgroup: null, launchedBy: { pid: 310, comm: 'chaos-daemon' },
    bpmIdentifier: null, ...extra,
  };
}

const TODA = proc('toda', 888, TODA_START, ['/usr/local/bin/toda', '--path', '/data', '--verbose', 'info'], { volume: '/data', via: ['pid-ns', 'mnt-ns'] });
const TPROXY = proc('tproxy', 777, TPROXY_START, ['/usr/local/bin/tproxy', '-i', '-vv'], { via: ['pid-ns', 'net-ns'] });
const PROXY = proc('tproxy-proxy', 779, TPROXY_START + 900, ['tproxy', '-vv', '--proxy', '--ipc-path=/tmp/x'], { ppid: 777, via: ['pid-ns'] });

/** The pod's /proc facts: the processes given, and toda's FUSE mount on /data when toda is among them. */
function facts(processes: ChaosProcess[]): PodProcFacts {
  const f = emptyPodProcFacts(SANDBOX);
  f.processes = processes;
  if (processes.some((p) => p.role === 'toda')) {
    f.mounts = [{ container: 'app', containerId: C_APP, volume: '/data', fuse: { mountId: 910, fstype: 'fuse', source: 'toda' }, movedTo: '/__chaosfs__data__' }];
  }
  return f;
}

/** The apply state chaos-daemon's controller writes (default: generation applied, no failure). */
interface Applied {
  generation?: number;
  observedGeneration?: number;
  failedMessage?: string;
}

/** A PodIOChaos as Chaos Mesh writes it (iochaos/impl.go Apply: one action per IOChaos, `source` its ns/name). */
function pio(sources: string[], pid: number | null = 888, a: Applied = {}) {
  return {
    metadata: { namespace: 'shop', name: 'web', generation: a.generation ?? 2 },
    spec: { volumeMountPath: '/data', container: 'app', actions: sources.map((source) => ({ type: 'latency', path: '', percent: 100, latency: '100ms', source })) },
    status: { observedGeneration: a.observedGeneration ?? 2, failedMessage: a.failedMessage ?? '', ...(pid !== null ? { pid, startTime: TODA_START } : {}) },
  };
}

/** A PodHttpChaos as Chaos Mesh writes it (httpchaos/impl.go Apply: one rule per HTTPChaos). */
function phc(sources: string[], a: Applied = {}) {
  return {
    metadata: { namespace: 'shop', name: 'web', generation: a.generation ?? 3 },
    spec: { rules: sources.map((source) => ({ source, port: 80, target: 'Request', selector: { port: 80 }, actions: { abort: true } })) },
    status: { observedGeneration: a.observedGeneration ?? 3, failedMessage: a.failedMessage ?? '', pid: 777, startTime: TPROXY_START },
  };
}

/** An experiment with an Injected record for shop/web (IOChaos: its container). */
function experiment(kind: 'IOChaos' | 'HTTPChaos' | 'NetworkChaos', ref: string, o: { desiredPhase?: 'Run' | 'Stop'; deleting?: boolean } = {}) {
  const [namespace, name] = ref.split('/');
  return normaliseExperiment(kind, {
    metadata: { namespace, name, ...(o.deleting ? { deletionTimestamp: '2027-01-15T08:00:00Z' } : {}) },
    spec: { action: kind === 'IOChaos' ? 'latency' : kind === 'HTTPChaos' ? 'abort' : 'delay' },
    status: { experiment: { desiredPhase: o.desiredPhase ?? 'Run', containerRecords: [{ id: kind === 'IOChaos' ? 'shop/web/app' : 'shop/web', selectorKey: '.', phase: 'Injected', injectedCount: 1, recoveredCount: 0 }] } },
  })!;
}

interface Objects {
  io?: unknown;
  http?: unknown;
  experiments?: ReturnType<typeof experiment>[];
  /** The pod's network namespace (default: nothing of Chaos Mesh's). */
  kernel?: NetnsState;
}

function run(o: Objects, processes: ChaosProcess[], since?: SinceLookup, extra: Partial<ReconcileInput> = {}): PodDrift {
  const view = new IntentView({
    network: [], http: o.http ? [normalisePodHttpChaos(o.http)!] : [], io: o.io ? [normalisePodIoChaos(o.io)!] : [], experiments: o.experiments ?? [],
  }, SYNCED, since);
  const f = facts(processes);
  const kernel = o.kernel ?? state();
  const chaos = mergeProcReport(fingerprint(kernel), f, POD);
  return reconcilePod({ intent: view.pod('shop', 'web'), status: SYNCED, state: kernel, chaos, firstSeen: () => NOW - 7200, now: NOW, processes: processesOf(f), ...extra });
}

const seenAt = (t: number): SinceLookup => () => t;
const nonZero = (d: PodDrift, kinds: ('io' | 'http')[]) => driftCounts(d, kinds).filter((c) => c.count > 0);
const rows = (d: PodDrift) => d.entries.map((e) => [e.state, e.artefact, e.name, e.owners, e.active, e.kinds]);

describe('PodIOChaos actions: their IOChaos owns toda and its FUSE mount', () => {
  it('running: toda present and owned; its process and mount findings name the IOChaos; 0 drift exported', () => {
    const d = run({ io: pio([SLOW_IO]), experiments: [experiment('IOChaos', SLOW_IO)] }, [TODA], seenAt(NOW - 3600));
    expect(rows(d)).toEqual([['present', 'process', 'toda', [SLOW_IO], true, ['io']]]);
    expect(d.findings.map((f) => [f.finding.split(':')[0], f.owners])).toEqual([
      ['toda injects IOChaos into container app on /data', [SLOW_IO]],
      ['container app', [SLOW_IO]], // container app: /data is a toda FUSE mount (IOChaos, ...)
    ]);
    expect(d.kindOwners).toEqual({ io: [SLOW_IO] });
    expect(nonZero(d, ['io'])).toEqual([]);
  });

  it('absent (force-deleted) past the grace: toda is a leftover named after it, active, aged, counted', () => {
    const d = run({ io: pio([SLOW_IO]) }, [TODA], seenAt(NOW - 60));
    expect(rows(d)).toEqual([['leftover', 'process', 'toda', [SLOW_IO], true, ['io']]]);
    expect(d.entries[0]).toMatchObject({ where: 'pid 888', firstSeen: NOW - 7200, ageSeconds: 7200 });
    expect(d.entries[0]!.detail).toBe(`toda pid 888 runs for PodIOChaos shop/web's actions, but IOChaos ${SLOW_IO} no longer exists (seen so for 60 s): it was deleted without recovering its actions (a forced delete removes the finalizer without recovery)`);
    expect(d.counts).toMatchObject({ leftover: 1, present: 0 });
    expect(nonZero(d, ['io'])).toEqual([{ kind: 'io', state: 'leftover', count: 1 }]);
    // The findings still name the experiment whose actions ask for it (chaos_daemon_injection_active{experiment}).
    expect(d.kindOwners).toEqual({ io: [SLOW_IO] });
  });

  it('absent within the grace: present; from the grace on, leftover; the grace is an input; no memory: at once', () => {
    expect(run({ io: pio([SLOW_IO]) }, [TODA], seenAt(NOW - 29)).entries[0]!.state).toBe('present');
    expect(nonZero(run({ io: pio([SLOW_IO]) }, [TODA], seenAt(NOW - 29)), ['io'])).toEqual([]);
    expect(run({ io: pio([SLOW_IO]) }, [TODA], seenAt(NOW - 30)).entries[0]!.state).toBe('leftover');
    expect(run({ io: pio([SLOW_IO]) }, [TODA], seenAt(NOW - 60), { ownerGraceSeconds: 120 }).entries[0]!.state).toBe('present');
    const oneShot = run({ io: pio([SLOW_IO]) }, [TODA]);
    expect(oneShot.entries[0]).toMatchObject({ state: 'leftover', owners: [SLOW_IO], active: true });
    expect(oneShot.entries[0]!.detail).toContain(`but IOChaos ${SLOW_IO} no longer exists: it was deleted without recovering its actions`);
  });

  it('being deleted or stopped (paused, duration over) past the grace: leftover, saying which', () => {
    const deleting = run({ io: pio([SLOW_IO]), experiments: [experiment('IOChaos', SLOW_IO, { deleting: true, desiredPhase: 'Stop' })] }, [TODA], seenAt(NOW - 45));
    expect(deleting.entries[0]).toMatchObject({ state: 'leftover', owners: [SLOW_IO], active: true, kinds: ['io'] });
    expect(deleting.entries[0]!.detail).toBe(`toda pid 888 runs for PodIOChaos shop/web's actions, but IOChaos ${SLOW_IO} is being deleted (seen so for 45 s) and has not recovered its actions`);
    const paused = run({ io: pio([SLOW_IO]), experiments: [experiment('IOChaos', SLOW_IO, { desiredPhase: 'Stop' })] }, [TODA], seenAt(NOW - 600));
    expect(paused.entries[0]!.detail).toBe(`toda pid 888 runs for PodIOChaos shop/web's actions, but IOChaos ${SLOW_IO} is stopped (desiredPhase Stop: paused or its duration over) (seen so for 10 min) and has not recovered its actions`);
    expect(nonZero(paused, ['io'])).toEqual([{ kind: 'io', state: 'leftover', count: 1 }]);
  });

  it('two IOChaos on the volume, one gone: toda stays present (the running one still wants it); both gone: leftover naming both', () => {
    const both = pio([SLOW_IO, 'shop/io-fault']);
    expect(rows(run({ io: both, experiments: [experiment('IOChaos', SLOW_IO)] }, [TODA], seenAt(NOW - 60))))
      .toEqual([['present', 'process', 'toda', ['shop/io-fault', SLOW_IO], true, ['io']]]);
    const gone = run({ io: both }, [TODA], seenAt(NOW - 60));
    expect(rows(gone)).toEqual([['leftover', 'process', 'toda', ['shop/io-fault', SLOW_IO], true, ['io']]]);
    expect(gone.entries[0]!.detail).toContain('but IOChaos shop/io-fault no longer exists (seen so for 60 s): it was deleted without recovering its actions (a forced delete removes the finalizer without recovery); IOChaos shop/slow-io no longer exists');
  });

  it('a NetworkChaos of the same name does not stand in for the IOChaos', () => {
    const d = run({ io: pio([SLOW_IO]), experiments: [experiment('NetworkChaos', SLOW_IO)] }, [TODA], seenAt(NOW - 60));
    expect(d.entries[0]).toMatchObject({ state: 'leftover', owners: [SLOW_IO] });
  });

  it('gone, and toda not running: stale, not drift; with the owner running it is missing', () => {
    const d = run({ io: pio([SLOW_IO]), experiments: [experiment('IOChaos', SLOW_IO, { desiredPhase: 'Stop' })] }, [], seenAt(NOW - 60));
    expect(rows(d)).toEqual([['stale', 'process', 'toda', [SLOW_IO], false, []]]);
    expect(d.entries[0]!.detail).toBe(`PodIOChaos shop/web still lists its actions and records toda pid 888 (status.pid), but IOChaos ${SLOW_IO} is stopped (desiredPhase Stop: paused or its duration over) (seen so for 60 s) and has not recovered its actions; it is not running, and chaos-daemon would start it again on the next apply of PodIOChaos shop/web`);
    expect(d.counts).toMatchObject({ stale: 1, missing: 0 });
    expect(nonZero(d, ['io'])).toEqual([]);
    expect(run({ io: pio([SLOW_IO]), experiments: [experiment('IOChaos', SLOW_IO)] }, [], seenAt(NOW - 60)).entries[0]!.state).toBe('missing');
  });

  it('a toda nothing records: a leftover with no owner, now with its kind (counted)', () => {
    const d = run({ io: pio([SLOW_IO], null), experiments: [experiment('IOChaos', SLOW_IO)] }, [TODA], seenAt(NOW - 60));
    expect(rows(d)).toEqual([['leftover', 'process', 'toda', [], true, ['io']]]);
    expect(nonZero(d, ['io'])).toEqual([{ kind: 'io', state: 'leftover', count: 1 }]);
  });
});

describe('PodHttpChaos rules: their HTTPChaos owns the proxy and tproxy', () => {
  it('running: the proxy and tproxy present and owned; the http findings name the HTTPChaos', () => {
    const d = run({ http: phc([ABORT]), experiments: [experiment('HTTPChaos', ABORT)] }, [TPROXY, PROXY], seenAt(NOW - 3600));
    expect(rows(d)).toEqual([
      ['present', 'http', 'transparent proxy', [ABORT], true, ['http']],
      ['present', 'process', 'tproxy', [ABORT], true, ['http']],
    ]);
    expect(d.kindOwners).toEqual({ http: [ABORT] });
    expect(nonZero(d, ['http'])).toEqual([]);
  });

  it('absent (force-deleted) past the grace: the proxy and tproxy are leftovers named after it, counted', () => {
    const d = run({ http: phc([ABORT]) }, [TPROXY, PROXY], seenAt(NOW - 60));
    expect(rows(d)).toEqual([
      ['leftover', 'http', 'transparent proxy', [ABORT], true, ['http']],
      ['leftover', 'process', 'tproxy', [ABORT], true, ['http']],
    ]);
    const why = `HTTPChaos ${ABORT} no longer exists (seen so for 60 s): it was deleted without recovering its rules (a forced delete removes the finalizer without recovery)`;
    expect(d.entries.map((e) => e.detail)).toEqual([
      `transparent proxy is in the kernel for PodHttpChaos shop/web's rules, but ${why}`,
      `tproxy pid 777 runs for PodHttpChaos shop/web's rules, but ${why}`,
    ]);
    expect(nonZero(d, ['http'])).toEqual([{ kind: 'http', state: 'leftover', count: 2 }]);
  });

  it('stopped past the grace with no proxy running: the idle tproxy -i is an inert leftover (not counted)', () => {
    const d = run({ http: phc([ABORT]), experiments: [experiment('HTTPChaos', ABORT, { desiredPhase: 'Stop' })] }, [TPROXY], seenAt(NOW - 60));
    expect(rows(d)).toEqual([['leftover', 'process', 'tproxy', [ABORT], false, []]]);
    expect(d.entries[0]!.detail).toContain(`but HTTPChaos ${ABORT} is stopped (desiredPhase Stop: paused or its duration over) (seen so for 60 s) and has not recovered its rules`);
    expect(nonZero(d, ['http'])).toEqual([]);
  });

  it("Chaos Mesh 2.0-2.1's proxy chains in the pod's own mangle table: owned by the rules, leftovers once the HTTPChaos is gone", () => {
    const mangle = '*mangle\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:CHAOS_PROXY_PREROUTING - [0:0]\n' +
      '-A PREROUTING -p tcp -m tcp --dport 30000:65535 -j CHAOS_PROXY_PREROUTING\n' +
      '-A CHAOS_PROXY_PREROUTING -p tcp -j TPROXY --on-port 58080 --on-ip 0.0.0.0 --tproxy-mark 0x1/0xffffffff\nCOMMIT\n';
    const kernel = state({ iptables: [iptables(mangle, 'legacy')], ipRules: ['32765:\tfrom all fwmark 0x1 lookup 100'] });
    const chains = (d: PodDrift) => d.entries.filter((e) => e.artefact === 'chain').map((e) => [e.state, e.name, e.owners, e.active]);
    expect(chains(run({ http: phc([ABORT]), experiments: [experiment('HTTPChaos', ABORT)], kernel }, [], seenAt(NOW - 60))))
      .toEqual([['present', 'CHAOS_PROXY_PREROUTING', [ABORT], true]]);
    const gone = run({ http: phc([ABORT]), kernel }, [], seenAt(NOW - 60));
    expect(chains(gone)).toEqual([['leftover', 'CHAOS_PROXY_PREROUTING', [ABORT], true]]);
    expect(gone.entries.find((e) => e.artefact === 'chain')!.detail).toBe(`CHAOS_PROXY_PREROUTING (legacy ipv4 mangle) is in the kernel for PodHttpChaos shop/web's rules, but HTTPChaos ${ABORT} no longer exists (seen so for 60 s): it was deleted without recovering its rules (a forced delete removes the finalizer without recovery)`);
  });

  it('being deleted within the grace: present', () => {
    const d = run({ http: phc([ABORT]), experiments: [experiment('HTTPChaos', ABORT, { deleting: true })] }, [TPROXY, PROXY], seenAt(NOW - 5));
    expect(d.entries.map((e) => e.state)).toEqual(['present', 'present']);
  });
});

/**
 * Their apply state, as for a PodNetworkChaos: chaos-daemon's controllers (controllers/podhttpchaos, podiochaos)
 * write observedGeneration and failedMessage after each apply. A recorded process that is not running while the
 * object's generation is unapplied is pending; after a failed apply it is failed, with the message.
 */
describe('PodHttpChaos / PodIOChaos apply state', () => {
  const RPC = 'failed to apply for pod shop/web: rpc error: code = Unknown desc = toda exited';
  it('PodIOChaos whose last apply failed: the recorded toda not running is failed, with the message; counted failed', () => {
    const d = run({ io: pio([SLOW_IO], 888, { failedMessage: RPC }), experiments: [experiment('IOChaos', SLOW_IO)] }, [], seenAt(NOW - 60));
    expect(rows(d)).toEqual([['failed', 'process', 'toda', [SLOW_IO], false, ['io']]]);
    expect(d.entries[0]!.detail).toMatch(new RegExp(`\\(chaos-daemon's last apply of PodIOChaos shop/web generation 2 failed: ${RPC}\\)$`));
    expect(d.counts).toMatchObject({ failed: 1, missing: 0 });
    expect(nonZero(d, [])).toEqual([{ kind: 'io', state: 'failed', count: 1 }]);
    // The same object applied since: the message is gone, the process is plain drift, counted as missing io.
    const plain = run({ io: pio([SLOW_IO]), experiments: [experiment('IOChaos', SLOW_IO)] }, [], seenAt(NOW - 60));
    expect(plain.entries[0]!.state).toBe('missing');
    expect(nonZero(plain, [])).toEqual([{ kind: 'io', state: 'missing', count: 1 }]);
  });

  it('PodHttpChaos with a generation not applied yet: tproxy not running is pending; past the pending limit it is drift again, saying since when', () => {
    const o = { http: phc([ABORT], { generation: 4, observedGeneration: 3, failedMessage: RPC }), experiments: [experiment('HTTPChaos', ABORT)] };
    const pending = run(o, [], seenAt(NOW - 30));
    expect(rows(pending)).toEqual([['pending', 'process', 'tproxy', [ABORT], false, ['http']]]);
    expect(nonZero(pending, [])).toEqual([]); // pending is not drift
    expect(pending.entries[0]!.detail).toMatch(new RegExp(`\\(pending: PodHttpChaos shop/web generation 4 is not applied yet, observed 3; the previous apply failed: ${RPC}\\)$`));
    const overdue = run(o, [], seenAt(NOW - 600));
    expect(overdue.entries[0]!.state).toBe('missing');
    expect(nonZero(overdue, [])).toEqual([{ kind: 'http', state: 'missing', count: 1 }]);
    expect(overdue.entries[0]!.detail).toMatch(/\(PodHttpChaos shop\/web generation 4 has not been applied for 10 min: observed 3\)$/);
  });

  it('each object explains only its own entries: a pending PodHttpChaos leaves the PodIOChaos\' missing toda missing', () => {
    const d = run({ http: phc([ABORT], { generation: 4 }), io: pio([SLOW_IO]), experiments: [experiment('HTTPChaos', ABORT), experiment('IOChaos', SLOW_IO)] }, [], seenAt(NOW - 30));
    expect(d.entries.map((e) => [e.name, e.state])).toEqual([['tproxy', 'pending'], ['toda', 'missing']]);
  });

  it('the serve source tracks since when each is pending, apart from the PodNetworkChaos of the same pod', () => {
    const http = [normalisePodHttpChaos(phc([ABORT], { generation: 4 }))!];
    const io = [normalisePodIoChaos(pio([SLOW_IO], 888, { generation: 3 }))!];
    const network = [normalisePodNetworkChaos({ metadata: { namespace: 'shop', name: 'web', generation: 2 }, spec: {}, status: { observedGeneration: 1 } })!];
    const experiments = [experiment('HTTPChaos', ABORT), experiment('IOChaos', SLOW_IO)];
    const keys = new IntentView({ network, http, io, experiments }, SYNCED).conditionKeys();
    expect(keys.sort()).toEqual([pendingKey('shop', 'web'), pendingKey('shop', 'web', 'PodHttpChaos'), pendingKey('shop', 'web', 'PodIOChaos')].sort());
    expect(new Set(keys).size).toBe(3);
    const since = new Map([[pendingKey('shop', 'web'), NOW - 10], [pendingKey('shop', 'web', 'PodHttpChaos'), NOW - 20], [pendingKey('shop', 'web', 'PodIOChaos'), NOW - 30]]);
    const pod = new IntentView({ network, http, io, experiments }, SYNCED, (k) => since.get(k) ?? null).pod('shop', 'web');
    expect([pod.networkPendingSince, pod.httpPendingSince, pod.ioPendingSince]).toEqual([NOW - 10, NOW - 20, NOW - 30]);
  });
});

describe('the HTTPChaos / IOChaos conditions the serve source tracks, and the view', () => {
  const io = [normalisePodIoChaos(pio([SLOW_IO, 'shop/io-del']))!];
  const http = [normalisePodHttpChaos(phc([ABORT, 'shop/delay']))!];
  const network = [normalisePodNetworkChaos({ metadata: { namespace: 'shop', name: 'web', generation: 1 }, spec: { tcs: [{ type: 'netem', source: SLOW_IO, delay: { latency: '10ms' } }] }, status: { observedGeneration: 1 } })!];
  const experiments = [experiment('IOChaos', 'shop/io-del', { deleting: true }), experiment('HTTPChaos', 'shop/delay', { desiredPhase: 'Stop' }), experiment('NetworkChaos', SLOW_IO)];

  it('keys per kind: an IOChaos absent beside a running NetworkChaos of the same name', () => {
    expect(new IntentView({ network, http, io, experiments }, SYNCED).conditionKeys().sort()).toEqual([
      ownerKey(ABORT, 'absent', 'HTTPChaos'), ownerKey('shop/delay', 'stopped', 'HTTPChaos'),
      ownerKey('shop/io-del', 'deleting', 'IOChaos'), ownerKey(SLOW_IO, 'absent', 'IOChaos'),
    ].sort());
    expect(ownerKey(SLOW_IO, 'absent', 'IOChaos')).not.toBe(ownerKey(SLOW_IO, 'absent'));
  });

  it('the view gives each pod its HTTPChaos and IOChaos owners with their since-times; inspect names the absent ones', () => {
    const since = new Map([[ownerKey(SLOW_IO, 'absent', 'IOChaos'), NOW - 50]]);
    const view = new IntentView({ network, http, io, experiments }, SYNCED, (k) => since.get(k) ?? null);
    const pod = view.pod('shop', 'web');
    expect(pod.owners).toEqual([{ ref: SLOW_IO, condition: 'running', since: null }]);
    expect(pod.ioOwners).toEqual([{ ref: 'shop/io-del', condition: 'deleting', since: null }, { ref: SLOW_IO, condition: 'absent', since: NOW - 50 }]);
    expect(pod.httpOwners).toEqual([{ ref: ABORT, condition: 'absent', since: null }, { ref: 'shop/delay', condition: 'stopped', since: null }]);
    expect(intentSummary(SYNCED, pod)).toMatch(/; HTTPChaos shop\/abort: absent; IOChaos shop\/slow-io: absent$/);
  });

  it('attachIntent carries it to the pod report: the toda of a force-deleted IOChaos is a leftover there too', () => {
    const view = new IntentView({ network: [], http: [], io: [normalisePodIoChaos(pio([SLOW_IO]))!], experiments: [] }, SYNCED);
    const f = facts([TODA]);
    const report = { namespace: 'shop', name: 'web', ...state(), chaos: mergeProcReport(fingerprint(state()), f, POD), proc: f } as unknown as PodReport;
    attachIntent([report], view, undefined, NOW);
    expect(report.drift!.entries.map((e) => [e.state, e.name, e.owners])).toEqual([['leftover', 'toda', [SLOW_IO]]]);
  });
});
