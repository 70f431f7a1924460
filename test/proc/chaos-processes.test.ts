import { describe, expect, it } from 'vitest';
import { findChaosProcesses, roleOf } from '../../agent/proc/chaos-processes.js';
import { buildPodIndex, ownerOfCgroupPath, placeProcess } from '../../agent/proc/pod-match.js';
import { cgroupsAt, ctr, pod, proc, scanOf } from './fixtures.js';
import { C_APP, C_DAEMON, C_MAIN, nodePods, nodeScan, SB_API, SB_DAEMON, SB_WEB } from './node-fixture.js';

describe('pod matching', () => {
  const scan = nodeScan();
  const index = buildPodIndex(scan, nodePods());

  it('indexes namespaces per pod: a pid ns shared by sandbox and container names the pod, mnt names the container', () => {
    expect(index.ns.pid.get(500)).toEqual({ sandboxId: SB_WEB, containerId: null });
    expect(index.ns.mnt.get(701)).toEqual({ sandboxId: SB_WEB, containerId: C_APP });
    expect(index.ns.pid.get(510)).toEqual({ sandboxId: SB_API, containerId: C_MAIN });
    expect(index.ns.net.get(610)).toEqual({ sandboxId: SB_API, containerId: null });
  });

  it("never uses the agent's own namespaces (host-PID / host-network pods share them with every host process)", () => {
    expect(index.ns.pid.get(4026531836)).toBeNull();
    expect(index.ns.net.get(4026531840)).toBeNull();
    const host = scan.processes.get(402)!;
    expect(placeProcess(index, host)).toEqual({ cgroup: null, namespaces: null });
  });

  it('a namespace held by two pods identifies neither', () => {
    const pods = [pod('a', 'sa', 1, [ctr('x', 'cx', 2)]), pod('b', 'sb', 3, [ctr('y', 'cy', 4)])];
    const s = scanOf([
      proc({ pid: 1, comm: 'pause', ns: { pid: 11, net: 21, mnt: 31 } }), proc({ pid: 2, comm: 'x', ns: { pid: 77, net: 21, mnt: 32 } }),
      proc({ pid: 3, comm: 'pause', ns: { pid: 13, net: 23, mnt: 33 } }), proc({ pid: 4, comm: 'y', ns: { pid: 77, net: 23, mnt: 34 } }),
    ]);
    const i = buildPodIndex(s, pods);
    expect(i.ns.pid.get(77)).toBeNull();
    expect(placeProcess(i, proc({ pid: 9, comm: 'toda', ns: { pid: 77, net: 1, mnt: 1 } })).namespaces).toBeNull();
  });

  it('reads container IDs and pod UIDs from cgroupfs, systemd and plain containerd paths', () => {
    const uid = nodePods()[0]!.uid;
    expect(ownerOfCgroupPath(index, `/kubepods/besteffort/pod${uid}/${C_APP}`)).toEqual({ sandboxId: SB_WEB, containerId: C_APP });
    expect(ownerOfCgroupPath(index, `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-${C_APP}.scope`))
      .toEqual({ sandboxId: SB_WEB, containerId: C_APP });
    expect(ownerOfCgroupPath(index, `/kubepods/burstable/pod${uid}`)).toEqual({ sandboxId: SB_WEB, containerId: null });
    expect(ownerOfCgroupPath(index, `/k8s.io/${SB_WEB}`)).toEqual({ sandboxId: SB_WEB, containerId: null });
    expect(ownerOfCgroupPath(index, `/../../system.slice/containerd.service`)).toBeNull();
  });
});

describe('chaos processes', () => {
  const found = findChaosProcesses(nodeScan(), buildPodIndex(nodeScan(), nodePods()));
  const byPid = new Map(found.map((p) => [p.pid, p]));

  it('finds exactly the chaos processes placed on a pod (host processes named toda or stress-ng are not)', () => {
    // Sorted by sandbox ID (web's is a..., api's c...), then pid.
    expect(found.map((p) => [p.pid, p.role, p.sandboxId === SB_WEB ? 'web' : p.sandboxId === SB_API ? 'api' : '?'])).toEqual([
      [312, 'toda', 'web'], [316, 'stress-ng', 'web'],
      [314, 'tproxy', 'api'], [315, 'tproxy-proxy', 'api'], [319, 'memStress', 'api'],
    ]);
  });

  it('toda: placed by the pid and mount namespaces it entered, with its bpm identifier and volume', () => {
    expect(byPid.get(312)).toMatchObject({
      kind: 'io', containerId: C_APP, via: ['pid-ns', 'mnt-ns'], bpmIdentifier: `toda-${C_APP}`, volume: '/data',
      launchedBy: { pid: 310, comm: 'chaos-daemon' }, cgroup: `/k8s.io/${C_DAEMON}`, startTimeMs: 1_700_000_000_000 + 13120,
    });
  });

  it('tproxy -i: placed by pid + net namespace; its --proxy child too', () => {
    expect(byPid.get(314)).toMatchObject({ kind: 'http', containerId: C_MAIN, via: ['pid-ns', 'net-ns'], bpmIdentifier: `tproxy-${C_MAIN}` });
    expect(byPid.get(315)).toMatchObject({ role: 'tproxy-proxy', via: ['pid-ns'], bpmIdentifier: null });
  });

  it('stress-ng and memStress: placed by the cgroup they were moved into; workers counted, not listed', () => {
    expect(byPid.get(316)).toMatchObject({ kind: 'stress', containerId: C_APP, via: ['cgroup'], workers: 1, cgroup: `/k8s.io/${C_APP}` });
    expect(byPid.has(317)).toBe(false);
    expect(byPid.get(319)).toMatchObject({ kind: 'stress', containerId: C_MAIN, via: ['cgroup', 'pid-ns'] });
  });

  it('the sandbox of the daemon pod is never a target', () => {
    expect(found.some((p) => p.sandboxId === SB_DAEMON)).toBe(false);
  });

  it('roles need the comm and, when read, argv[0]', () => {
    expect(roleOf({ comm: 'toda', cmdline: ['/usr/local/bin/toda'] }, 'nsexec')).toBe('toda');
    expect(roleOf({ comm: 'toda', cmdline: ['/bin/sh', 'toda'] }, null)).toBeNull();
    expect(roleOf({ comm: 'toda', cmdline: null }, null)).toBe('toda');
    expect(roleOf({ comm: 'stress-ng-vm', cmdline: ['stress-ng-vm [run]'] }, 'stress-ng')).toBeNull();
    expect(roleOf({ comm: 'stress-ng', cmdline: ['stress-ng', '--vm', '1'] }, 'chaos-daemon')).toBe('stress-ng');
    expect(roleOf({ comm: 'tproxy', cmdline: ['tproxy', '-vv', '--proxy'] }, 'tproxy')).toBe('tproxy-proxy');
  });

  it('a process whose cgroup names no known container but whose pid ns is a pod container is still placed', () => {
    const s = scanOf([proc({ pid: 210, comm: 'api', ns: { pid: 510, net: 610, mnt: 711 }, cgroups: cgroupsAt(`/k8s.io/${C_MAIN}`) }),
      proc({ pid: 5, comm: 'memStress', ns: { pid: 510, net: 1, mnt: 2 }, cgroups: cgroupsAt('/other') })]);
    const r = findChaosProcesses(s, buildPodIndex(s, [pod('api', SB_API, null, [ctr('main', C_MAIN, 210)])]));
    expect(r.map((p) => [p.pid, p.via, p.containerId])).toEqual([[5, ['pid-ns'], C_MAIN]]);
  });
});
