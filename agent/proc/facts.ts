/**
 * collectPodFacts: everything /proc says about every pod's non-network faults, from ONE scan (scan.ts) shared by
 * every pod: chaos processes placed by namespaces and cgroups, then per running container its mountinfo (IOChaos
 * mounts, and which paths are on filesystems that may block), resolv.conf vs its DNSChaos backup and the Byteman
 * layout, read inside the container's root through pod-root.ts. A failure is recorded on the pod's source
 * (`unknown` in the fingerprint), never thrown: only a bug throws.
 */
import { errorMessage } from '../errors.js';
import { mapLimit } from '../map-limit.js';
import { Slicer } from '../metrics/slicer.js';
import type { ContainerInfo, PodInfo } from '../runtime/types.js';
import { findChaosProcesses } from './chaos-processes.js';
import { readDns } from './dns.js';
import { ioChaosMounts } from './io-mounts.js';
import { DEFAULT_JVM_PORTS, readJvm } from './jvm.js';
import { emptyPodProcFacts, markIncomplete, type PodProcFacts } from './model.js';
import { blockingMountPoints, mayMatter, parseMountinfo } from './mountinfo.js';
import { buildPodIndex, placeProcess, processesByPod, type PodIndex } from './pod-match.js';
import type { RootAccess } from './pod-root.js';
import { isGoneError, readCapped } from './read-capped.js';
import { detailOf, type ProcScan } from './scan.js';
import { compareNames } from '../compare-names.js';

export interface FactsOptions {
  procRoot: string;
  /** Byteman rule ports looked for (default [9277]). */
  jvmPorts?: readonly number[];
  /** Budget of one container's reads inside its root, ms (default 1000). */
  containerTimeoutMs?: number;
  /** Cap of resolv.conf and its backup (default 64 KiB). */
  maxFileBytes?: number;
  /** Cap of a container's mountinfo (default 1 MiB). */
  maxMountinfoBytes?: number;
  /** Containers read at once (default 8). */
  concurrency?: number;
}

export interface PodFactsResult {
  facts: Map<string, PodProcFacts>;
  index: PodIndex;
}

interface Target {
  pod: PodInfo;
  container: ContainerInfo & { pid: number };
}

/** The container's IOChaos mounts into `facts`; returns its mount points that may block, or null when unread. */
function readMounts(facts: PodProcFacts, t: Target, procRoot: string, maxBytes: number): string[] | null {
  const name = t.container.name;
  let text: string;
  let truncated = false;
  try {
    const r = readCapped(`${procRoot}/${t.container.pid}/mountinfo`, maxBytes);
    text = r.buf.toString('utf8');
    truncated = r.truncated;
    if (r.truncated) {
      text = text.replace(/\n[^\n]*$/, '\n');
      markIncomplete(facts, 'mounts', { reason: 'truncated', container: name, message: `mountinfo of ${name} is larger than ${maxBytes} bytes` });
    }
  } catch (err) {
    const reason = isGoneError(err) ? 'vanished' : 'io';
    markIncomplete(facts, 'mounts', { reason, container: name, message: `mountinfo of ${name}: ${errorMessage(err)}` });
    return null;
  }
  if (!truncated && !mayMatter(text)) return []; // no FUSE, network filesystem or __chaosfs__: nothing to parse
  const info = parseMountinfo(text);
  if (info.errors.length > 0) {
    markIncomplete(facts, 'mounts', { reason: 'parse', container: name, message: `mountinfo of ${name}: ${info.errors.length} unreadable lines (${info.errors[0]!.message})` });
  }
  for (const m of ioChaosMounts(info.mounts)) facts.mounts.push({ ...m, container: name, containerId: t.container.id });
  // A cut table may hide a mount that blocks: then nothing in the root is walked.
  return truncated ? null : blockingMountPoints(info.mounts);
}

/**
 * `pods`: every pod of the node (all of them place processes: a namespace shared by two pods identifies neither);
 * `read`: the pods whose facts are wanted (default all; `inspect ns/pod` reads one).
 */
export async function collectPodFacts(
  scan: ProcScan,
  pods: readonly PodInfo[],
  opts: FactsOptions,
  read: readonly PodInfo[] = pods,
): Promise<PodFactsResult> {
  const index = buildPodIndex(scan, pods);
  const facts = new Map<string, PodProcFacts>();
  for (const pod of read) facts.set(pod.sandboxId, emptyPodProcFacts(pod.sandboxId));

  // Processes: one pass over the shared scan.
  for (const p of findChaosProcesses(scan, index)) facts.get(p.sandboxId)?.processes.push(p);
  const targets: Target[] = [];
  for (const pod of read) {
    const f = facts.get(pod.sandboxId)!;
    if (!scan.complete) markIncomplete(f, 'processes', { reason: 'scan', message: `the /proc scan is incomplete: ${scan.incomplete ?? 'unknown reason'}` });
    for (const c of pod.containers) {
      if (c.state !== 'CONTAINER_RUNNING' || c.pid === null) continue;
      const p = detailOf(scan, c.pid);
      if (!p) {
        markIncomplete(f, 'processes', { reason: 'vanished', container: c.name, message: `container ${c.name} (pid ${c.pid}) was not in the /proc scan: its namespaces are unknown` });
      } else {
        // A PID the runtime reported but that now sits in another pod's cgroup was reused: its root is not this pod's.
        const other = placeProcess(index, p).cgroup;
        if (other && other.sandboxId !== pod.sandboxId) {
          const why = { reason: 'vanished', container: c.name, message: `container ${c.name}: pid ${c.pid} now belongs to another pod, not read` };
          for (const source of ['processes', 'mounts', 'dns', 'jvm'] as const) markIncomplete(f, source, why);
          continue;
        }
      }
      targets.push({ pod, container: { ...c, pid: c.pid } });
    }
  }

  let byPod: Map<string, { pid: number; comm: string }[]> | null = null;
  const podProcesses = (sandboxId: string) => (): readonly { pid: number; comm: string }[] =>
    ((byPod ??= processesByPod(index, scan)).get(sandboxId) ?? []);
  const ports = opts.jvmPorts ?? DEFAULT_JVM_PORTS;
  const maxFile = opts.maxFileBytes ?? 64 * 1024;
  // A container's reads are synchronous, so without a yield the whole loop ran as one macrotask (the bench's
  // event-loop probe saw the proc collector block serve's loop 100-200 ms at 110 pods).
  const slicer = new Slicer();
  await mapLimit(targets, opts.concurrency ?? 8, async (t) => {
    await slicer.point();
    const f = facts.get(t.pod.sandboxId)!;
    const blocking = readMounts(f, t, opts.procRoot, opts.maxMountinfoBytes ?? 1024 * 1024);
    if (blocking === null) {
      // Without its mount table the reader cannot know which paths may block: the root is not walked at all.
      const why = { reason: 'unsafe-mount', container: t.container.name, message: `${t.container.name}: mount table unread or cut, root not walked` };
      markIncomplete(f, 'dns', why);
      markIncomplete(f, 'jvm', why);
      return;
    }
    const access: RootAccess = { procRoot: opts.procRoot, pid: t.container.pid, deadline: Date.now() + (opts.containerTimeoutMs ?? 1000), blocking };
    const ref = { name: t.container.name, id: t.container.id };
    const dns = await readDns(access, ref, maxFile);
    f.dns.push(dns);
    if (dns.state === 'unknown') markIncomplete(f, 'dns', { reason: dns.error?.reason ?? 'io', container: ref.name, message: dns.error?.message ?? 'unreadable' });
    const jvm = await readJvm(access, ref, podProcesses(t.pod.sandboxId), { procRoot: opts.procRoot, ports });
    f.jvm.push(jvm);
    if (jvm.state === 'unknown') markIncomplete(f, 'jvm', { reason: jvm.error?.reason ?? 'io', container: ref.name, message: jvm.error?.message ?? 'unreadable' });
  });
  for (const f of facts.values()) {
    f.dns.sort((a, b) => compareNames(a.container, b.container));
    f.jvm.sort((a, b) => compareNames(a.container, b.container));
  }
  return { facts, index };
}
