/**
 * Route events (agent/netns/netlink/route-events.ts): the socket that tells the reader whether links, addresses,
 * routes and rules may have changed, on real namespaces; and the replays it lets leave the links dumps out
 * (read-namespace.ts readNamespaceTaped with sessions), which must still see every change.
 */
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { withNetns } from '../../../agent/netns/netlink/enter.js';
import { readNamespaceTaped, routeEventsRefused, type NetlinkJob, type Session, type TapedRead } from '../../../agent/netns/netlink/read-namespace.js';
import { MAX_SKIPS, ROUTE_EVENT_GROUPS, groupMask, routeEventCounts, type RouteEvents } from '../../../agent/netns/netlink/route-events.js';
import { NamespaceSessions } from '../../../agent/netns/netlink/sessions.js';
import { NETLINK_SOURCES } from '../../../agent/netns/netlink/sources.js';
import type { Script } from '../../../agent/netns/netlink/tape.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../helpers/netns.js';

describe('groupMask', () => {
  it('sets bit g - 1 for each group, 1 to 32, and refuses the others', () => {
    expect(groupMask([1])).toBe(1);
    expect(groupMask([1, 5])).toBe(0x11);
    expect(groupMask([32])).toBe(0x80000000);
    expect(groupMask(ROUTE_EVENT_GROUPS)).toBe(0x8c0407f1);
    expect(() => groupMask([0])).toThrow(RangeError);
    expect(() => groupMask([33])).toThrow(RangeError);
  });
});

const job = (path: string): NetlinkJob => ({ path, inode: statSync(path).ino, maxSourceBytes: 4 << 20, budgetMs: 5000 });

function stateOf(r: TapedRead) {
  if (r.unchanged) throw new Error('expected a full read');
  return r;
}

describeIntegration('route events on real namespaces', { root: true, commands: ['ip'] }, () => {
  afterAll(destroyAll);

  /** A drain after `change` (run inside `ns`) finds something, and the one after it nothing. */
  async function announced(ev: RouteEvents, ns: TestNetns, change: string[]): Promise<[boolean, boolean]> {
    await ns.exec(change);
    return [ev.drain(), ev.drain()];
  }

  it('a drain is quiet until a link, an address, a route or a rule of its namespace changes, in either family', async () => {
    const [ns, other] = [await createNetns('rtev'), await createNetns('rtev')];
    const ev = withNetns(ns.path, null, (i) => i.routeEvents()).value;
    try {
      expect(ev.drain()).toBe(true);
      expect(await announced(ev, ns, ['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd0p'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', 'link', 'set', 'd0', 'up'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', 'link', 'set', 'd0', 'mtu', '1400'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', 'addr', 'add', '10.61.0.1/24', 'dev', 'd0'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', '-6', 'addr', 'add', 'fd61::1/64', 'dev', 'd0', 'nodad'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', 'route', 'add', '10.62.0.0/16', 'dev', 'd0'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', '-6', 'route', 'add', 'fd62::/48', 'dev', 'd0'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', 'rule', 'add', 'from', '10.63.0.0/16', 'table', '100'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', '-6', 'rule', 'add', 'from', 'fd63::/48', 'table', '100'])).toEqual([false, true]);
      expect(await announced(ev, ns, ['ip', 'route', 'del', '10.62.0.0/16'])).toEqual([false, true]);
      // Another namespace's changes are not this one's.
      await other.exec(['ip', 'link', 'add', 'd1', 'type', 'veth', 'peer', 'name', 'd1p']);
      await other.exec(['ip', 'route', 'add', 'blackhole', '10.64.0.0/16']);
      expect(ev.drain()).toBe(true);
    } finally {
      ev.close();
    }
  });

  it('a queue that overflowed reads as changed (ENOBUFS), then quiet again', async () => {
    const ns = await createNetns('rtev');
    const ev = withNetns(ns.path, null, (i) => i.routeEvents()).value;
    try {
      const before = routeEventCounts.overflow;
      const lines = ['link add d0 type veth peer name d0p', 'link set d0 up'];
      for (let i = 1; i <= 200; i++) lines.push(`addr add 10.65.${i >> 8}.${i & 255}/32 dev d0`);
      await ns.exec(['ip', '-batch', '-'], { input: `${lines.join('\n')}\n` });
      expect(ev.drain()).toBe(false);
      expect(routeEventCounts.overflow).toBe(before + 1);
      expect(ev.drain()).toBe(true);
    } finally {
      ev.close();
    }
  });

  it('a kept session leaves the links dumps out of replays while quiet, and still sees every change', async () => {
    const ns = await createNetns('rtev');
    await ns.addPodInterface({ addr: '10.66.0.2/24' });
    const sessions = new NamespaceSessions<Session>();
    const j = job(ns.path);
    try {
      const refused = routeEventsRefused.count;
      let script: Script = stateOf(readNamespaceTaped(j, NETLINK_SOURCES, null, sessions)).script!;
      expect(routeEventsRefused.count).toBe(refused);
      // Quiet: the tape is the one the events vouch for, so the replay leaves the links dumps out.
      let skipped = routeEventCounts.skipped;
      expect(readNamespaceTaped(j, NETLINK_SOURCES, script, sessions)).toEqual({ unchanged: true });
      expect(routeEventCounts.skipped).toBe(++skipped);

      // Each change is seen by the next read, with the links dumps compared (or read) again.
      const changes: [string[], (r: ReturnType<typeof stateOf>) => unknown, unknown][] = [
        [['ip', 'route', 'add', '10.67.0.0/16', 'via', '10.66.0.1'], (r) => r.state.routes!.some((x) => x.destination === '10.67.0.0/16'), true],
        [['ip', 'link', 'set', 'eth0', 'mtu', '1400'], (r) => r.state.links!.find((l) => l.name === 'eth0')!.mtu, 1400],
        [['ip', 'addr', 'add', '10.68.0.2/24', 'dev', 'eth0'], (r) => r.state.addresses!.some((a) => a.address === '10.68.0.2'), true],
        [['ip', 'rule', 'add', 'from', '10.69.0.0/16', 'table', '100'], (r) => r.state.rules!.length > 3, true],
      ];
      for (const [argv, value, expected] of changes) {
        await ns.exec(argv);
        const r = stateOf(readNamespaceTaped(j, NETLINK_SOURCES, script, sessions));
        expect(value(r)).toEqual(expected);
        script = r.script!;
        expect(routeEventCounts.skipped).toBe(skipped);
        expect(readNamespaceTaped(j, NETLINK_SOURCES, script, sessions)).toEqual({ unchanged: true });
        expect(routeEventCounts.skipped).toBe(++skipped);
      }

      // A tape given as bytes (another thread's) is not the one the events vouch for: compared, then vouched for.
      const bytes = stateOf(readNamespaceTaped(j, NETLINK_SOURCES, null, sessions)).tape!;
      const s0 = routeEventCounts.skipped;
      expect(readNamespaceTaped(j, NETLINK_SOURCES, bytes, sessions)).toEqual({ unchanged: true });
      expect(routeEventCounts.skipped).toBe(s0);
    } finally {
      sessions.closeAll();
    }
  });

  it(`at most ${MAX_SKIPS} quiet replays in a row leave the dumps out: a change no group announces is seen after that`, async () => {
    // A veth peer moved from one namespace to another: the local end's IFLA_LINK_NETNSID follows, unannounced here.
    const [ns, b, c] = [await createNetns('rtev'), await createNetns('rtev'), await createNetns('rtev')];
    await ns.exec(['ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1', 'netns', b.name]);
    const sessions = new NamespaceSessions<Session>();
    const j = job(ns.path);
    try {
      const first = stateOf(readNamespaceTaped(j, NETLINK_SOURCES, null, sessions));
      const script = first.script!;
      const before = first.state.links!.find((l) => l.name === 'v0')!.linkNetnsId;
      await b.exec(['ip', 'link', 'set', 'v1', 'netns', c.name]);
      const skipped = routeEventCounts.skipped;
      // The first read after the move drains the NSID announcement (c gets an id in ns): compared, and seen.
      let seenAt = -1;
      for (let i = 0; i <= MAX_SKIPS + 1 && seenAt < 0; i++) {
        const r = readNamespaceTaped(j, NETLINK_SOURCES, script, sessions);
        if (!r.unchanged) {
          expect(r.state.links!.find((l) => l.name === 'v0')!.linkNetnsId).not.toBe(before);
          seenAt = i;
        }
      }
      expect(seenAt).toBeGreaterThanOrEqual(0);
      expect(seenAt).toBeLessThanOrEqual(MAX_SKIPS);
      expect(routeEventCounts.skipped - skipped).toBeLessThanOrEqual(MAX_SKIPS);
    } finally {
      sessions.closeAll();
    }
  });
});
