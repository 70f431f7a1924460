import { describe, expect, it } from 'vitest';
import { mergeProcReport, procErrors, procFindings } from '../../agent/chaos/processes.js';
import type { ChaosReport } from '../../agent/chaos/types.js';
import { findChaosProcesses } from '../../agent/proc/chaos-processes.js';
import { emptyPodProcFacts, markIncomplete, type PodProcFacts } from '../../agent/proc/model.js';
import { buildPodIndex } from '../../agent/proc/pod-match.js';
import { C_APP, nodePods, nodeScan, SB_API, SB_WEB } from '../proc/node-fixture.js';

const [WEB, API] = nodePods();
const clean: ChaosReport = { verdict: 'clean', kinds: [], findings: [], details: [] };
const partition: ChaosReport = {
  verdict: 'active', kinds: ['partition'], findings: ['OUTPUT/web-p_x drops eth0 traffic'],
  details: [{ kind: 'partition', level: 'active', message: 'OUTPUT/web-p_x drops eth0 traffic' }],
};

function factsOf(sandboxId: string): PodProcFacts {
  const f = emptyPodProcFacts(sandboxId);
  const scan = nodeScan();
  f.processes = findChaosProcesses(scan, buildPodIndex(scan, nodePods())).filter((p) => p.sandboxId === sandboxId);
  return f;
}

describe('findings from /proc facts', () => {
  it('web: toda (io) and stress-ng (stress) are active, with their evidence', () => {
    const f = procFindings(factsOf(SB_WEB), WEB!);
    expect(f.map((x) => [x.kind, x.level])).toEqual([['io', 'active'], ['stress', 'active']]);
    expect(f[0]!.message).toBe(
      'toda injects IOChaos into container app on /data: /usr/local/bin/toda --path /data --verbose info '
      + `(pid 312, started ${new Date(1_700_000_013_120).toISOString()}, via pid-ns+mnt-ns, cgroup /k8s.io/${'f'.repeat(64)}, launched by chaos-daemon pid 310)`,
    );
    expect(f[1]!.message).toMatch(/^stress-ng stresses container app with 1 worker \(StressChaos\): stress-ng --cpu 1 --cpu-load 50 \(pid 316, .*via cgroup, cgroup \/k8s\.io\/b{64}/);
  });

  it('api: a tproxy -i with its proxy running is active http; memStress is active stress', () => {
    const f = procFindings(factsOf(SB_API), API!);
    expect(f.map((x) => [x.kind, x.level, x.message.split(':')[0]])).toEqual([
      ['http', 'active', 'tproxy -i controls an HTTPChaos proxy in container main'],
      ['http', 'active', 'tproxy --proxy intercepts HTTP for container main (HTTPChaos)'],
      ['stress', 'active', "memStress stresses container main's memory (StressChaos)"],
    ]);
  });

  it('an idle tproxy -i (what HTTPChaos recovery leaves) is scaffolding', () => {
    const f = factsOf(SB_API);
    f.processes = f.processes.filter((p) => p.role === 'tproxy');
    const r = mergeProcReport(clean, f, API!);
    expect(r.verdict).toBe('scaffolding');
    expect(r.findings[0]).toMatch(/^idle tproxy -i left by HTTPChaos in container main \(Chaos Mesh does not stop it on recovery; no proxy running\)/);
  });

  it('IOChaos mounts: a toda FUSE mount is active; a volume still moved away without one is active (failed recovery)', () => {
    const f = emptyPodProcFacts(SB_WEB);
    f.mounts = [
      { container: 'app', containerId: C_APP, volume: '/data', fuse: { mountId: 310, fstype: 'fuse', source: 'toda' }, movedTo: '/__chaosfs__data__' },
      { container: 'app', containerId: C_APP, volume: '/logs', fuse: null, movedTo: '/__chaosfs__logs__' },
    ];
    expect(procFindings(f, WEB!).map((x) => [x.kind, x.level, x.message])).toEqual([
      ['io', 'active', 'container app: /data is a toda FUSE mount (IOChaos, fuse source toda); the volume is moved to /__chaosfs__data__'],
      ['io', 'active', 'container app: the volume of /logs is still moved to /__chaosfs__logs__ with no toda mount on /logs (failed IOChaos recovery: the application sees the bare mount point)'],
    ]);
  });

  it('DNS: different nameservers active (both lists named), equal ones scaffolding', () => {
    const f = emptyPodProcFacts(SB_WEB);
    f.dns = [
      { container: 'app', containerId: C_APP, pid: 110, state: 'active', nameservers: ['10.96.99.53'], backupNameservers: ['10.96.0.10'] },
      { container: 'side', containerId: 'x', pid: 111, state: 'scaffolding', nameservers: ['10.96.0.10'], backupNameservers: ['10.96.0.10'] },
      { container: 'none', containerId: 'y', pid: 112, state: 'none', nameservers: ['10.96.0.10'], backupNameservers: null },
    ];
    expect(procFindings(f, WEB!).map((x) => [x.kind, x.level, x.message])).toEqual([
      ['dns', 'active', "container app: /etc/resolv.conf nameservers 10.96.99.53 differ from /etc/resolv.conf.chaos.bak's 10.96.0.10 (DNSChaos)"],
      ['dns', 'scaffolding', 'container side: /etc/resolv.conf.chaos.bak left by a recovered DNSChaos (same nameservers: 10.96.0.10)'],
    ]);
  });

  it('JVM: jars + listener active (owner named), jars alone scaffolding', () => {
    const f = emptyPodProcFacts(SB_WEB);
    f.jvm = [
      { container: 'app', containerId: C_APP, pid: 110, state: 'active', jars: ['byteman.jar', 'chaos-agent.jar'], listeners: [{ address: '127.0.0.1', port: 9277, inode: 5, owner: { pid: 110, comm: 'java' } }] },
      { container: 'b', containerId: 'x', pid: 111, state: 'scaffolding', jars: ['byteman.jar'], listeners: [] },
    ];
    const out = procFindings(f, WEB!);
    expect(out.map((x) => [x.kind, x.level])).toEqual([['jvm', 'active'], ['jvm', 'scaffolding']]);
    expect(out[0]!.message).toMatch(/^container app: Byteman agent listening on 127\.0\.0\.1:9277 \(java pid 110\) with byteman\.jar, chaos-agent\.jar/);
  });
});

describe('merging into the network verdict', () => {
  it('active on either side is active, kinds merged and sorted, network findings first', () => {
    const r = mergeProcReport(partition, factsOf(SB_WEB), WEB!);
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['io', 'partition', 'stress']);
    expect(r.findings[0]).toBe('OUTPUT/web-p_x drops eth0 traffic');
    expect(r.details).toHaveLength(3);
  });

  it('an incomplete /proc source makes a clean pod unknown, never clean; an active one stays active', () => {
    const f = emptyPodProcFacts(SB_WEB);
    markIncomplete(f, 'dns', { reason: 'absolute-symlink', container: 'app', message: '/etc/resolv.conf.chaos.bak: /etc -> /host/etc: absolute symlink refused' });
    expect(mergeProcReport(clean, f, WEB!).verdict).toBe('unknown');
    expect(mergeProcReport(partition, f, WEB!).verdict).toBe('active');
    expect(procErrors(f)).toEqual(['dns: /etc/resolv.conf.chaos.bak: /etc -> /host/etc: absolute symlink refused (absolute-symlink)']);
  });

  it('no facts at all (scan failed): unknown with the reason, unless the network side is active', () => {
    expect(mergeProcReport(clean, null, WEB!, 'EACCES')).toMatchObject({ verdict: 'unknown', kinds: [], findings: ['not inspected: EACCES'] });
    expect(mergeProcReport(partition, null, WEB!).verdict).toBe('active');
  });

  it('a network `unknown` pod with an active process is active', () => {
    const unread: ChaosReport = { verdict: 'unknown', kinds: [], findings: ['not inspected: netns unresolved'], details: [] };
    const r = mergeProcReport(unread, factsOf(SB_WEB), WEB!);
    expect(r.verdict).toBe('active');
    expect(r.findings).toContain('not inspected: netns unresolved');
  });
});

describe('a container in another network namespace than its pod\'s (not read)', () => {
  const moved = (): PodProcFacts => {
    const f = emptyPodProcFacts(SB_WEB);
    f.otherNetns = [{ container: 'app', pid: 110, net: 4026532700, sandboxNet: 4026532900 }];
    return f;
  };
  const NOTE = 'container app (pid 110) is in another network namespace (net:[4026532700]) than its sandbox\'s (net:[4026532900]): not read';

  it('makes a clean read unknown and counts among the errors', () => {
    expect(mergeProcReport(clean, moved(), WEB!).verdict).toBe('unknown');
    expect(mergeProcReport(clean, moved(), WEB!).kinds).toEqual([]);
    expect(procErrors(moved())).toEqual([NOTE]);
  });

  it('leaves an active read active (presence is proven), and an empty list changes nothing', () => {
    expect(mergeProcReport(partition, moved(), WEB!).verdict).toBe('active');
    const none = emptyPodProcFacts(SB_WEB);
    none.otherNetns = [];
    expect(mergeProcReport(clean, none, WEB!).verdict).toBe('clean');
  });
});

