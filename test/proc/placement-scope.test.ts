import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { findChaosProcesses } from '../../agent/proc/chaos-processes.js';
import { emptyPodProcFacts } from '../../agent/proc/model.js';
import { buildPodIndex } from '../../agent/proc/pod-match.js';
import { otherPodsMatter } from '../../agent/proc/placement-scope.js';
import type { ProcProcess, ProcScan } from '../../agent/proc/scan.js';
import type { PodInfo } from '../../agent/runtime/types.js';
import { cgroupsAt, ctr, HEX, pod, proc, scanOf } from './fixtures.js';
import { nodePods, nodeProcesses, SB_WEB } from './node-fixture.js';

/** The listing `inspect NS/POD` works from: every pod listed, only `keep` resolved. */
function partial(pods: PodInfo[], keep: string): PodInfo[] {
  return pods.map((p) => (p.sandboxId === keep ? p : {
    ...p, pid: null, netns: null, hostNetwork: false, unresolvedByRequest: true as const, containers: p.containers.map((c) => ({ ...c, pid: null })),
  }));
}

const chaosOf = (scan: ProcScan, pods: PodInfo[], sandboxId: string) => findChaosProcesses(scan, buildPodIndex(scan, pods)).filter((p) => p.sandboxId === sandboxId);

describe('otherPodsMatter: whether the pods read can be placed without the others', () => {
  it('a chaos process in a namespace of the pod read (toda in web/app): every pod is needed', () => {
    const scan = scanOf(nodeProcesses());
    expect(otherPodsMatter(scan, buildPodIndex(scan, partial(nodePods(), SB_WEB)), [])).toBe('toda (pid 312) is in a namespace of a pod read');
  });

  it("none in its namespaces (a stress-ng in its cgroup, others' chaos elsewhere): not needed, and the facts are the same", () => {
    const scan = scanOf(nodeProcesses().filter((p) => p.pid !== 312));
    const index = buildPodIndex(scan, partial(nodePods(), SB_WEB));
    expect(otherPodsMatter(scan, index, [emptyPodProcFacts(SB_WEB)])).toBeNull();
    const mine = chaosOf(scan, partial(nodePods(), SB_WEB), SB_WEB);
    expect(mine.map((p) => [p.pid, p.role, p.via])).toEqual([[316, 'stress-ng', ['cgroup']]]);
    expect(mine).toEqual(chaosOf(scan, nodePods(), SB_WEB));
  });

  it('a namespace the pod read shares with an unresolved pod: the partial placement would be wrong, and the check says so', () => {
    const pods = [pod('a', HEX('1'), 1, [ctr('x', HEX('2'), 2)]), pod('b', HEX('3'), 3, [ctr('y', HEX('4'), 4)])];
    const scan = scanOf([
      proc({ pid: 1, comm: 'pause', ns: { pid: 11, net: 21, mnt: 31 } }), proc({ pid: 2, comm: 'x', ns: { pid: 77, net: 21, mnt: 32 } }),
      proc({ pid: 3, comm: 'pause', ns: { pid: 13, net: 23, mnt: 33 } }), proc({ pid: 4, comm: 'y', ns: { pid: 77, net: 23, mnt: 34 } }),
      proc({ pid: 9, comm: 'toda', ns: { pid: 77, net: 1, mnt: 1 } }),
    ]);
    const part = partial(pods, HEX('1'));
    expect(chaosOf(scan, part, HEX('1')).map((p) => p.pid)).toEqual([9]);
    expect(chaosOf(scan, pods, HEX('1'))).toEqual([]);
    expect(otherPodsMatter(scan, buildPodIndex(scan, part), [])).not.toBeNull();
  });

  it('Byteman jars in a container read (the pod\'s processes are then searched): every pod is needed', () => {
    const scan = scanOf([]);
    const f = emptyPodProcFacts(SB_WEB);
    f.jvm.push({ container: 'app', containerId: HEX('b'), pid: 110, state: 'scaffolding', jars: ['byteman.jar'], listeners: [] });
    expect(otherPodsMatter(scan, buildPodIndex(scan, []), [f])).toBe(`a container of sandbox ${SB_WEB} has Byteman jars`);
    f.jvm[0] = { ...f.jvm[0]!, state: 'none', jars: [] };
    expect(otherPodsMatter(scan, buildPodIndex(scan, []), [f])).toBeNull();
  });

  it('property: whenever it says "not needed", the chaos processes of the pod read are those every pod\'s PIDs give', () => {
    const ids = Array.from({ length: 9 }, (_, i) => HEX('0123456789abcdef'[i + 1]!));
    // Three pods of a sandbox and two containers (ids[3k], ids[3k+1], ids[3k+2]); a small inode pool so pods share
    // namespaces, processes sit in several pods' namespaces at once, cgroups name any pod, container or none.
    const inode = fc.integer({ min: 1, max: 6 });
    const ns = fc.record({ pid: inode, net: inode, mnt: inode });
    const cgroup = fc.integer({ min: -1, max: 8 }).map((i) => cgroupsAt(i < 0 ? '/system.slice/x' : `/k8s.io/${ids[i]!}`));
    const role = fc.constantFrom('toda', 'tproxy', 'stress-ng', 'memStress');
    const node = fc.record({
      members: fc.array(ns, { minLength: 9, maxLength: 9 }),
      chaos: fc.array(fc.record({ comm: role, ns, cgroups: cgroup }), { minLength: 1, maxLength: 4 }),
    });
    let unneeded = 0;
    fc.assert(fc.property(node, ({ members, chaos }) => {
      const pods: PodInfo[] = [0, 1, 2].map((k) => pod(`p${k}`, ids[3 * k]!, 10 * k + 10, [ctr('a', ids[3 * k + 1]!, 10 * k + 11), ctr('b', ids[3 * k + 2]!, 10 * k + 12)]));
      const procs: ProcProcess[] = members.map((n, i) => proc({ pid: 10 * Math.floor(i / 3) + 10 + (i % 3), comm: i % 3 ? 'app' : 'pause', ns: n, cgroups: cgroupsAt(`/k8s.io/${ids[i]!}`) }));
      chaos.forEach((c, i) => procs.push(proc({ pid: 100 + i, comm: c.comm, ns: c.ns, cgroups: c.cgroups })));
      const scan = scanOf(procs, { self: { pid: 99, net: 99, mnt: 99 } });
      const part = partial(pods, ids[0]!);
      if (otherPodsMatter(scan, buildPodIndex(scan, part), []) !== null) return;
      unneeded++;
      expect(chaosOf(scan, part, ids[0]!)).toEqual(chaosOf(scan, pods, ids[0]!));
    }), { numRuns: 500, seed: 9 });
    expect(unneeded).toBeGreaterThan(20);
  });
});
