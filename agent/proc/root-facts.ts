/**
 * One running container's facts that need its mount table and its root: the IOChaos mounts and the paths that may
 * block (its mountinfo), then DNSChaos (resolv.conf vs its backup) and the Byteman layout, read inside its root
 * through pod-root.ts. The result is plain data (structured-clone safe): the same function runs on the main thread
 * with thread-pool calls (facts.ts, `inspect`, the root reader when no worker can run) or inside the root reader's
 * worker with synchronous calls (root-worker.ts). On the main thread the mount table too is read through the pool,
 * raced against the container's deadline (async-read.ts): reading mountinfo or mountstats takes the namespace's
 * mount lock, which a stuck mount can hold, and a synchronous read there would freeze the event loop. What the pod did wrong is recorded in `incomplete`, in the order it was met; only a bug throws.
 * The listeners' owners (JVMChaos) need the whole /proc scan: the caller adds them (jvm.ts withListenerOwners).
 */
import { constants, openSync } from 'node:fs';
import { errorMessage } from '../errors.js';
import { readDns, type DnsFact } from './dns.js';
import { ioChaosMounts } from './io-mounts.js';
import { readJvmLayout, type JvmFact } from './jvm.js';
import type { ContainerIoMount, ProcSource, ProcSourceError } from './model.js';
import type { QuietMounts } from './mount-quiet.js';
import { blockingMountPoints, mayMatter, mountstatsMayMatter, parseMountinfo } from './mountinfo.js';
import type { RootAccess } from './pod-root.js';
import { isGoneError, readCapped, type CappedRead } from './read-capped.js';
import { O_PATH, SYNC_OPS } from './root-ops.js';
import { Deadline, EXPIRED, readCappedAsync } from './async-read.js';

export interface RootJob {
  procRoot: string;
  /** The container's PID (its root and mount table). */
  pid: number;
  container: { name: string; id: string };
  /** Budget of the container's reads inside its root, ms, from the moment they start. */
  timeoutMs: number;
  maxFileBytes: number;
  maxMountinfoBytes: number;
  jvmPorts: readonly number[];
  /**
   * false: walk the root even on mounts that may block (TESTS ONLY: a real blocking FUSE lookup, to show the root
   * reader's watchdog at work). Default true: paths on FUSE and network filesystems are never walked.
   */
  mountGuard?: boolean;
}

export interface RootFacts {
  mounts: ContainerIoMount[];
  /** Sources found incomplete, in the order met. */
  incomplete: { source: ProcSource; error: ProcSourceError }[];
  /** null when the root was not walked (mount table unread or cut). */
  dns: DnsFact | null;
  /** Without the listeners' owners; null when the root was not walked. */
  jvm: JvmFact | null;
}

/**
 * True when the container's mountstats, read whole, shows no FUSE or network filesystem and no __chaosfs__ mount
 * point (mountinfo.ts mountstatsMayMatter): its mountinfo would then give no IOChaos mount and no mount that may
 * block, and need not be read. Any failure (the process exited, no permission: mountstats is 0400) or a cut read
 * says false: mountinfo is read and classifies it as before.
 */
function nothingMounted(job: RootJob): boolean {
  try {
    return showsNothing(readCapped(`${job.procRoot}/${job.pid}/mountstats`, job.maxMountinfoBytes));
  } catch (err) {
    void err; // mountinfo's own read meets the same failure and records it
    return false;
  }
}

function showsNothing(r: CappedRead): boolean {
  return !r.truncated && !mountstatsMayMatter(r.buf.toString('latin1'));
}

/**
 * The container's IOChaos mounts into `out`; returns its mount points that may block, or null when unread. With
 * `quiet` (the root reader's thread, when the main thread has mount events: mount-quiet.ts), a container whose
 * mountstats showed nothing and whose mount namespace had no event since is not read again.
 */
function readMounts(out: RootFacts, job: RootJob, quiet?: QuietMounts, rootFd?: number): string[] | null {
  if (quiet?.unchanged(job, rootFd) === true) return [];
  const nothing = nothingMounted(job);
  quiet?.read(job, nothing);
  if (nothing) return [];
  let r: CappedRead;
  try {
    r = readCapped(`${job.procRoot}/${job.pid}/mountinfo`, job.maxMountinfoBytes);
  } catch (err) {
    return unreadMountinfo(out, job, err);
  }
  return mountsOf(out, job, r);
}

function unreadMountinfo(out: RootFacts, job: RootJob, err: unknown): null {
  const name = job.container.name;
  const reason = isGoneError(err) ? 'vanished' : 'io';
  out.incomplete.push({ source: 'mounts', error: { reason, container: name, message: `mountinfo of ${name}: ${errorMessage(err)}` } });
  return null;
}

/**
 * readMounts through the thread pool, each file raced against `deadline`: EXPIRED when one was not read by then
 * (its read is abandoned: it closes its own fd when it returns).
 */
async function readMountsAsync(out: RootFacts, job: RootJob, deadline: Deadline): Promise<string[] | null | typeof EXPIRED> {
  const dir = `${job.procRoot}/${job.pid}`;
  try {
    const stats = await deadline.race(readCappedAsync(`${dir}/mountstats`, job.maxMountinfoBytes, deadline.at));
    if (stats === EXPIRED) return EXPIRED;
    if (showsNothing(stats)) return [];
  } catch (err) {
    void err; // as nothingMounted: mountinfo's own read meets the same failure and records it
  }
  if (deadline.left <= 0) return EXPIRED;
  let r: CappedRead | typeof EXPIRED;
  try {
    r = await deadline.race(readCappedAsync(`${dir}/mountinfo`, job.maxMountinfoBytes, deadline.at));
  } catch (err) {
    return unreadMountinfo(out, job, err);
  }
  return r === EXPIRED ? EXPIRED : mountsOf(out, job, r);
}

/** readMounts' classification of the mount table read as `r`. */
function mountsOf(out: RootFacts, job: RootJob, r: CappedRead): string[] | null {
  const name = job.container.name;
  const maxBytes = job.maxMountinfoBytes;
  let text = r.buf.toString('utf8');
  const truncated = r.truncated;
  if (truncated) {
    text = text.replace(/\n[^\n]*$/, '\n');
    out.incomplete.push({ source: 'mounts', error: { reason: 'truncated', container: name, message: `mountinfo of ${name} is larger than ${maxBytes} bytes` } });
  }
  if (!truncated && !mayMatter(text)) return []; // no FUSE, network filesystem or __chaosfs__: nothing to parse
  const info = parseMountinfo(text);
  if (info.errors.length > 0) {
    out.incomplete.push({ source: 'mounts', error: { reason: 'parse', container: name, message: `mountinfo of ${name}: ${info.errors.length} unreadable lines (${info.errors[0]!.message})` } });
  }
  for (const m of ioChaosMounts(info.mounts)) out.mounts.push({ ...m, container: name, containerId: job.container.id });
  // A cut table may hide a mount that blocks: then nothing in the root is walked.
  return truncated ? null : blockingMountPoints(info.mounts);
}

/**
 * `sync`: synchronous calls, ONLY inside the root reader's worker (pod-root.ts RootAccess.sync); the budget then
 * starts after the mount table (the worker's watchdog bounds the whole container). Otherwise every call goes
 * through the thread pool and ONE deadline, `timeoutMs` from now, bounds the mount table and the root together.
 * `quiet`: with `sync` only (readMounts).
 */
export async function readRootFacts(job: RootJob, sync = false, quiet?: QuietMounts): Promise<RootFacts> {
  if (sync) {
    const out = emptyFacts();
    // Synchronous walks share one fd of the root (one open of /proc/<pid>/root instead of one per walk), opened
    // first: `quiet` compares it with the root of the container's last read. When it cannot be opened, each walk
    // opens the root and reports why as it always does.
    const rootFd = openRoot(job);
    try {
      return await readWith(job, readMounts(out, job, quiet, rootFd), true, out, undefined, rootFd);
    } finally {
      SYNC_OPS.close(rootFd);
    }
  }
  const deadline = new Deadline(Date.now() + job.timeoutMs);
  try {
    const out = emptyFacts();
    const blocking = await readMountsAsync(out, job, deadline);
    if (blocking !== EXPIRED) return await readWith(job, blocking, false, out, deadline.at);
    const ref = job.container;
    const error = { reason: 'timeout', container: ref.name, message: `${ref.name}: mount table not read within ${job.timeoutMs} ms (blocked in the kernel?), root not walked` };
    out.incomplete.push({ source: 'mounts', error }, { source: 'dns', error }, { source: 'jvm', error });
    return out;
  } finally {
    deadline.clear();
  }
}

function emptyFacts(): RootFacts {
  return { mounts: [], incomplete: [], dns: null, jvm: null };
}

/**
 * The container's root read once its mount table is (`blocking`, null when unread or cut: the root is not walked),
 * into `out`; `deadline` (Date.now() time) defaults to `timeoutMs` from now; `rootFd` (sync only, the caller's):
 * the root every walk starts from.
 */
async function readWith(job: RootJob, blocking: string[] | null, sync: boolean, out: RootFacts, deadline = Date.now() + job.timeoutMs, rootFd?: number): Promise<RootFacts> {
  const ref = job.container;
  if (blocking === null) {
    // Without its mount table the reader cannot know which paths may block: the root is not walked at all.
    const error = { reason: 'unsafe-mount', container: ref.name, message: `${ref.name}: mount table unread or cut, root not walked` };
    out.incomplete.push({ source: 'dns', error }, { source: 'jvm', error });
    return out;
  }
  const access: RootAccess = { procRoot: job.procRoot, pid: job.pid, deadline, blocking: job.mountGuard === false ? [] : blocking, ...(sync ? { sync } : {}) };
  if (rootFd !== undefined) access.rootFd = rootFd;
  out.dns = await readDns(access, ref, job.maxFileBytes);
  if (out.dns.state === 'unknown') out.incomplete.push({ source: 'dns', error: { reason: out.dns.error?.reason ?? 'io', container: ref.name, message: out.dns.error?.message ?? 'unreadable' } });
  out.jvm = await readJvmLayout(access, ref, { procRoot: job.procRoot, ports: job.jvmPorts });
  if (out.jvm.state === 'unknown') out.incomplete.push({ source: 'jvm', error: { reason: out.jvm.error?.reason ?? 'io', container: ref.name, message: out.jvm.error?.message ?? 'unreadable' } });
  return out;
}

/** O_PATH fd of the container's root (the magic link followed, nothing after it), or undefined when it fails. */
function openRoot(job: RootJob): number | undefined {
  try {
    return openSync(`${job.procRoot}/${job.pid}/root`, O_PATH | constants.O_DIRECTORY);
  } catch (err) {
    void err; // the walks open it again and classify the failure (vanished, io) on the facts
    return undefined;
  }
}
