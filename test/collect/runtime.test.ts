import { describe, expect, it } from 'vitest';
import { choosePrimary } from '../../agent/collect/runtime.js';
import type { PodInfo } from '../../agent/runtime/types.js';

function sandbox(name: string, sandboxId: string, extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: 'shop', name, uid: `uid-${name}`, runtime: 'containerd', endpoint: 'unix:///c.sock', sandboxId, state: 'SANDBOX_READY',
    pid: 10, hostNetwork: false, netns: { inode: 4026530000 + sandboxId.length, path: '/proc/10/ns/net' },
    containers: [{ id: `c-${sandboxId}`, name: 'app', state: 'CONTAINER_RUNNING', pid: 11 }], ...extra,
  };
}

describe('choosePrimary: one sandbox stands for each pod', () => {
  it('prefers the READY, resolved sandbox over an older NOTREADY one listed first, and reports the other as stale', () => {
    const old = sandbox('web', 'aaa', { state: 'SANDBOX_NOTREADY', pid: null, netns: null, reason: 'sandbox has no pid', containers: [] });
    const live = sandbox('web', 'bbb');
    const { primary, stale } = choosePrimary([old, live, sandbox('db', 'ccc')]);
    expect(primary.map((p) => `${p.name}:${p.sandboxId}`)).toEqual(['web:bbb', 'db:ccc']);
    expect(stale).toEqual([{ namespace: 'shop', name: 'web', uid: 'uid-web', runtime: 'containerd', sandboxId: 'aaa', state: 'SANDBOX_NOTREADY', replacedBy: 'bbb' }]);
  });

  it('a pod recreated under the same name (new uid): the live one wins whatever the order', () => {
    const gone = sandbox('web', 'zzz', { uid: 'old-uid', state: 'SANDBOX_NOTREADY' });
    const now = sandbox('web', 'aaa', { uid: 'new-uid' });
    for (const order of [[gone, now], [now, gone]]) {
      const { primary, stale } = choosePrimary(order);
      expect(primary.map((p) => p.uid)).toEqual(['new-uid']);
      expect(stale.map((s) => s.uid)).toEqual(['old-uid']);
    }
  });

  it('among READY sandboxes, the resolved one with more running containers; ties keep the first listed', () => {
    const a = sandbox('web', 'a1', { containers: [] });
    const b = sandbox('web', 'b2');
    expect(choosePrimary([a, b]).primary[0]!.sandboxId).toBe('b2');
    expect(choosePrimary([b, sandbox('web', 'c3')]).primary[0]!.sandboxId).toBe('b2');
    expect(choosePrimary([]).primary).toEqual([]);
  });
});
