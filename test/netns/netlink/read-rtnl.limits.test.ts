/**
 * readRtnl's bounds on real namespaces: a byte budget per source and the deadline give truncated or failed
 * sources, never a throw. (Its cost is measured by read-rtnl.cost.optin.ts.)
 */
import { statSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { withNetns } from '../../../agent/netns/netlink/enter.js';
import { readRtnl } from '../../../agent/netns/netlink/read-rtnl.js';
import type { NetlinkSocket } from '../../../agent/netns/netlink/socket.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../helpers/netns.js';

/** A qdisc without what traffic moves between two reads (a stray IPv6 packet on eth0 moved htb's counters in CI). */
function withoutCounters(qdiscs: readonly { stats?: unknown; options?: unknown }[]): unknown[] {
  return qdiscs.map(({ stats: _s, options, ...rest }) => {
    if (options === undefined || options === null || typeof options !== 'object') return { ...rest, options };
    const { directPackets: _d, ...kept } = options as Record<string, unknown>;
    return { ...rest, options: kept };
  });
}

function socketOf(ns: TestNetns): NetlinkSocket {
  return withNetns(ns.path, statSync(ns.path).ino, (inside) => inside.route()).value;
}

describeIntegration('readRtnl bounds', { root: true, commands: ['ip', 'tc'] }, () => {
  afterAll(destroyAll);

  it('a namespace with 2000 routes and 120 htb classes: a small byte budget truncates both sources, nothing thrown', async () => {
    const ns = await createNetns('nllim');
    await ns.addPodInterface({ addr: '10.79.0.2/16' });
    const routes = Array.from({ length: 2000 }, (_, i) => `route add 10.${100 + Math.floor(i / 250)}.${i % 250}.0/24 via 10.79.0.1 table ${100 + (i % 7)}`);
    await ns.exec(['ip', '-batch', '-'], { input: `${routes.join('\n')}\n` });
    const tc = ['qdisc add dev eth0 root handle 1: htb', ...Array.from({ length: 120 }, (_, i) => `class add dev eth0 parent 1: classid 1:${(i + 1).toString(16)} htb rate ${i + 1}mbit`)];
    await ns.exec(['tc', '-batch', '-'], { input: `${tc.join('\n')}\n` });
    const s = socketOf(ns);
    const tcSock = socketOf(ns);
    try {
      const full = readRtnl(s, { maxBytes: 4 << 20, deadline: performance.now() + 5000 });
      expect(full.sources.map((x) => x.status)).toEqual(['complete', 'complete']);
      expect([full.routes.filter((r) => r.table >= 100 && r.table < 107).length, full.tc.classes.length]).toEqual([2000, 120]);

      // links and tc on their own sockets, as the reader has them: the cut links dump does not cost tc.
      const small = readRtnl(s, { maxBytes: 16_384, deadline: performance.now() + 5000 }, {}, tcSock);
      expect(small.sources).toEqual([
        { source: 'links', status: 'truncated', reason: 'output_limit', message: expect.stringMatching(/RTM_GETROUTE dump cut at the source's 16384-byte budget/) },
        { source: 'tc', status: 'truncated', reason: 'output_limit', message: expect.stringMatching(/RTM_GETTCLASS dump dev eth0 cut/) },
      ]);
      expect(small.routes.length).toBeGreaterThan(0);
      expect(small.routes.length).toBeLessThan(full.routes.length);
      expect(small.tc.classes.length).toBeLessThan(120);
      expect(small.links).toEqual(full.links);

      // links and tc on one fd, as the reader has them (NetlinkSocket.shared): the cut links dump leaves the rest of
      // its answer queued there, so tc takes a fresh fd from its reopen, once, and reads what it read on its own fd.
      const s2 = socketOf(ns);
      let reopened = 0;
      const tcShared = s2.shared('tcRoute', () => {
        reopened++;
        return socketOf(ns);
      });
      try {
        const shared = readRtnl(s2, { maxBytes: 16_384, deadline: performance.now() + 5000 }, {}, tcShared);
        expect(reopened).toBe(1);
        expect(shared.sources).toEqual(small.sources);
        expect([shared.links, withoutCounters(shared.tc.qdiscs), shared.tc.classes.length]).toEqual([small.links, withoutCounters(small.tc.qdiscs), small.tc.classes.length]);
        expect(withoutCounters(shared.tc.qdiscs)).toEqual([
          expect.objectContaining({ kind: 'noqueue', interface: 'lo' }),
          expect.objectContaining({ kind: 'htb', interface: 'eth0', handle: '1:', options: expect.objectContaining({ defcls: 0, directQlen: 1000 }) }),
        ]);
        // Nothing cut: both sources on the one fd, no fresh one.
        const s3 = socketOf(ns);
        const whole = readRtnl(s3, { maxBytes: 4 << 20, deadline: performance.now() + 5000 }, {}, s3.shared('tcRoute', () => {
          reopened++;
          return socketOf(ns);
        }));
        s3.close();
        expect([reopened, whole.sources.map((x) => x.status), whole.tc.classes.length, whole.routes.length]).toEqual([1, ['complete', 'complete'], 120, full.routes.length]);
      } finally {
        s2.close();
        tcShared.close();
      }

      // A cut request ends where it is read (the rest is not drained): that socket takes no further request, the
      // source says why, and a fresh socket reads everything.
      const again = readRtnl(s, { maxBytes: 4 << 20, deadline: performance.now() + 5000 });
      expect(again.sources[0]).toMatchObject({ status: 'failed', message: expect.stringMatching(/an earlier request on this socket was cut short/) });
      const fresh = socketOf(ns);
      try {
        const r = readRtnl(fresh, { maxBytes: 4 << 20, deadline: performance.now() + 5000 });
        expect([r.sources.map((x) => x.status), r.routes.filter((x) => x.table >= 100 && x.table < 107).length]).toEqual([['complete', 'complete'], 2000]);
      } finally {
        fresh.close();
      }
    } finally {
      s.close();
      tcSock.close();
      await ns.destroy();
    }
  });

  it('a deadline already passed: both sources failed with reason timeout, no request sent', async () => {
    const ns = await createNetns('nllim');
    const s = socketOf(ns);
    try {
      const r = readRtnl(s, { maxBytes: 1 << 20, deadline: performance.now() - 1 });
      expect(r.sources).toEqual([
        { source: 'links', status: 'failed', reason: 'timeout', message: "RTM_GETLINK dump not sent: the read's deadline has passed" },
        { source: 'tc', status: 'failed', reason: 'timeout', message: "RTM_GETQDISC dump not sent: the read's deadline has passed" },
      ]);
      expect([r.requests, r.links, r.tc.qdiscs]).toEqual([0, [], []]);
    } finally {
      s.close();
      await ns.destroy();
    }
  });
});
