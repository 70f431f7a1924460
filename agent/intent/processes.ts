/**
 * EXTENSION POINT (issue 12's process side, waiting for issue 11's process model): chaos-daemon's background
 * processes against what Chaos Mesh recorded for them. chaos-daemon identifies a process by its pid and its
 * creation time in ms (bpm ProcessPair: gopsutil CreateTime), and records:
 * - tproxy (HTTPChaos): PodHttpChaos status.pid / status.startTime;
 * - toda (IOChaos): PodIOChaos status.pid / status.startTime;
 * - stress-ng / memStress (StressChaos): status.instances[<record id>].uid / memoryUid = the pid as text,
 *   startTime / memoryStartTime (RFC 3339).
 * A recorded tproxy / toda is owned by the PodHttpChaos rules' / PodIOChaos actions' sources: once every one of
 * those experiments is absent, being deleted or stopped it is a leftover naming them (lifecycle.ts). Each entry
 * carries the words the fingerprint's process finding uses for it (its pid; toda also its FUSE mount), so that
 * finding gives it its kind and gets its owners.
 * `ChaosProcess` is the input attach.ts maps the pod's /proc facts to; null (those facts unknown) says nothing.
 */
import type { ChaosKind } from '../chaos/types.js';
import type { PendingEntry } from './drift.js';
import type { PodIntent } from './model.js';
import { httpSources, ioSources, ownerCondition } from './owners.js';

export interface ChaosProcess {
  command: 'tproxy' | 'toda' | 'stress-ng' | 'memStress';
  pid: number;
  /** Creation time, ms since the epoch (null when unknown). */
  startTimeMs: number | null;
}

/** chaos-daemon's start times are ms; /proc gives clock ticks since boot: allow a little skew. */
const START_TOLERANCE_MS = 2_000;

interface Expected {
  command: ChaosProcess['command'];
  pid: number;
  startTimeMs: number | null;
  owners: string[];
  what: string;
  /** The per-pod object whose rules / actions own it (their experiments' conditions decide: lifecycle.ts). */
  podChaos?: PendingEntry['podChaos'];
  /** What the fingerprint's findings on its other evidence say (toda's FUSE mount), beside its pid. */
  phrases: string[];
  /**
   * Why its owner no longer wants it (a StressChaos stopped or being deleted, whose recovery has not cleared
   * status.instances yet): not running is then what it should be, `stale` and not drift. (tproxy and toda: their
   * per-pod object's owners decide, lifecycle.ts, with a grace.)
   */
  unwanted?: string;
}

/**
 * The words a process finding uses for its process (agent/chaos/processes.ts: `... (pid <pid>, started ..., via
 * ...)`), so that finding gives the entry its kind and gets the entry's owners.
 */
function pidPhrase(pid: number): string {
  return `(pid ${pid}, `;
}

/** toda's FUSE mount as agent/chaos/processes.ts words it (`container <name>: <volume> is a toda FUSE mount`). */
function mountPhrase(container: string | null, volume: string): string {
  return `${container !== null ? `container ${container}` : ''}: ${volume} is a toda FUSE mount`;
}

function expectedProcesses(intent: PodIntent): Expected[] {
  const out: Expected[] = [];
  const h = intent.http;
  if (h?.pid) out.push({ command: 'tproxy', pid: h.pid, startTimeMs: h.startTime, owners: httpSources(h), what: 'PodHttpChaos status.pid', podChaos: 'PodHttpChaos', phrases: [] });
  const io = intent.io;
  if (io?.pid) {
    out.push({ command: 'toda', pid: io.pid, startTimeMs: io.startTime, owners: ioSources(io), what: 'PodIOChaos status.pid', podChaos: 'PodIOChaos',
      phrases: io.volumeMountPath !== '' ? [mountPhrase(io.container, io.volumeMountPath)] : [] });
  }
  for (const e of intent.experiments) {
    const ref = `${e.namespace}/${e.name}`;
    const condition = ownerCondition(e);
    const unwanted = condition === 'deleting' ? `StressChaos ${ref} is being deleted` : condition === 'stopped' ? `StressChaos ${ref} is stopped` : undefined;
    const gone = unwanted !== undefined ? { unwanted } : {};
    for (const i of e.instances) {
      const owner = [ref];
      const cpu = i.uid !== null ? Number(i.uid) : NaN;
      if (Number.isSafeInteger(cpu) && cpu > 0) out.push({ command: 'stress-ng', pid: cpu, startTimeMs: i.startTime ? Date.parse(i.startTime) : null, owners: owner, what: `StressChaos instance ${i.key}`, phrases: [], ...gone });
      const mem = i.memoryUid !== null ? Number(i.memoryUid) : NaN;
      if (Number.isSafeInteger(mem) && mem > 0) out.push({ command: 'memStress', pid: mem, startTimeMs: i.memoryStartTime ? Date.parse(i.memoryStartTime) : null, owners: owner, what: `StressChaos instance ${i.key} (memory)`, phrases: [], ...gone });
    }
  }
  return out;
}

function sameProcess(e: Expected, p: ChaosProcess): boolean {
  if (e.command !== p.command || e.pid !== p.pid) return false;
  if (e.startTimeMs === null || p.startTimeMs === null || Number.isNaN(e.startTimeMs)) return true;
  return Math.abs(e.startTimeMs - p.startTimeMs) <= START_TOLERANCE_MS;
}

/**
 * The kind a recorded process injects. A running one gets its kind from the fingerprint's finding on it; a missing
 * one has no finding, and gets this, so that it counts as drift of that kind (chaos_daemon_injection_drift{state=
 * "missing"}, or failed / pending under its object's apply state): Chaos Mesh records the fault as injected and
 * nothing injects it. Unless its owner no longer wants it (`unwanted`, or lifecycle.ts for tproxy / toda): stale.
 */
const KIND_OF: Readonly<Record<ChaosProcess['command'], ChaosKind>> = { tproxy: 'http', toda: 'io', 'stress-ng': 'stress', memStress: 'stress' };

/** Recorded processes vs the pod's chaos processes: present / missing / leftover. null processes: nothing known. */
export function reconcileProcesses(intent: PodIntent, processes: ChaosProcess[] | null): PendingEntry[] {
  if (processes === null) return [];
  const out: PendingEntry[] = [];
  const matched = new Set<ChaosProcess>();
  for (const e of expectedProcesses(intent)) {
    const p = processes.find((x) => !matched.has(x) && sameProcess(e, x));
    if (p) matched.add(p);
    const stale = !p && e.unwanted !== undefined;
    out.push({
      artefact: 'process', name: e.command, where: `pid ${e.pid}`, owners: e.owners, state: p ? 'present' : stale ? 'stale' : 'missing',
      kinds: p || stale ? [] : [KIND_OF[e.command]], active: p !== undefined, tokens: [], phrases: p ? [pidPhrase(p.pid), ...e.phrases] : [],
      ...(e.podChaos !== undefined ? { podChaos: e.podChaos } : {}),
      spec: `${e.command} pid ${e.pid} (${e.what})`, kernel: p ? `${p.command} pid ${p.pid} runs` : null,
      detail: p ? `${e.command} pid ${e.pid} runs, as ${e.what} records`
        : `${e.what} records ${e.command} pid ${e.pid}, which is not running (or is another process)${stale ? `; ${e.unwanted}: not drift` : ''}`,
    });
  }
  for (const p of processes) {
    if (matched.has(p)) continue;
    out.push({ artefact: 'process', name: p.command, where: `pid ${p.pid}`, owners: [], state: 'leftover', kinds: [], active: true, tokens: [], phrases: [pidPhrase(p.pid)],
      spec: null, kernel: `${p.command} pid ${p.pid} runs`,
      detail: `${p.command} pid ${p.pid} runs in the pod, but nothing in the Kubernetes API records it` });
  }
  return out;
}
