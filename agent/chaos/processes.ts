/**
 * Findings for faults that are not network state (agent/proc facts), and their merge into a pod's ChaosReport.
 * Pure. Kinds: `io` (toda process, toda FUSE mount, a volume still moved to __chaosfs__), `stress` (stress-ng,
 * memStress), `http` (tproxy processes), `dns` (resolv.conf vs its DNSChaos backup), `jvm` (Byteman agent).
 *
 * Levels follow what Chaos Mesh's recovery leaves: it kills toda, stress-ng and memStress, so a live one is
 * `active` (an injection, or a leftover of one: the process alone proves it is there); it leaves `tproxy -i` idle
 * and the DNS backup and Byteman jars in place, so those alone are `scaffolding`; a running `tproxy --proxy`, a
 * resolv.conf that differs from its backup and a listening Byteman agent are `active`.
 */
import type { ChaosProcess } from '../proc/chaos-processes.js';
import type { PodProcFacts } from '../proc/model.js';
import { PROC_SOURCES } from '../proc/model.js';
import { otherNetnsNote } from '../proc/other-netns.js';
import type { PodInfo } from '../runtime/types.js';
import type { ChaosKind, ChaosReport, Finding } from './types.js';
import { plural } from './format.js';

type Containers = Pick<PodInfo, 'containers'>;

function containerName(pod: Containers, id: string | null): string | null {
  if (id === null) return null;
  return pod.containers.find((c) => c.id === id)?.name ?? id.slice(0, 12);
}

function argv(p: ChaosProcess): string {
  if (p.cmdline === null) return `[${p.comm}]`;
  return p.cmdline.join(' ') + (p.cmdlineTruncated ? ' ...' : '');
}

function evidence(p: ChaosProcess): string {
  const parts = [`pid ${p.pid}`];
  if (p.startTimeMs !== null) parts.push(`started ${new Date(p.startTimeMs).toISOString()}`);
  parts.push(`via ${p.via.join('+')}`);
  if (p.cgroup !== null) parts.push(`cgroup ${p.cgroup}`);
  parts.push(p.launchedBy ? `launched by chaos-daemon pid ${p.launchedBy.pid}` : 'no chaos-daemon ancestor');
  return parts.join(', ');
}

function where(pod: Containers, p: ChaosProcess): string {
  const name = containerName(pod, p.containerId);
  return name === null ? 'the pod' : `container ${name}`;
}

function processFinding(pod: Containers, p: ChaosProcess, all: readonly ChaosProcess[]): Finding {
  const at = where(pod, p);
  switch (p.role) {
    case 'toda':
      return { kind: 'io', level: 'active', message: `toda injects IOChaos into ${at}${p.volume ? ` on ${p.volume}` : ''}: ${argv(p)} (${evidence(p)})` };
    case 'stress-ng':
      return { kind: 'stress', level: 'active', message: `stress-ng stresses ${at}${p.workers ? ` with ${plural(p.workers, 'worker')}` : ''} (StressChaos): ${argv(p)} (${evidence(p)})` };
    case 'memStress':
      return { kind: 'stress', level: 'active', message: `memStress stresses ${at}'s memory (StressChaos): ${argv(p)} (${evidence(p)})` };
    case 'tproxy-proxy':
      return { kind: 'http', level: 'active', message: `tproxy --proxy intercepts HTTP for ${at} (HTTPChaos): ${argv(p)} (${evidence(p)})` };
    case 'tproxy': {
      const proxying = all.some((q) => q.role === 'tproxy-proxy' && q.sandboxId === p.sandboxId);
      return proxying
        ? { kind: 'http', level: 'active', message: `tproxy -i controls an HTTPChaos proxy in ${at}: ${argv(p)} (${evidence(p)})` }
        : { kind: 'http', level: 'scaffolding', message: `idle tproxy -i left by HTTPChaos in ${at} (Chaos Mesh does not stop it on recovery; no proxy running): ${argv(p)} (${evidence(p)})` };
    }
  }
}

function list(xs: readonly string[] | null): string {
  return xs === null || xs.length === 0 ? '(none)' : xs.join(', ');
}

// Module-level callbacks, not closures made per call: V8 drops the optimised code of a closure once no live
// instance holds it (a full GC after the collection that made it), so a per-call callback on a hot path was
// recompiled by TurboFan every few collections (bench: ~8 recompilations per collection, the V8 threads' ~50 ms).
const isActive = (f: Finding): boolean => f.level === 'active';
const isNotActive = (f: Finding): boolean => f.level !== 'active';
const messageOf = (f: Finding): string => f.message;

/** Every finding of one pod's /proc facts, active first. */
export function procFindings(facts: PodProcFacts, pod: Containers): Finding[] {
  const out: Finding[] = facts.processes.map((p) => processFinding(pod, p, facts.processes));
  for (const m of facts.mounts) {
    if (m.fuse) {
      const moved = m.movedTo ? `; the volume is moved to ${m.movedTo}` : '';
      out.push({ kind: 'io', level: 'active', message: `container ${m.container}: ${m.volume} is a toda FUSE mount (IOChaos, ${m.fuse.fstype} source ${m.fuse.source})${moved}` });
    } else if (m.movedTo) {
      out.push({ kind: 'io', level: 'active', message: `container ${m.container}: the volume of ${m.volume} is still moved to ${m.movedTo} with no toda mount on ${m.volume} (failed IOChaos recovery: the application sees the bare mount point)` });
    }
  }
  for (const d of facts.dns) {
    if (d.state === 'active') {
      out.push({ kind: 'dns', level: 'active', message: `container ${d.container}: /etc/resolv.conf nameservers ${list(d.nameservers)} differ from /etc/resolv.conf.chaos.bak's ${list(d.backupNameservers)} (DNSChaos)` });
    } else if (d.state === 'scaffolding') {
      out.push({ kind: 'dns', level: 'scaffolding', message: `container ${d.container}: /etc/resolv.conf.chaos.bak left by a recovered DNSChaos (same nameservers: ${list(d.nameservers)})` });
    }
  }
  for (const j of facts.jvm) {
    const jars = j.jars.join(', ');
    if (j.state === 'active') {
      const l = j.listeners.map((x) => `${x.address}:${x.port}${x.owner ? ` (${x.owner.comm} pid ${x.owner.pid})` : ''}`).join(', ');
      out.push({ kind: 'jvm', level: 'active', message: `container ${j.container}: Byteman agent listening on ${l} with ${jars} in /usr/local/byteman/lib (JVMChaos; the agent stays loaded after recovery and its rules cannot be read from /proc)` });
    } else if (j.state === 'scaffolding') {
      out.push({ kind: 'jvm', level: 'scaffolding', message: `container ${j.container}: Byteman jars (${jars}) left in /usr/local/byteman/lib with no listener on the rule port` });
    }
  }
  // Most pods have no finding: then no filtered copies (a new empty array either way).
  return out.length === 0 ? out : [...out.filter(isActive), ...out.filter(isNotActive)];
}

/** Sentences for the pod's `errors`: every incomplete source and why, and every container's namespace not read. */
export function procErrors(facts: PodProcFacts): string[] {
  const out: string[] = [];
  for (const s of PROC_SOURCES) {
    for (const e of facts.sources[s].errors) out.push(`${s}: ${e.message} (${e.reason})`);
  }
  for (const o of facts.otherNetns ?? []) out.push(otherNetnsNote(o));
  return out;
}

/**
 * The pod's report with its /proc findings added. `facts` null: /proc could not be read for this pod (`why`).
 * An active finding on either side makes the pod `active`; otherwise an incomplete /proc source (or no facts), or
 * a container in another network namespace than the pod's (other-netns.ts: not read), makes it `unknown`, never `clean`; otherwise scaffolding on either side makes it `scaffolding`.
 */

export function mergeProcReport(report: ChaosReport, facts: PodProcFacts | null, pod: Containers, why = 'the /proc scan failed'): ChaosReport {
  const extra = facts ? procFindings(facts, pod) : [];
  let incomplete = facts === null;
  for (const s of PROC_SOURCES) if (facts !== null && !facts.sources[s].complete) incomplete = true;
  // A container's network namespace that was not read (not the pod's) could hold faults: never `clean`.
  if (facts !== null && facts.otherNetns !== undefined && facts.otherNetns.length > 0) incomplete = true;
  const netActive = report.details.filter(isActive);
  const netActiveText = new Set(netActive.map(messageOf));
  const details = [...netActive, ...extra.filter(isActive), ...report.details.filter(isNotActive), ...extra.filter(isNotActive)];
  // The network side's sentences (some, like `not inspected: ...`, have no detail), active ones first.
  const findings = [...netActive.map(messageOf), ...extra.filter(isActive).map(messageOf)];
  for (const t of report.findings) if (!netActiveText.has(t)) findings.push(t);
  for (const f of extra) if (f.level !== 'active') findings.push(f.message);
  const kinds = new Set<ChaosKind>(report.kinds);
  for (const f of extra) if (f.level === 'active' && f.kind) kinds.add(f.kind);
  const active = report.verdict === 'active' || extra.some((f) => f.level === 'active');
  let verdict: ChaosReport['verdict'];
  if (active) verdict = 'active';
  else if (report.verdict === 'unknown' || incomplete) verdict = 'unknown';
  else if (report.verdict === 'scaffolding' || extra.some((f) => f.level === 'scaffolding')) verdict = 'scaffolding';
  else verdict = 'clean';
  if (facts === null && !active) findings.push(`not inspected: ${why}`);
  return { verdict, kinds: verdict === 'active' ? [...kinds].sort() : [], findings, details };
}
