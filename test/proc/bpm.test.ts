import { describe, expect, it } from 'vitest';
import { bpmFromScan, isDaemonPod } from '../../agent/proc/bpm.js';
import { buildPodIndex } from '../../agent/proc/pod-match.js';
import { cgroupsAt, proc, scanOf } from './fixtures.js';
import { C_DAEMON, nodePods, nodeProcesses, SB_DAEMON } from './node-fixture.js';

describe("bpm, rooted in chaos-daemon's own pod", () => {
  it('counts the background processes of the daemon in its pod, identified ones (toda, tproxy) as controlled', () => {
    const scan = scanOf(nodeProcesses());
    const r = bpmFromScan(scan, nodePods(), buildPodIndex(scan, nodePods()));
    expect(r.daemons).toEqual([{ pid: 310, sandboxId: SB_DAEMON, pod: 'chaos-mesh/chaos-daemon-x' }]);
    expect(r.background.map((b) => [b.pid, b.command, b.identified])).toEqual([
      [311, 'toda', true], [313, 'tproxy', true], [316, 'stress-ng', false], [318, 'memStress', false],
    ]);
    expect(r.controlled).toBe(2);
    expect([...r.byCommand]).toEqual([['toda', 1], ['tproxy', 1], ['stress-ng', 1], ['memStress', 1]]);
    expect(r.impostors).toEqual([400]);
  });

  it('an impostor named chaos-daemon with toda children counts for nothing', () => {
    const procs = [
      ...nodeProcesses(),
      proc({ pid: 401, ppid: 400, comm: 'toda', cmdline: ['toda', '--path', '/x'] }),
      proc({ pid: 405, ppid: 1, comm: 'chaos-daemon', cmdline: ['chaos-daemon'] }),
      proc({ pid: 406, ppid: 405, comm: 'tproxy', cmdline: ['tproxy', '-i'] }),
    ];
    const scan = scanOf(procs);
    const r = bpmFromScan(scan, nodePods(), buildPodIndex(scan, nodePods()));
    expect(r.controlled).toBe(2);
    expect(r.impostors).toEqual([400, 405]);
  });

  it('without the Chaos Mesh label (or without a chaos-daemon container) the pod is not chaos-daemon\'s', () => {
    const pods = nodePods();
    const unlabelled = pods.map((p) => (p.sandboxId === SB_DAEMON ? { ...p, labels: { app: 'chaos-daemon' } } : p));
    expect(isDaemonPod(pods[2]!)).toBe(true);
    expect(isDaemonPod(unlabelled[2]!)).toBe(false);
    expect(isDaemonPod({ ...pods[2]!, containers: [{ ...pods[2]!.containers[0]!, name: 'daemon' }] })).toBe(false);
    const scan = scanOf(nodeProcesses());
    const r = bpmFromScan(scan, unlabelled, buildPodIndex(scan, unlabelled));
    expect(r).toMatchObject({ daemons: [], background: [], controlled: 0 });
    expect(r.impostors).toEqual([310, 400]);
  });

  it('a child whose tool only its unread command line could tell is reported unknown, not counted as nothing', () => {
    // A `pause` not yet resumed (no child yet): only its argv says what it will run.
    const procs = [...nodeProcesses(), proc({ pid: 320, ppid: 310, comm: 'pause', cmdline: null })];
    const unread = new Map([[320, { reason: 'timeout' as const, message: 'its command line was not read within 1000 ms' }]]);
    const scan = scanOf(procs, { cmdlineUnread: unread });
    const r = bpmFromScan(scan, nodePods(), buildPodIndex(scan, nodePods()));
    expect([r.unknown, r.background.map((b) => b.pid)]).toEqual([[320], [311, 313, 316, 318]]);
    // The same process with its command line read and naming no tool: neither counted nor unknown.
    const known = scanOf(procs);
    expect(bpmFromScan(known, nodePods(), buildPodIndex(known, nodePods())).unknown).toEqual([]);
  });

  it('a daemon process found by its cgroup (the container PID is a wrapper) is a root too', () => {
    const procs = nodeProcesses().map((p) => (p.pid === 310 ? { ...p, comm: 'tini' } : p));
    procs.push(proc({ pid: 330, ppid: 310, comm: 'chaos-daemon', cgroups: cgroupsAt(`/k8s.io/${C_DAEMON}`) }));
    procs.push(proc({ pid: 331, ppid: 330, comm: 'pause', cmdline: ['/usr/local/bin/pause', 'stress-ng', '--cpu', '1'] }));
    const scan = scanOf(procs);
    const r = bpmFromScan(scan, nodePods(), buildPodIndex(scan, nodePods()));
    expect(r.daemons.map((d) => d.pid)).toEqual([330]);
    // A stressor still paused is labelled from its argv.
    expect(r.background.map((b) => [b.pid, b.command])).toEqual([[331, 'stress-ng']]);
  });
});
