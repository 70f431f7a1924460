/**
 * Namespace sessions: what a reader thread keeps open of a namespace from one read to the next (its netlink and raw
 * sockets, and its ip_tables_names / ip6_tables_names files: read-namespace.ts Session), so that `serve`, which reads
 * the same namespaces at every collection, enters each one once rather than at every read. A socket keeps the
 * namespace it was created in, so a later read needs no setns, no socket and no close: at 110 pods, entering and
 * leaving (open the namespace file, check its inode, setns there and back, 3 sockets, the two table-name files, and
 * the closes) cost ~75-90 µs of the ~310 µs of an unchanged namespace's read.
 *
 * Keyed by the namespace's path and inode (tape-cache.ts tapeCacheKey), as the pool keys its jobs. While a session
 * is open its sockets hold the namespace, so no other namespace can have that inode: a job naming that inode, which
 * the runtime layer has just checked against the pod's namespace file, names the session's namespace.
 *
 * Holding a namespace keeps it alive after its pod is gone, so sessions are short-lived by design: the pool tells the
 * thread after each collection which namespaces it read (retain: the others are closed, so a deleted pod's namespace
 * is freed at the end of the next collection), a session unused for `maxIdleMs` is closed at the thread's next
 * job, and at most `maxSessions` are kept (the least recently used closed first). A thread that stops closes its
 * fds with it (fd-ledger.ts).
 */

/** What a session must be able to do: close everything it holds. */
export interface KeptSession {
  close(): void;
}

export interface SessionOptions {
  maxSessions: number;
  maxIdleMs: number;
}

/** More namespaces than a node runs pods; 2 minutes: 8 collections at serve's default 15 s interval. */
export const SESSION_DEFAULTS: SessionOptions = { maxSessions: 1024, maxIdleMs: 120_000 };

interface Entry<S> {
  session: S;
  usedAt: number;
}

export class NamespaceSessions<S extends KeptSession> {
  /** Map order is least recently used first: take() deletes, put() appends. */
  private readonly kept = new Map<string, Entry<S>>();

  constructor(private readonly opts: SessionOptions = SESSION_DEFAULTS) {}

  get size(): number {
    return this.kept.size;
  }

  /** The session kept for `key`, taken out (the read now running puts it back, or closes it); sessions idle too long closed first. */
  take(key: string, now = performance.now()): S | null {
    this.closeIdle(now);
    const e = this.kept.get(key);
    if (e === undefined) return null;
    this.kept.delete(key);
    return e.session;
  }

  /** Keep `session` for `key` (any other one kept for it is closed); past maxSessions the least recently used are closed. */
  put(key: string, session: S, now = performance.now()): void {
    const old = this.kept.get(key);
    if (old !== undefined) {
      this.kept.delete(key);
      if (old.session !== session) old.session.close();
    }
    this.kept.set(key, { session, usedAt: now });
    while (this.kept.size > this.opts.maxSessions) {
      const [k, e] = this.kept.entries().next().value!;
      this.kept.delete(k);
      e.session.close();
    }
  }

  /** Close every session whose key is not in `keys` (the namespaces of the last collection). */
  retain(keys: ReadonlySet<string>): void {
    for (const [k, e] of this.kept) {
      if (keys.has(k)) continue;
      this.kept.delete(k);
      e.session.close();
    }
  }

  closeAll(): void {
    this.retain(new Set());
  }

  /** Sessions unused for maxIdleMs (the oldest come first in the map). */
  private closeIdle(now: number): void {
    for (const [k, e] of this.kept) {
      if (now - e.usedAt <= this.opts.maxIdleMs) break;
      this.kept.delete(k);
      e.session.close();
    }
  }
}
