/**
 * One namespace read over netlink, synchronous, run inside a worker thread: enter the namespace just long enough
 * to open its sockets and read the /proc/thread-self/net files that say which legacy tables exist, come back, then
 * run every source's dumps from the worker's own namespace and decode them into the one NetnsState model.
 *
 * Each source is independent: one that fails or is cut at its byte cap is recorded in `sources` and `errors`, and
 * the others are still read. The namespace is pinned by its fd from the inode check to the last socket opened,
 * so a recycled PID cannot substitute another namespace. Rules no decoder can render exactly are kept and marked
 * `opaque` (the auto reader reads such a namespace again through the tools).
 */
import { NetlinkError, errorMessage } from '../../errors.js';
import { ALL_SOURCES, emptyNetnsState, type NetnsState, type SourceName, type SourceStatus } from '../state.js';
import { withNetns, type Inside } from './enter.js';
import type { NetlinkSocket, RawSocket, RequestLimits } from './socket.js';
import { SetIndex } from './xt/set-index.js';

export interface NetlinkJob {
  /** The namespace file (/proc/<pid>/ns/net or a runtime's netns path), already validated by the caller. */
  path: string;
  /** Inode the runtime layer resolved; null to accept whatever the path names (inspect --netns). */
  inode: number | null;
  /** Bytes kept per source at most (the rest of a dump is drained, not kept; the source is `truncated`). */
  maxSourceBytes: number;
  /** Time budget of the whole read, ms. */
  budgetMs: number;
}

/** The sockets and /proc facts one read uses, opened inside the namespace. */
export interface NamespaceHandles {
  route: NetlinkSocket;
  netfilter: NetlinkSocket | null;
  raw4: RawSocket | null;
  raw6: RawSocket | null;
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

function openHandles(inside: Inside): NamespaceHandles {
  const problems: NamespaceHandles['problems'] = [];
  const route = inside.route();
  const netfilter = tryOpen('netfilter socket', () => inside.netfilter(), problems);
  const ipv4 = parseTableNames(inside.procNet('ip_tables_names'));
  const ipv6 = parseTableNames(inside.procNet('ip6_tables_names'));
  // Raw sockets need NET_RAW; only opened when there are legacy tables to read (or ipset names to resolve).
  const raw4 = tryOpen('raw socket ipv4', () => inside.raw('ipv4'), problems);
  const raw6 = ipv6.length > 0 ? tryOpen('raw socket ipv6', () => inside.raw('ipv6'), problems) : null;
  const setIndex = raw4 !== null ? new SetIndex(raw4) : null;
  return { route, netfilter, raw4, raw6, legacyTables: { ipv4, ipv6 }, setName: (i) => (setIndex === null ? null : setIndex.name(i)), setIndex, problems };
}

function closeHandles(h: NamespaceHandles): void {
  h.route.close();
  h.netfilter?.close();
  h.raw4?.close();
  h.raw6?.close();
}

/**
 * Read one namespace with the given source readers. Throws only what makes the whole read impossible (the
 * namespace vanished or names another one, setns refused, the thread stranded); everything else is in the state.
 */
export function readNamespace(job: NetlinkJob, readers: readonly SourceReader[]): NetnsState {
  const started = performance.now();
  const deadline = started + job.budgetMs;
  const { value: h } = withNetns(job.path, job.inode, openHandles);
  const state = emptyNetnsState();
  state.reader = 'netlink';
  state.sources = [];
  try {
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
  } finally {
    closeHandles(h);
  }
  // Sources no reader of this build covers are not guessed: marked unsupported (auto reads them through the tools).
  for (const source of ALL_SOURCES) {
    if (state.sources.some((s) => s.source === source)) continue;
    state.sources.push({ source, status: 'failed', reason: 'unsupported', message: `the netlink reader does not read ${source}` });
  }
  return state;
}
