import { statSync } from 'node:fs';
import { afterAll, afterEach, expect, it } from 'vitest';
import { NetlinkError } from '../../../agent/errors.js';
import { NetlinkPool } from '../../../agent/netns/netlink/pool.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';

const pools: NetlinkPool[] = [];
const pool = (size = 2): NetlinkPool => {
  const p = new NetlinkPool({ size, idleMs: 5000 });
  pools.push(p);
  return p;
};
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describeIntegration('NetlinkPool (worker threads, needs npm run build for dist/ worker)', { root: true, commands: ['ip'] }, () => {
  afterAll(destroyAll);

  it('reads namespaces in worker threads, never more than `size` at once, and the main thread stays in its namespace', async () => {
    const nss = await Promise.all([1, 2, 3, 4, 5].map(() => createNetns('nlp')));
    const p = pool(2);
    const home = statSync('/proc/thread-self/ns/net').ino;
    let maxBusy = 0;
    const reads = nss.map((ns) => p.read({ path: ns.path, inode: statSync(ns.path).ino, maxSourceBytes: 1 << 20, budgetMs: 2000 }).then((r) => {
      maxBusy = Math.max(maxBusy, p.busy);
      return r;
    }));
    const results = await Promise.all(reads);
    expect(results.every((r) => r.state.reader === 'netlink')).toBe(true);
    expect(p.started).toBe(2);
    expect(maxBusy).toBeLessThanOrEqual(2);
    expect(statSync('/proc/thread-self/ns/net').ino).toBe(home);
  });

  it('fails a read of a vanished namespace or a wrong inode with a typed reason, and keeps serving', async () => {
    const p = pool(1);
    await expect(p.read({ path: '/var/run/netns/nlp-gone', inode: null, maxSourceBytes: 1024, budgetMs: 1000 })).rejects.toMatchObject({ reason: 'vanished' });
    const ns = await createNetns('nlp');
    await expect(p.read({ path: ns.path, inode: 1, maxSourceBytes: 1024, budgetMs: 1000 })).rejects.toBeInstanceOf(NetlinkError);
    const ok = await p.read({ path: ns.path, inode: statSync(ns.path).ino, maxSourceBytes: 1024, budgetMs: 1000 });
    expect(ok.state.reader).toBe('netlink');
  });

  it('an aborted read rejects, and close() fails what is queued', async () => {
    const ns = await createNetns('nlp');
    const p = pool(1);
    const ac = new AbortController();
    ac.abort();
    await expect(p.read({ path: ns.path, inode: null, maxSourceBytes: 1024, budgetMs: 1000 }, ac.signal)).rejects.toMatchObject({ reason: 'timeout' });
    const a = p.read({ path: ns.path, inode: null, maxSourceBytes: 1024, budgetMs: 1000 });
    const b = p.read({ path: ns.path, inode: null, maxSourceBytes: 1024, budgetMs: 1000 });
    const both = Promise.allSettled([a, b]);
    await p.close();
    const settled = await both;
    expect(settled.filter((s) => s.status === 'rejected').length).toBeGreaterThanOrEqual(1);
  });
});
