/**
 * One running container's facts that need its mount table and its root: the IOChaos mounts and the paths that may
 * block (its mountinfo), then DNSChaos (resolv.conf vs its backup) and the Byteman layout, read inside its root
 * through pod-root.ts. The result is plain data (structured-clone safe): the same function runs on the main thread
 * with thread-pool calls (facts.ts, `inspect`) or inside the root reader's worker with synchronous calls
 * (root-worker.ts). What the pod did wrong is recorded in `incomplete`, in the order it was met; only a bug throws.
 * The listeners' owners (JVMChaos) need the whole /proc scan: the caller adds them (jvm.ts withListenerOwners).
 */
import { constants, openSync } from 'node:fs';
import { errorMessage } from '../errors.js';
import { readDns, type DnsFact } from './dns.js';
import { ioChaosMounts } from './io-mounts.js';
import { readJvmLayout, type JvmFact } from './jvm.js';
import type { ContainerIoMount, ProcSource, ProcSourceError } from './model.js';
import { blockingMountPoints, mayMatter, mountstatsMayMatter, parseMountinfo } from './mountinfo.js';
import type { RootAccess } from './pod-root.js';
import { isGoneError, readCapped } from './read-capped.js';
import { O_PATH, SYNC_OPS } from './root-ops.js';

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
    const r = readCapped(`${job.procRoot}/${job.pid}/mountstats`, job.maxMountinfoBytes);
    return !r.truncated && !mountstatsMayMatter(r.buf.toString('latin1'));
  } catch (err) {
    void err; // mountinfo's own read meets the same failure and records it
    return false;
  }
}

/** The container's IOChaos mounts into `out`; returns its mount points that may block, or null when unread. */
function readMounts(out: RootFacts, job: RootJob): string[] | null {
  if (nothingMounted(job)) return [];
  const name = job.container.name;
  const maxBytes = job.maxMountinfoBytes;
  let text: string;
  let truncated = false;
  try {
    const r = readCapped(`${job.procRoot}/${job.pid}/mountinfo`, maxBytes);
    text = r.buf.toString('utf8');
    truncated = r.truncated;
    if (r.truncated) {
      text = text.replace(/\n[^\n]*$/, '\n');
      out.incomplete.push({ source: 'mounts', error: { reason: 'truncated', container: name, message: `mountinfo of ${name} is larger than ${maxBytes} bytes` } });
    }
  } catch (err) {
    const reason = isGoneError(err) ? 'vanished' : 'io';
    out.incomplete.push({ source: 'mounts', error: { reason, container: name, message: `mountinfo of ${name}: ${errorMessage(err)}` } });
    return null;
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

/** `sync`: synchronous calls, ONLY inside the root reader's worker (pod-root.ts RootAccess.sync). */
export async function readRootFacts(job: RootJob, sync = false): Promise<RootFacts> {
  const out: RootFacts = { mounts: [], incomplete: [], dns: null, jvm: null };
  const ref = job.container;
  const blocking = readMounts(out, job);
  if (blocking === null) {
    // Without its mount table the reader cannot know which paths may block: the root is not walked at all.
    const error = { reason: 'unsafe-mount', container: ref.name, message: `${ref.name}: mount table unread or cut, root not walked` };
    out.incomplete.push({ source: 'dns', error }, { source: 'jvm', error });
    return out;
  }
  const access: RootAccess = { procRoot: job.procRoot, pid: job.pid, deadline: Date.now() + job.timeoutMs, blocking: job.mountGuard === false ? [] : blocking, ...(sync ? { sync } : {}) };
  // Synchronous walks share one fd of the root (one open of /proc/<pid>/root instead of one per walk); when it
  // cannot be opened, each walk opens it and reports why as it always does.
  const rootFd = sync ? openRoot(job) : undefined;
  if (rootFd !== undefined) access.rootFd = rootFd;
  try {
    out.dns = await readDns(access, ref, job.maxFileBytes);
    if (out.dns.state === 'unknown') out.incomplete.push({ source: 'dns', error: { reason: out.dns.error?.reason ?? 'io', container: ref.name, message: out.dns.error?.message ?? 'unreadable' } });
    out.jvm = await readJvmLayout(access, ref, { procRoot: job.procRoot, ports: job.jvmPorts });
    if (out.jvm.state === 'unknown') out.incomplete.push({ source: 'jvm', error: { reason: out.jvm.error?.reason ?? 'io', container: ref.name, message: out.jvm.error?.message ?? 'unreadable' } });
  } finally {
    SYNC_OPS.close(rootFd);
  }
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
