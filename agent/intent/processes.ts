/**
 * EXTENSION POINT (issue 12's process side, waiting for issue 11's process model): chaos-daemon's background
 * processes against what Chaos Mesh recorded for them. chaos-daemon identifies a process by its pid and its
 * creation time in ms (bpm ProcessPair: gopsutil CreateTime), and records:
 * - tproxy (HTTPChaos): PodHttpChaos status.pid / status.startTime;
 * - toda (IOChaos): PodIOChaos status.pid / status.startTime;
 * - stress-ng / memStress (StressChaos): status.instances[<record id>].uid / memoryUid = the pid as text,
 *   startTime / memoryStartTime (RFC 3339).
 * `ChaosProcess` is the provisional input: when issue 11's model of toda/tproxy/stress processes lands, map it to
 * this shape (or replace the type) and pass the pod's processes to reconcilePod; until then it receives null and
 * says nothing. The matching itself is done and tested.
 */
import type { PendingEntry } from './drift.js';
import type { PodIntent } from './model.js';

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
}

function expectedProcesses(intent: PodIntent): Expected[] {
  const out: Expected[] = [];
  const sources = (xs: (string | null)[]): string[] => [...new Set(xs.filter((s): s is string => !!s))].sort();
  if (intent.http?.pid) out.push({ command: 'tproxy', pid: intent.http.pid, startTimeMs: intent.http.startTime, owners: sources(intent.http.rules.map((r) => r.source)), what: 'PodHttpChaos status.pid' });
  if (intent.io?.pid) out.push({ command: 'toda', pid: intent.io.pid, startTimeMs: intent.io.startTime, owners: sources(intent.io.actions.map((a) => a.source)), what: 'PodIOChaos status.pid' });
  for (const e of intent.experiments) {
    for (const i of e.instances) {
      const owner = [`${e.namespace}/${e.name}`];
      const cpu = i.uid !== null ? Number(i.uid) : NaN;
      if (Number.isSafeInteger(cpu) && cpu > 0) out.push({ command: 'stress-ng', pid: cpu, startTimeMs: i.startTime ? Date.parse(i.startTime) : null, owners: owner, what: `StressChaos instance ${i.key}` });
      const mem = i.memoryUid !== null ? Number(i.memoryUid) : NaN;
      if (Number.isSafeInteger(mem) && mem > 0) out.push({ command: 'memStress', pid: mem, startTimeMs: i.memoryStartTime ? Date.parse(i.memoryStartTime) : null, owners: owner, what: `StressChaos instance ${i.key} (memory)` });
    }
  }
  return out;
}

function sameProcess(e: Expected, p: ChaosProcess): boolean {
  if (e.command !== p.command || e.pid !== p.pid) return false;
  if (e.startTimeMs === null || p.startTimeMs === null || Number.isNaN(e.startTimeMs)) return true;
  return Math.abs(e.startTimeMs - p.startTimeMs) <= START_TOLERANCE_MS;
}

/** Recorded processes vs the pod's chaos processes: present / missing / leftover. null processes: nothing known. */
export function reconcileProcesses(intent: PodIntent, processes: ChaosProcess[] | null): PendingEntry[] {
  if (processes === null) return [];
  const out: PendingEntry[] = [];
  const matched = new Set<ChaosProcess>();
  for (const e of expectedProcesses(intent)) {
    const p = processes.find((x) => !matched.has(x) && sameProcess(e, x));
    if (p) matched.add(p);
    out.push({
      artefact: 'process', name: e.command, where: `pid ${e.pid}`, owners: e.owners, state: p ? 'present' : 'missing',
      kinds: [], active: p !== undefined, tokens: [], phrases: [],
      spec: `${e.command} pid ${e.pid} (${e.what})`, kernel: p ? `${p.command} pid ${p.pid} runs` : null,
      detail: p ? `${e.command} pid ${e.pid} runs, as ${e.what} records` : `${e.what} records ${e.command} pid ${e.pid}, which is not running (or is another process)`,
    });
  }
  for (const p of processes) {
    if (matched.has(p)) continue;
    out.push({ artefact: 'process', name: p.command, where: `pid ${p.pid}`, owners: [], state: 'leftover', kinds: [], active: true, tokens: [], phrases: [],
      spec: null, kernel: `${p.command} pid ${p.pid} runs`,
      detail: `${p.command} pid ${p.pid} runs in the pod, but nothing in the Kubernetes API records it` });
  }
  return out;
}
