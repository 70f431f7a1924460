/**
 * Namespace sessions (agent/netns/netlink/sessions.ts): the cache on stand-in sessions, then the sockets a reader
 * thread keeps between reads of real namespaces (read-namespace.ts readNamespaceTaped with sessions, and through the
 * pool: NetlinkPool.retain).
 */
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { NetlinkPool } from '../../../agent/netns/netlink/pool.js';
import { readNamespaceTaped, type NetlinkJob, type Session } from '../../../agent/netns/netlink/read-namespace.js';
import { NamespaceSessions } from '../../../agent/netns/netlink/sessions.js';
import { NETLINK_SOURCES } from '../../../agent/netns/netlink/sources.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';
import { ownFds } from '../../helpers/procs.js';

class Stub {
  closed = 0;
  close(): void {
    this.closed++;
  }
}

describe('NamespaceSessions', () => {
  it('take hands a kept session out once; put keeps one per key and closes the one it replaces', () => {
    const c = new NamespaceSessions<Stub>({ maxSessions: 10, maxIdleMs: 1000 });
    const a = new Stub();
    expect(c.take('a', 0)).toBeNull();
    c.put('a', a, 0);
    expect(c.take('a', 1)).toBe(a);
    expect(c.take('a', 1)).toBeNull();
    c.put('a', a, 2);
    const b = new Stub();
    c.put('a', b, 3);
    expect([a.closed, b.closed, c.size]).toEqual([1, 0, 1]);
    c.put('a', b, 4); // the same one put back: not closed
    expect([b.closed, c.take('a', 5)]).toEqual([0, b]);
  });

  it('retain closes every session not named; closeAll closes the rest', () => {
    const c = new NamespaceSessions<Stub>({ maxSessions: 10, maxIdleMs: 1000 });
    const s = ['a', 'b', 'c'].map((k) => {
      const x = new Stub();
      c.put(k, x, 0);
      return x;
    });
    c.retain(new Set(['b', 'z']));
    expect(s.map((x) => x.closed)).toEqual([1, 0, 1]);
    expect(c.size).toBe(1);
    c.closeAll();
    expect(s.map((x) => x.closed)).toEqual([1, 1, 1]);
    expect(c.size).toBe(0);
  });

  it('past maxSessions the least recently used is closed; a session idle past maxIdleMs is closed at the next take', () => {
    const c = new NamespaceSessions<Stub>({ maxSessions: 2, maxIdleMs: 100 });
    const [a, b, d] = [new Stub(), new Stub(), new Stub()];
    c.put('a', a, 0);
    c.put('b', b, 10);
    c.put('a', c.take('a', 20)!, 20); // a used again: b is now the oldest
    c.put('d', d, 30);
    expect([a.closed, b.closed, d.closed, c.size]).toEqual([0, 1, 0, 2]);
    expect(c.take('d', 125)).toBe(d); // a (used at 20) is past 100 ms idle at 125; d (30) is not
    expect([a.closed, c.size]).toEqual([1, 0]);
  });
});

const job = (path: string): NetlinkJob => ({ path, inode: statSync(path).ino, maxSourceBytes: 4 << 20, budgetMs: 5000 });

/** The process's open sockets (every thread's: fds are the process's). */
function sockets(): Set<string> {
  return new Set(ownFds().flatMap((f) => (f.target.startsWith('socket:') ? [`${f.fd} ${f.target}`] : [])));
}

function added(before: Set<string>, after: Set<string>): number {
  let n = 0;
  for (const s of after) if (!before.has(s)) n++;
  return n;
}

describeIntegration('namespace sessions on real namespaces', { root: true, commands: ['ip', 'iptables-legacy', 'ipset'] }, () => {
  afterAll(destroyAll);

  it('a session serves the next reads without entering the namespace again, sees every change, and is closed by retain', async () => {
    const ns = await createNetns('nlsess');
    await ns.addPodInterface({ addr: '10.84.0.2/24' });
    await ns.exec(['iptables-legacy', '-A', 'INPUT', '-s', '10.9.9.9', '-j', 'DROP']);
    const sessions = new NamespaceSessions<Session>();
    const j = job(ns.path);
    const s0 = sockets();
    const first = readNamespaceTaped(j, NETLINK_SOURCES, null, sessions);
    expect(first.unchanged).toBe(false);
    expect(sessions.size).toBe(1);
    // Kept: the NETLINK_ROUTE and NETLINK_NETFILTER fds, the IPv4 raw socket (no legacy IPv6 table: no IPv6 one) and
    // the route events (route-events.ts).
    const s1 = sockets();
    expect(added(s0, s1)).toBe(4);

    const tape = first.unchanged ? null : first.tape;
    expect(readNamespaceTaped(j, NETLINK_SOURCES, tape, sessions)).toEqual({ unchanged: true });
    expect(sockets()).toEqual(s1); // the same sockets, none opened nor closed

    // A change is read on the kept sockets (an ipset created, a legacy rule added to the same table).
    await ns.exec(['ipset', 'create', 'sess-s', 'hash:ip']);
    await ns.exec(['iptables-legacy', '-A', 'INPUT', '-s', '10.9.9.10', '-j', 'DROP']);
    const changed = readNamespaceTaped(j, NETLINK_SOURCES, tape, sessions);
    expect(changed.unchanged).toBe(false);
    const state = changed.unchanged ? null : changed.state;
    expect(state!.ipsets.sets.map((s) => s.name)).toEqual(['sess-s']);
    const filter = state!.iptables.find((d) => d.backend === 'legacy' && d.family === 'ipv4')!.tables.find((t) => t.name === 'filter')!;
    expect(filter.chains.find((c) => c.name === 'INPUT')!.rules.map((r) => r.text)).toEqual(["-s 10.9.9.9/32 -j DROP", "-s 10.9.9.10/32 -j DROP"]);
    expect(sockets()).toEqual(s1);

    // A legacy table created: the session's table names differ, so the read enters afresh (new sockets) and sees it.
    await ns.exec(['iptables-legacy', '-t', 'nat', '-A', 'OUTPUT', '-d', '10.7.7.7', '-j', 'RETURN']);
    const nat = readNamespaceTaped(j, NETLINK_SOURCES, null, sessions);
    const tables = nat.unchanged ? [] : nat.state.iptables.find((d) => d.backend === 'legacy' && d.family === 'ipv4')!.tables.map((t) => t.name);
    expect(tables.sort()).toEqual(['filter', 'nat']);
    const s2 = sockets();
    expect([added(s0, s2), added(s1, s2), sessions.size]).toEqual([4, 4, 1]);

    // The sockets are the namespace's own: with its veth and its file gone (`ip netns del`), a read without the
    // session cannot open it, the session still reads it (no eth0 now). So the collector's retain must close it.
    await ns.destroy();
    expect(() => readNamespaceTaped(j, NETLINK_SOURCES, null)).toThrow(/vanished|ENOENT|no such file/i);
    const gone = readNamespaceTaped(j, NETLINK_SOURCES, null, sessions);
    expect(gone.unchanged ? null : gone.state.links!.map((l) => l.name)).toEqual(['lo']);
    sessions.retain(new Set([`${j.inode}\u0000${j.path}`]));
    expect(sessions.size).toBe(1);
    sessions.retain(new Set());
    expect(sessions.size).toBe(0);
    expect(sockets()).toEqual(s0);
  });

  it('through the pool: its thread keeps the sockets of the namespaces of the last collection and closes the others', async () => {
    const [a, b] = [await createNetns('nlsess'), await createNetns('nlsess')];
    const pool = new NetlinkPool({ size: 1 });
    try {
      const s0 = sockets();
      const [ja, jb] = [job(a.path), job(b.path)];
      for (let i = 0; i < 2; i++) {
        await pool.read(ja);
        await pool.read(jb);
      }
      const both = sockets();
      // 4 kept per namespace (the thread's own fds are no sockets).
      expect(added(s0, both)).toBe(8);
      pool.retain([ja]);
      await pool.read(ja); // after the retain message: the thread handles messages in order
      expect(added(s0, sockets())).toBe(4);
      pool.retain([]);
      await pool.read({ ...jb, inode: null }); // no inode: never kept
      expect(added(s0, sockets())).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
