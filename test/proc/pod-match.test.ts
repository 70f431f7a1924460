/**
 * pod-match.ts's walks against the reference they replace: the owner of a cgroup path is what the global pattern
 * /[0-9a-f]{64}/g finds first in the ID map (then a pod UID), and namespace placement is the first hit's pod with
 * the agreeing kinds, on arbitrary paths and namespace sets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPodIndex, NS_KINDS, ownerOfCgroupPath, placeProcess, type PodIndex } from '../../agent/proc/pod-match.js';
import { ctr, HEX, pod, proc, scanOf } from './fixtures.js';

/** The regex walk ownerOfCgroupPath used to be. */
function reference(index: PodIndex, path: string): { sandboxId: string; containerId: string | null } | null {
  for (const m of path.matchAll(/[0-9a-f]{64}/g)) {
    const o = index.ids.get(m[0]);
    if (o) return o;
  }
  for (const m of path.matchAll(/pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/g)) {
    const sb = index.uids.get(m[1]!.replace(/_/g, '-'));
    if (sb) return { sandboxId: sb, containerId: null };
  }
  return null;
}

describe('ownerOfCgroupPath', () => {
  const a = pod('a', HEX('a'), 10, [ctr('app', HEX('b'), 11)]);
  const c = pod('c', HEX('c'), 20, [ctr('app', `${'d'.repeat(32)}${'e'.repeat(32)}`, 21)]);
  const index = buildPodIndex(scanOf([]), [a, c]);

  it('finds the ID where the 64-hex pattern finds it (runs longer than 64, adjacent IDs, a pod UID)', () => {
    expect(ownerOfCgroupPath(index, `/k8s.io/${HEX('b')}`)).toEqual({ sandboxId: HEX('a'), containerId: HEX('b') });
    expect(ownerOfCgroupPath(index, `/x/f${HEX('b')}`)).toBeNull(); // the pattern's piece starts at the run's start
    expect(ownerOfCgroupPath(index, `/x/${HEX('b')}${HEX('a')}`)).toEqual({ sandboxId: HEX('a'), containerId: HEX('b') });
    expect(ownerOfCgroupPath(index, `/x/${HEX('f')}${HEX('a')}`)).toEqual({ sandboxId: HEX('a'), containerId: null });
    expect(ownerOfCgroupPath(index, `/kubepods/pod${a.uid.replace(/-/g, '_')}/x`)).toEqual({ sandboxId: HEX('a'), containerId: null });
  });

  it('agrees with the regex walk on arbitrary paths', () => {
    const piece = fc.constantFrom(HEX('a'), HEX('b'), HEX('c'), 'd'.repeat(32), 'e'.repeat(32), 'f', '0', '/', '-', 'g', 'pod', a.uid, c.uid.replace(/-/g, '_'), 'cri-containerd-', '.scope');
    fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
      const path = parts.join('');
      expect(ownerOfCgroupPath(index, path)).toEqual(reference(index, path));
    }), { numRuns: 3000 });
  });
});

describe('namespace placement', () => {
  it('agrees with the hits-and-filter reference on arbitrary namespace sets', () => {
    const pods = [pod('a', HEX('a'), 10, [ctr('x', HEX('b'), 11), ctr('y', HEX('c'), 12)]), pod('d', HEX('d'), 20, [ctr('z', HEX('e'), 21)])];
    const inode = fc.constantFrom(null, 1, 2, 3, 4, 5, 6, 7);
    const nsOf = fc.record({ pid: inode, net: inode, mnt: inode });
    fc.assert(fc.property(fc.array(nsOf, { minLength: 5, maxLength: 5 }), nsOf, (members, target) => {
      const pids = [10, 11, 12, 20, 21];
      const scan = scanOf(pids.map((pid, i) => proc({ pid, comm: 'sleep', ns: members[i]! })), { self: { pid: 99, net: 99, mnt: 99 } });
      const index = buildPodIndex(scan, pods);
      const hits: { kind: (typeof NS_KINDS)[number]; owner: { sandboxId: string; containerId: string | null } }[] = [];
      for (const kind of NS_KINDS) {
        const n = target[kind];
        const o = n === null ? undefined : index.ns[kind].get(n);
        if (o) hits.push({ kind, owner: o });
      }
      const first = hits[0];
      const same = first ? hits.filter((h) => h.owner.sandboxId === first.owner.sandboxId) : [];
      const want = first ? { sandboxId: first.owner.sandboxId, containerId: same.find((h) => h.owner.containerId !== null)?.owner.containerId ?? null, via: same.map((h) => h.kind) } : null;
      expect(placeProcess(index, proc({ pid: 30, comm: 'toda', ns: target, cgroups: [] })).namespaces).toEqual(want);
    }), { numRuns: 2000 });
  });
});
