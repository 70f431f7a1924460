import { describe, expect, it } from 'vitest';
import { collectPodFacts } from '../../agent/proc/facts.js';
import { ctr, pod } from './fixtures.js';
import { C_APP, nodePods, nodeScan, SB_API, SB_WEB } from './node-fixture.js';

describe('collectPodFacts on a hand-built scan', () => {
  it('places the chaos processes on their pods from the shared scan', async () => {
    const pods = nodePods();
    // Only the processes are wanted here: no running container, so no root is read.
    const quiet = pods.map((p) => ({ ...p, containers: p.containers.map((c) => ({ ...c, state: 'CONTAINER_EXITED' as const })) }));
    const { facts } = await collectPodFacts(nodeScan(), quiet, { procRoot: '/proc' });
    expect([...facts.values()].map((f) => f.processes.map((p) => p.pid))).toEqual([[312, 316], [314, 315, 319], []]);
    expect([...facts.values()].every((f) => Object.values(f.sources).every((s) => s.complete))).toBe(true);
  });

  it('a container PID now in another pod\'s cgroup (reused) is not read as this pod\'s', async () => {
    const pods = nodePods();
    const liar = pod('web', SB_WEB, 100, [ctr('app', C_APP, 210)]); // 210 is api's main
    const { facts } = await collectPodFacts(nodeScan(), [liar, ...pods.slice(1)], { procRoot: '/proc' }, [liar]);
    const f = facts.get(SB_WEB)!;
    expect(f.sources.dns).toEqual({ complete: false, errors: [{ reason: 'vanished', container: 'app', message: 'container app: pid 210 now belongs to another pod, not read' }] });
    expect(f.dns).toEqual([]);
  });

  it('an incomplete scan leaves every pod\'s process source incomplete', async () => {
    const scan = { ...nodeScan(), complete: false, incomplete: 'process cap of 5 reached (900 listed)' };
    const quiet = nodePods().map((p) => ({ ...p, containers: [] }));
    const { facts } = await collectPodFacts(scan, quiet, { procRoot: '/proc' });
    expect(facts.get(SB_WEB)!.sources.processes.errors).toEqual([{ reason: 'scan', message: 'the /proc scan is incomplete: process cap of 5 reached (900 listed)' }]);
  });

  it('a running container in another network namespace than its pod\'s is recorded, not a pod whose namespace is its', async () => {
    // The scan's web pause and app share net 600; api's share 610. web is resolved to a new namespace (its sandbox
    // restarted): 601, which app (pid 110) is not in; api is resolved to 610.
    const [web, api] = nodePods();
    const moved = { ...web!, netns: { inode: 601, path: '/proc/100/ns/net' } };
    const same = { ...api!, netns: { inode: 610, path: '/proc/200/ns/net' } };
    const { facts } = await collectPodFacts(nodeScan(), [moved, same, ...nodePods().slice(2)], { procRoot: '/nonexistent-proc' }, [moved, same]);
    expect(facts.get(SB_WEB)!.otherNetns).toEqual([{ container: 'app', pid: 110, net: 600, sandboxNet: 601 }]);
    expect(facts.get(SB_API)!.otherNetns).toBeUndefined();
  });
});
