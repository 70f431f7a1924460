/**
 * One namespace read over netlink, synchronous, run inside a worker thread: enter the namespace just long enough
 * to open its sockets and read the /proc/thread-self/net files that say which legacy tables exist, come back, then
 * run every source's dumps from the worker's own namespace and decode them into the one NetnsState model.
 *
 * In a reader thread (readNamespaceTaped with sessions) the handles outlive the read: the next read of the same
 * namespace starts from its requests (sessions.ts; resume, release).
 *
 * Each source is independent: one that fails or is cut at its byte cap is recorded in `sources` and `errors`, and
 * the others are still read. The namespace is pinned by its fd from the inode check to the last socket opened,
 * so a recycled PID cannot substitute another namespace. Rules no decoder can render exactly are kept and marked
 * `opaque` (the auto reader reads such a namespace again through the tools).
 */
import { DecodeError, NetlinkError, errorMessage } from '../../errors.js';
import { ALL_SOURCES, emptyNetnsState, type NetnsState, type SourceName, type SourceStatus } from '../state.js';
import { StrandedThreadError, procNetExists, rereadProcNet, withNetns, type Inside } from './enter.js';
import { libc } from './libc.js';
import type { NamespaceSessions } from './sessions.js';
import type { NetlinkSocket, RequestLimits } from './socket.js';
import type { RawSocket } from './raw-socket.js';
import type { RouteEvents } from './route-events.js';
import { Tape, decodeScript, encodeScript, type Script } from './tape.js';
import { tapeCacheKey } from './tape-cache.js';
import { SetIndex } from './xt/set-index.js';

export interface NetlinkJob {
  /** The namespace file (/proc/<pid>/ns/net or a runtime's netns path), already validated by the caller. */
  path: string;
  /** Inode the runtime layer resolved; null to accept whatever the path names (inspect --netns). */
  inode: number | null;
  /** Bytes kept per source at most (a dump past it ends there, unread; the source is `truncated`). */
  maxSourceBytes: number;
  /** Time budget of the whole read, ms. */
  budgetMs: number;
}

/**
 * The sockets and /proc facts one read uses, opened inside the namespace. A dump cut at its byte cap leaves its
 * socket unusable (socket.ts), so each source has its own netlink socket: spam in one source cannot cost another.
 * Two sources of one protocol share an fd (NetlinkSocket.shared: one socket call, two setsockopt and one close fewer
 * per namespace); the second takes a fresh fd of the namespace when the first left the shared one unusable.
 */
export interface NamespaceHandles {
  /** links, addresses, routes, rules. */
  route: NetlinkSocket;
  /** tc (qdiscs, classes, filters). */
  tcRoute: NetlinkSocket;
  /** nf_tables (iptables-nft, native nftables). */
  netfilter: NetlinkSocket | null;
  /** ipset. */
  ipsetNetfilter: NetlinkSocket | null;
  raw4: RawSocket | null;
  raw6: RawSocket | null;
  /**
   * Told of every change the links source would dump (route-events.ts): opened only for handles kept between reads
   * (a session), null otherwise or when the kernel refused it (every replay then compares the links dumps).
   */
  events: RouteEvents | null;
  /** Legacy xtables tables instantiated in the namespace (null: the module is not loaded, so none). */
  legacyTables: { ipv4: string[]; ipv6: string[] };
  /** ipset name by kernel index, asked as iptables-save asks it (SO_IP_SET on the IPv4 raw socket), cached per read. */
  setName(index: number): string | null;
  /** The resolver behind setName (its lastError is reported in the read's notes). */
  setIndex: SetIndex | null;
  /** Why a socket could not be opened (e.g. EPERM without NET_ADMIN / NET_RAW). */
  problems: { what: string; error: NetlinkError }[];
}

/** One source of the read: fills its part of the state and returns its status. */
export interface SourceReader {
  sources: SourceName[];
  read(h: NamespaceHandles, limits: RequestLimits, state: NetnsState): SourceStatus[];
}

/** Table names in /proc/<pid>/net/ip_tables_names (one per line). */
export function parseTableNames(text: string | null): string[] {
  if (text === null) return [];
  return text.split('\n').map((s) => s.trim()).filter((s) => /^[a-z_]{1,32}$/.test(s));
}

function tryOpen<T>(what: string, open: () => T, problems: NamespaceHandles['problems']): T | null {
  try {
    return open();
  } catch (err) {
    if (err instanceof NetlinkError) {
      problems.push({ what, error: err });
      return null;
    }
    throw err;
  }
}

/** Where a read re-enters its namespace for a fresh socket (NetlinkSocket.shared): the inode it found first. */
interface Pin {
  path: string;
  inode: number | null;
  /** The thread could not come back from a re-entry: the read must end with it (the worker then exits). */
  stranded: StrandedThreadError | null;
  /** The handles may be kept for later reads (a session): openHandles then keeps the table-name files open. */
  keep: boolean;
  /** ip_tables_names and ip6_tables_names left open by openHandles when `keep` (null: absent in the namespace). */
  names: { ipv4: number | null; ipv6: number | null } | null;
}

/** A fresh socket of the pinned namespace (a shared fd was left unusable by a source cut short). */
function reenter(pin: Pin, open: (inside: Inside) => NetlinkSocket): NetlinkSocket {
  if (pin.stranded !== null) throw new NetlinkError('netlink socket', 'spawn', 'the thread is stranded in another namespace');
  try {
    return withNetns(pin.path, pin.inode, open).value;
  } catch (err) {
    if (err instanceof StrandedThreadError) pin.stranded = err;
    throw err;
  }
}

/**
 * The read's sockets: one NETLINK_ROUTE fd for links and tc, one NETLINK_NETFILTER fd for nftables and ipset, each
 * source with a socket of its own on it (its role on the tape; a fresh fd when another source cut the shared one
 * short: NetlinkSocket.shared), the IPv4 raw socket, the IPv6 one only when legacy IPv6 tables exist. Module-level,
 * called by withNetns with the pin: not a closure made per read (enter.ts InsideNamespace says why).
 */
function openHandles(inside: Inside, pin: Pin): NamespaceHandles {
  const problems: NamespaceHandles['problems'] = [];
  const route = inside.route();
  const tcRoute = route.shared('tcRoute', () => reenter(pin, openRoute));
  const netfilter = tryOpen('netfilter socket', () => inside.netfilter(), problems);
  if (netfilter !== null) netfilter.role = 'netfilter';
  const ipsetNetfilter = netfilter === null ? null : netfilter.shared('ipsetNetfilter', () => reenter(pin, openNetfilter));
  let ipv4: string[];
  let ipv6: string[];
  if (pin.keep) {
    const v4 = inside.procNetKept('ip_tables_names');
    const v6 = inside.procNetKept('ip6_tables_names');
    pin.names = { ipv4: v4.fd, ipv6: v6.fd };
    ipv4 = parseTableNames(v4.text);
    ipv6 = parseTableNames(v6.text);
  } else {
    ipv4 = parseTableNames(inside.procNet('ip_tables_names'));
    ipv6 = parseTableNames(inside.procNet('ip6_tables_names'));
  }
  // Raw sockets need NET_RAW; IPv4's is always opened (ipset names are resolved on it), IPv6's only for its tables.
  const raw4 = tryOpen('raw socket ipv4', () => inside.raw('ipv4'), problems);
  const raw6 = ipv6.length > 0 ? tryOpen('raw socket ipv6', () => inside.raw('ipv6'), problems) : null;
  const setIndex = raw4 !== null ? new SetIndex(raw4) : null;
  // Before any request of the read: a change after this is announced on it (route-events.ts).
  const events = pin.keep ? openEvents(inside) : null;
  return { route, tcRoute, netfilter, ipsetNetfilter, raw4, raw6, events, legacyTables: { ipv4, ipv6 }, setName: (i) => (setIndex === null ? null : setIndex.name(i)), setIndex, problems };
}

/** The namespace's route events, or null when refused: not a problem of the read (nothing it returns depends on it). */
function openEvents(inside: Inside): RouteEvents | null {
  try {
    return inside.routeEvents();
  } catch (err) {
    if (!(err instanceof NetlinkError)) throw err;
    routeEventsRefused.count++;
    routeEventsRefused.last = err;
    return null;
  }
}

/** Route-event sockets the kernel refused on this thread (tests; the replays then compare the links dumps). */
export const routeEventsRefused: { count: number; last: NetlinkError | null } = { count: 0, last: null };

function openRoute(inside: Inside): NetlinkSocket {
  return inside.route();
}

function openNetfilter(inside: Inside): NetlinkSocket {
  return inside.netfilter();
}

/**
 * Enter the job's namespace and open the read's handles; later re-entries are pinned to the inode found now. `keep`:
 * they may outlive the read (a session), so the table-name files stay open with them.
 */
function enter(job: NetlinkJob, keep = false): { h: NamespaceHandles; pin: Pin } {
  const pin: Pin = { path: job.path, inode: job.inode, stranded: null, keep, names: null };
  const { value: h, inode } = withNetns(job.path, job.inode, openHandles, pin);
  pin.inode = inode;
  return { h, pin };
}

function closeHandles(h: NamespaceHandles, pin: Pin): void {
  h.route.close();
  h.tcRoute.close();
  h.netfilter?.close();
  h.ipsetNetfilter?.close();
  h.raw4?.close();
  h.raw6?.close();
  h.events?.close();
  if (pin.names !== null) {
    const lib = libc();
    if (pin.names.ipv4 !== null) lib.close(pin.names.ipv4);
    if (pin.names.ipv6 !== null) lib.close(pin.names.ipv6);
    pin.names = null;
  }
}

/** A namespace's handles kept by its reader thread between reads (sessions.ts). */
export class Session {
  constructor(
    readonly h: NamespaceHandles,
    readonly pin: Pin,
  ) {}

  close(): void {
    closeHandles(this.h, this.pin);
  }
}

/** The handles may serve a later read: opened to be kept, every socket whole, nothing refused. */
function keepable(h: NamespaceHandles, pin: Pin): boolean {
  if (!pin.keep || pin.names === null || pin.stranded !== null || h.problems.length > 0) return false;
  for (const s of socketsOf(h)) if (!s.reusable) return false;
  return (h.raw4 === null || h.raw4.isOpen) && (h.raw6 === null || h.raw6.isOpen);
}

/** The end of a read's use of its handles: kept in `sessions` under `key` when they can serve the next read, else closed. */
function release(h: NamespaceHandles, pin: Pin, sessions: NamespaceSessions<Session> | null, key: string | null): void {
  if (sessions === null || key === null || !keepable(h, pin)) return closeHandles(h, pin);
  // The read's tape is the thread's to keep (tape-cache.ts), not its sockets': they hold no buffer between reads.
  for (const s of [...socketsOf(h), h.raw4, h.raw6]) if (s !== null) s.tape = null;
  sessions.put(key, new Session(h, pin));
}

/** One table-name file of a session still says what it said when the session opened (and one absent still is). */
function sameNames(fd: number | null, name: 'ip_tables_names' | 'ip6_tables_names', tables: string[]): boolean {
  // Absent: its module was not loaded. Loaded since, the file exists in every namespace, the thread's own included.
  if (fd === null) return !procNetExists(name);
  return parseTableNames(rereadProcNet(fd, name)).join(',') === tables.join(',');
}

/**
 * The handles of the session kept for `key`, for a new read, or null (none, or its legacy tables changed: a table
 * created, a module loaded; the read then enters afresh). Each read gets its own ipset-name cache.
 */
function resume(sessions: NamespaceSessions<Session>, key: string): { h: NamespaceHandles; pin: Pin } | null {
  const s = sessions.take(key);
  if (s === null) return null;
  const { h: old, pin } = s;
  let same: boolean;
  try {
    same = sameNames(pin.names!.ipv4, 'ip_tables_names', old.legacyTables.ipv4) && sameNames(pin.names!.ipv6, 'ip6_tables_names', old.legacyTables.ipv6);
  } catch (err) {
    s.close();
    if (err instanceof NetlinkError) return null;
    throw err;
  }
  if (!same) {
    s.close();
    return null;
  }
  // Their tapes were cleared when they were kept (release).
  for (const sock of [...socketsOf(old), old.raw4, old.raw6]) sock?.renewReceive();
  const setIndex = old.raw4 !== null ? new SetIndex(old.raw4) : null;
  const h: NamespaceHandles = { ...old, setName: (i) => (setIndex === null ? null : setIndex.name(i)), setIndex, problems: [] };
  return { h, pin };
}

/**
 * The result of a read given the previous read's tape: the namespace is unchanged, or its state and new tape, encoded
 * (`tape`, to post) and decoded from that encoding (`script`: the thread's own copy, which it keeps: tape-cache.ts;
 * null too for a read without sessions or inode, which no thread keeps).
 */
export type TapedRead = { unchanged: true } | { unchanged: false; state: NetnsState; tape: Uint8Array | null; script: Script | null };

/**
 * Read one namespace with the given source readers. Throws only what makes the whole read impossible (the
 * namespace vanished or names another one, setns refused, the thread stranded); everything else is in the state.
 */
export function readNamespace(job: NetlinkJob, readers: readonly SourceReader[]): NetnsState {
  const deadline = performance.now() + job.budgetMs;
  const { h, pin } = enter(job);
  try {
    return readWith(h, pin, job, readers, deadline);
  } finally {
    closeHandles(h, pin);
  }
}

/**
 * readNamespace, skipping the decoding when nothing changed: with `previous` (the tape of the last read of this
 * namespace, tape.ts, encoded or as the reader thread keeps it decoded: tape-cache.ts) its requests are sent again first and their answers compared with the taped ones; when all are the same
 * the answer is `unchanged` (the caller keeps the state that tape came with). Otherwise the namespace is read and
 * decoded as readNamespace does, recording a new tape (null when the read cannot be replayed: tape.ts).
 */
export function readNamespaceTaped(job: NetlinkJob, readers: readonly SourceReader[], previous: Uint8Array | Script | null, sessions: NamespaceSessions<Session> | null = null): TapedRead {
  const deadline = performance.now() + job.budgetMs;
  // With sessions (a reader thread), the handles of the job's namespace kept from its last read, or kept after this one.
  const kept = sessions !== null && job.inode !== null ? tapeCacheKey(job.path, job.inode) : null;
  let { h, pin } = (kept !== null ? resume(sessions!, kept) : null) ?? enter(job, kept !== null);
  // Before any request: whether links, addresses, routes and rules are as after the last read (route-events.ts).
  const quiet = h.events !== null && h.events.drain();
  if (previous !== null) {
    const script = previous instanceof Uint8Array ? scriptOf(previous) : previous;
    if (script !== null && script.key === tapeKey(h, job, readers)) {
      const skipLinks = quiet && h.events!.mayskip(script);
      let same: boolean;
      try {
        same = replay(h, script, { maxBytes: job.maxSourceBytes, deadline }, skipLinks);
      } catch (err) {
        closeHandles(h, pin);
        throw err;
      }
      if (same) {
        h.events?.verify(script, !skipLinks);
        release(h, pin, sessions, kept);
        return { unchanged: true };
      }
      h.events?.forget(); // the full read below records the tape the next replay is given
      // A replay cut short leaves its socket unusable: the read then starts again on fresh sockets.
      if (socketsOf(h).some((s) => s.unusable)) {
        closeHandles(h, pin);
        ({ h, pin } = enter(job, kept !== null));
      }
    }
  }
  const tape = new Tape();
  for (const s of [...socketsOf(h), h.raw4, h.raw6]) if (s !== null) s.tape = tape;
  const key = tapeKey(h, job, readers);
  let state: NetnsState;
  try {
    state = readWith(h, pin, job, readers, deadline);
  } finally {
    release(h, pin, sessions, kept);
  }
  const timedOut = (state.sources ?? []).some((s) => s.reason === 'timeout') || state.errors.some((e) => e.reason === 'timeout');
  if (timedOut) tape.invalidate('a source ran out of time');
  const recorded = tape.script(key);
  const bytes = recorded === null ? null : encodeScript(recorded);
  // Decoded from the encoding, for a read the thread keeps (a session): its own copy (the recorded one holds views of
  // the read's buffers). A read not kept (no session or no inode) has no tape kept to replay: nothing to decode.
  const script = bytes === null || kept === null ? null : decodeScript(bytes);
  // Its links answers were read after the drain above (or on sockets opened since): what the next drain vouches for.
  h.events?.verify(script, true);
  return { unchanged: false, state, tape: bytes, script };
}

function socketsOf(h: NamespaceHandles): NetlinkSocket[] {
  return [h.route, h.tcRoute, h.netfilter, h.ipsetNetfilter].filter((s): s is NetlinkSocket => s !== null);
}

/** The readers' part of a tape key, per readers list (a constant list in the worker: built once). */
const readersKeys = new WeakMap<readonly SourceReader[], string>();

/**
 * What a read depends on besides the kernel's answers to its requests: the byte cap, the readers, what was seen
 * inside the namespace before the first request (legacy table names, which sockets opened and why not). One line
 * per part; table names are [a-z_] (parseTableNames) and the readers and problems are JSON, so no two different
 * inputs give the same key.
 */
function tapeKey(h: NamespaceHandles, job: NetlinkJob, readers: readonly SourceReader[]): string {
  let r = readersKeys.get(readers);
  if (r === undefined) {
    r = JSON.stringify(readers.map((x) => x.sources));
    readersKeys.set(readers, r);
  }
  const opened = [h.netfilter, h.ipsetNetfilter, h.raw4, h.raw6].map((s) => (s === null ? 0 : 1)).join('');
  const problems = h.problems.length === 0 ? '' : JSON.stringify(h.problems.map((p) => `${p.what}: ${p.error.message}`));
  return `${job.maxSourceBytes}\n${r}\n${h.legacyTables.ipv4.join(',')}\n${h.legacyTables.ipv6.join(',')}\n${opened}\n${problems}`;
}

function scriptOf(bytes: Uint8Array): Script | null {
  try {
    return decodeScript(bytes);
  } catch (err) {
    if (err instanceof DecodeError) return null; // not a tape this build wrote: read afresh
    throw err;
  }
}

/**
 * Send every step of `script` again; true when every answer is the taped one. Stops at the first difference.
 * `skipLinks`: the links source's requests (role `route`) are left out, their answers vouched for by the route
 * events (route-events.ts).
 */
function replay(h: NamespaceHandles, script: Script, limits: RequestLimits, skipLinks: boolean): boolean {
  for (const step of script.steps) {
    if (step.kind === 'netlink') {
      if (skipLinks && step.role === 'route') continue;
      const sock = h[step.role];
      if (sock === null || !sock.replay(step, limits)) return false;
    } else {
      const sock = h[step.role];
      if (sock === null) return false;
      try {
        if (!sock.replay(step)) return false;
      } catch (err) {
        if (err instanceof NetlinkError) return false;
        throw err;
      }
    }
  }
  return true;
}

function readWith(h: NamespaceHandles, pin: Pin, job: NetlinkJob, readers: readonly SourceReader[], deadline: number): NetnsState {
  const state = emptyNetnsState();
  state.reader = 'netlink';
  state.sources = [];
  // The caller closes the handles or keeps them (release).
  for (const p of h.problems) state.notes!.push(`${p.what}: ${p.error.message}`);
  for (const r of readers) {
    const limits: RequestLimits = { maxBytes: job.maxSourceBytes, deadline };
    let statuses: SourceStatus[];
    try {
      statuses = r.read(h, limits, state);
    } catch (err) {
      const reason = err instanceof NetlinkError ? err.reason : 'parse';
      statuses = r.sources.map((source) => ({ source, status: 'failed' as const, reason, message: errorMessage(err) }));
    }
    for (const s of statuses) {
      state.sources.push(s);
      if (s.status !== 'complete') state.errors.push({ tool: `netlink:${s.source}`, reason: s.reason ?? s.status, message: s.message ?? s.status });
    }
  }
  if (h.setIndex?.lastError) state.notes!.push(`ipset names: ${h.setIndex.lastError.message}`);
  if (pin.stranded !== null) throw pin.stranded;
  // Sources no reader of this build covers are not guessed: marked unsupported (auto reads them through the tools).
  for (const source of ALL_SOURCES) {
    if (state.sources.some((s) => s.source === source)) continue;
    state.sources.push({ source, status: 'failed', reason: 'unsupported', message: `the netlink reader does not read ${source}` });
  }
  return state;
}
