/**
 * collectPodFacts: everything /proc says about every pod's non-network faults, from ONE scan (scan.ts) shared by
 * every pod: chaos processes placed by namespaces and cgroups, then per running container its mountinfo (IOChaos
 * mounts, and which paths are on filesystems that may block), resolv.conf vs its DNSChaos backup and the Byteman
 * layout, read inside the container's root (root-facts.ts: on the main thread, or in the root reader's worker
 * thread when one is given, root-reader.ts). A failure is recorded on the pod's source
 * (`unknown` in the fingerprint), never thrown: only a bug throws.
 */
import { mapLimit } from '../map-limit.js';
import { Slicer } from '../metrics/slicer.js';
import type { ContainerInfo, PodInfo } from '../runtime/types.js';
import { findChaosProcesses } from './chaos-processes.js';
import { DEFAULT_JVM_PORTS, withListenerOwners } from './jvm.js';
import { emptyPodProcFacts, markIncomplete, type PodProcFacts } from './model.js';
import { buildPodIndex, placeByCgroup, processesByPod, type PodIndex } from './pod-match.js';
import { otherNetns } from './other-netns.js';
import { readRootFacts, type RootFacts, type RootJob } from './root-facts.js';
import type { RootReader } from './root-reader.js';
import { detailOf, type ProcScan } from './scan.js';
import { compareNames } from '../compare-names.js';


/** Container name order (module level: see chaos/processes.ts on per-call closures). */
const byContainer = (a: { container: string }, b: { container: string }): number => compareNames(a.container, b.container);

export interface FactsOptions {
  procRoot: string;
  /** Byteman rule ports looked for (default [9277]). */
  jvmPorts?: readonly number[];
  /** Budget of one container's reads inside its root, ms (default 1000). */
  containerTimeoutMs?: number;
  /** Cap of resolv.conf and its backup (default 64 KiB). */
  maxFileBytes?: number;
  /** Cap of a container's mountstats and of its mountinfo, each (default 1 MiB). */
  maxMountinfoBytes?: number;
  /** Containers read at once on the main thread (default 8; without `rootReader`). */
  concurrency?: number;
  /** Reads the containers' mount tables and roots in a worker thread (serve, metrics); default: the main thread. */
  rootReader?: RootReader;
}

/**
 * The containers read on the main thread, `concurrency` at a time, every call through the thread pool. A
 * container's mountinfo read is synchronous, so without a yield the whole loop ran as one macrotask (the bench's
 * event-loop probe saw the proc collector block serve's loop 100-200 ms at 110 pods).
 */
async function readInThread(jobs: readonly RootJob[], concurrency: number): Promise<RootFacts[]> {
  const slicer = new Slicer();
  return mapLimit(jobs, concurrency, async (job) => {
    await slicer.point();
    return readRootFacts(job);
  });
}

export interface PodFactsResult {
  facts: Map<string, PodProcFacts>;
  index: PodIndex;
}

interface Target {
  pod: PodInfo;
  container: ContainerInfo;
  /** The container's PID (not null: only running containers with one are read). */
  pid: number;
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
  // Synchronous work between yields stays a few ms at 110 pods (the index, the chaos processes, each pod's targets,
  // each container's result): together they held serve's event loop for up to ~10 ms in one stretch.
  const slicer = new Slicer();
  const index = buildPodIndex(scan, pods);
  await slicer.point();
  const facts = new Map<string, PodProcFacts>();
  for (const pod of read) facts.set(pod.sandboxId, emptyPodProcFacts(pod.sandboxId));

  // Processes: one pass over the shared scan. A chaos process whose command line is unknown (its read blocked or
  // past the scan's deadline) was recognised by its comm alone: what only argv tells (tproxy's --proxy, toda's
  // volume) is unknown, so the pod's process source is too (its verdict `unknown` unless something proves `active`).
  for (const p of findChaosProcesses(scan, index)) {
    const f = facts.get(p.sandboxId);
    if (f === undefined) continue;
    f.processes.push(p);
    const unread = scan.cmdlineUnread.get(p.pid);
    if (unread !== undefined) markIncomplete(f, 'processes', { reason: unread.reason, message: `command line of ${p.comm} (pid ${p.pid}) unknown: ${unread.message}` });
  }
  const targets: Target[] = [];
  for (const pod of read) {
    if (slicer.due) await slicer.point(); // no promise per pod when the slice is not used up
    const f = facts.get(pod.sandboxId)!;
    if (!scan.complete) markIncomplete(f, 'processes', { reason: 'scan', message: `the /proc scan is incomplete: ${scan.incomplete ?? 'unknown reason'}` });
    for (const c of pod.containers) {
      if (c.state !== 'CONTAINER_RUNNING' || c.pid === null) continue;
      const p = detailOf(scan, c.pid);
      if (!p) {
        markIncomplete(f, 'processes', { reason: 'vanished', container: c.name, message: `container ${c.name} (pid ${c.pid}) was not in the /proc scan: its namespaces are unknown` });
      } else {
        // A PID the runtime reported but that now sits in another pod's cgroup was reused: its root is not this pod's.
        const other = placeByCgroup(index, p);
        if (other && other.sandboxId !== pod.sandboxId) {
          const why = { reason: 'vanished', container: c.name, message: `container ${c.name}: pid ${c.pid} now belongs to another pod, not read` };
          for (const source of ['processes', 'mounts', 'dns', 'jvm'] as const) markIncomplete(f, source, why);
          continue;
        }
        // Its namespaces are in the scan already (a detailPid): no read here.
        const elsewhere = otherNetns(pod, c.name, p);
        if (elsewhere !== null) (f.otherNetns ??= []).push(elsewhere);
      }
      targets.push({ pod, container: c, pid: c.pid });
    }
  }

  let byPod: Map<string, { pid: number; comm: string }[]> | null = null;
  const podProcesses = (sandboxId: string) => (): readonly { pid: number; comm: string }[] =>
    ((byPod ??= processesByPod(index, scan)).get(sandboxId) ?? []);
  const jobs: RootJob[] = [];
  for (const t of targets) {
    jobs.push({
      procRoot: opts.procRoot,
      pid: t.pid,
      container: { name: t.container.name, id: t.container.id },
      timeoutMs: opts.containerTimeoutMs ?? 1000,
      maxFileBytes: opts.maxFileBytes ?? 64 * 1024,
      maxMountinfoBytes: opts.maxMountinfoBytes ?? 1024 * 1024,
      jvmPorts: opts.jvmPorts ?? DEFAULT_JVM_PORTS,
    });
  }
  const results = opts.rootReader ? await opts.rootReader.read(jobs) : await readInThread(jobs, opts.concurrency ?? 8);
  for (const [i, t] of targets.entries()) {
    if (slicer.due) await slicer.point();
    const f = facts.get(t.pod.sandboxId)!;
    const r = results[i]!;
    f.mounts.push(...r.mounts);
    for (const e of r.incomplete) markIncomplete(f, e.source, e.error);
    if (r.dns) f.dns.push(r.dns);
    // The owners' thunk only for a container with listeners (most have none): a closure made per container was
    // recompiled every few collections (see chaos/processes.ts).
    if (r.jvm) f.jvm.push(r.jvm.listeners.length === 0 ? r.jvm : withListenerOwners(r.jvm, podProcesses(t.pod.sandboxId), opts.procRoot));
  }
  // Most pods have one entry or none: Array#sort allocates even then.
  for (const f of facts.values()) {
    if (f.dns.length > 1) f.dns.sort(byContainer);
    if (f.jvm.length > 1) f.jvm.sort(byContainer);
  }
  return { facts, index };
}
