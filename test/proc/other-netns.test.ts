import { describe, expect, it } from 'vitest';
import { otherNetns, otherNetnsNote } from '../../agent/proc/other-netns.js';

const POD = { hostNetwork: false, netns: { inode: 4026532900, path: '/proc/100/ns/net' } };

describe('otherNetns: a container outside the namespace its pod was read from', () => {
  it('a container in the sandbox\'s namespace: nothing', () => {
    expect(otherNetns(POD, 'app', { pid: 110, ns: { net: 4026532900 } })).toBeNull();
  });

  it('a container left in the old namespace of a restarted sandbox: its and the sandbox\'s inodes', () => {
    const o = otherNetns(POD, 'app', { pid: 110, ns: { net: 4026532700 } });
    expect(o).toEqual({ container: 'app', pid: 110, net: 4026532700, sandboxNet: 4026532900 });
    expect(otherNetnsNote(o!)).toBe('container app (pid 110) is in another network namespace (net:[4026532700]) than its sandbox\'s (net:[4026532900]): not read');
  });

  it('nothing to compare: host network (out of scope), the pod\'s namespace unresolved, the container\'s unread', () => {
    expect(otherNetns({ ...POD, hostNetwork: true }, 'app', { pid: 110, ns: { net: 4026531840 } })).toBeNull();
    expect(otherNetns({ hostNetwork: false, netns: null }, 'app', { pid: 110, ns: { net: 4026532700 } })).toBeNull();
    expect(otherNetns(POD, 'app', { pid: 110, ns: { net: null } })).toBeNull();
  });
});
