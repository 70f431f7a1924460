/**
 * PodReport: one pod (or one --netns/--pid target) and what was read from its network namespace, and its JSON shape
 * (`inspect --json`, /debug/pods).
 */
import { applyCompleteness } from '../chaos/completeness.js';
import { fingerprint, type FingerprintContext } from '../chaos/fingerprint.js';
import type { ChaosReport } from '../chaos/types.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { emptyNetnsState, type IpsetDump, type IptablesDump, type NetnsState, type TcDump } from '../netns/state.js';
import type { PodProcFacts } from '../proc/model.js';
import type { PodInfo } from '../runtime/types.js';
import type { PodReport } from '../snapshot.js';
import { exportedQdiscs } from '../metrics/qdisc-cap.js';
import { DEFAULT_MAX_RULES_PER_POD, capDumps } from '../metrics/rule-cap.js';
import { driftJson, intentJson } from '../intent/json.js';

const NOT_INSPECTED = 'not inspected: ';

/** A report for a namespace that could not be read: verdict `unknown` (nothing can be claimed), the finding says why. */
export function notInspected(reason: string): ChaosReport {
  return { verdict: 'unknown', kinds: [], findings: [`${NOT_INSPECTED}${reason}`], details: [] };
}

/** Why the entry was not inspected (its first `not inspected:` finding), or null. */
export function notInspectedReason(r: Pick<PodReport, 'chaos'>): string | null {
  const f = r.chaos.findings.find((x) => x.startsWith(NOT_INSPECTED));
  return f === undefined ? null : f.slice(NOT_INSPECTED.length);
}

/** Human sentences for a read's failures. */
export function stateErrors(state: NetnsState): string[] {
  return state.errors.map((e) => (e.message.startsWith(`${e.tool}:`) ? `${e.message} (${e.reason})` : `${e.tool}: ${e.message} (${e.reason})`));
}

/** True when the namespace itself could not be read at all (gone before anything was read). */
export function vanished(state: NetnsState): boolean {
  const sources = state.sources ?? [];
  return sources.length > 0 && sources.every((s) => s.status === 'failed' && s.reason === 'vanished');
}

/** True when no source could be read at all. */
function unreadable(state: NetnsState): boolean {
  const sources = state.sources ?? [];
  return sources.length > 0 && sources.every((s) => s.status === 'failed');
}

/** The verdict of a read: fingerprint (never throws here), limited to what the read's completeness allows. */
export function judge(state: NetnsState, log: Logger, ctx: FingerprintContext = {}): ChaosReport {
  if (vanished(state)) return notInspected('the pod or its network namespace vanished');
  if (unreadable(state)) return notInspected(`the namespace could not be read: ${stateErrors(state)[0] ?? 'every source failed'}`);
  let report: ChaosReport;
  try {
    report = fingerprint(state, ctx);
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'fingerprint failed');
    return notInspected(`fingerprint failed: ${errorMessage(err)}`);
  }
  return applyCompleteness(report, state.sources ?? []);
}

export interface ReportBase {
  namespace: string;
  name: string;
  runtime: string;
  netns: PodReport['netns'];
  pod: PodInfo | null;
}

export function baseOf(p: PodInfo): ReportBase {
  return { namespace: p.namespace, name: p.name, runtime: p.runtime, netns: p.netns, pod: p };
}

/**
 * The report of one pod's read. Built field by field, not as `{ ...base, chaos, ... }`: on Node 20's V8, properties
 * added to an object literal after a spread take a slow path (~60 µs for this one, measured; 110 per collection).
 */
export function reportFrom(base: ReportBase, state: NetnsState, chaos: ChaosReport, spawns: number, extraErrors: string[] = []): PodReport {
  const report: PodReport = {
    namespace: base.namespace,
    name: base.name,
    runtime: base.runtime,
    netns: base.netns,
    pod: base.pod,
    chaos,
    iptables: state.iptables,
    ipsets: state.ipsets,
    tc: state.tc,
    ipRules: state.ipRules,
    dnsChaos: [],
    errors: [...extraErrors, ...stateErrors(state)],
    spawns,
    reader: state.reader ?? null,
    sources: state.sources ?? [],
  };
  if (state.notes && state.notes.length > 0) report.notes = state.notes;
  if (state.links !== undefined) report.links = state.links;
  if (state.addresses !== undefined) report.addresses = state.addresses;
  if (state.routes !== undefined) report.routes = state.routes;
  if (state.ebtables !== undefined) report.ebtables = state.ebtables;
  return report;
}

export function unreadReport(pod: PodInfo, why: string): PodReport {
  return reportFrom(baseOf(pod), emptyNetnsState(), notInspected(why), 0, [why]);
}

/** True when something was read from the entry's namespace. */
export function wasInspected(r: PodReport): boolean {
  return r.netns !== null && notInspectedReason(r) === null;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON shape (inspect --json, /debug/pods)

interface ErrLike {
  line?: number;
  text?: string;
  message?: string;
}
const errJson = (e: ErrLike) => ({ line: e.line ?? 0, text: e.text ?? '', message: e.message ?? String(e) });

export function iptablesJson(d: IptablesDump) {
  return { backend: d.backend, family: d.family, tables: d.tables, errors: d.errors.map(errJson) };
}
/** ipset members in the document per pod at most (a pod can hold 100k; each is an object here). */
export const MAX_DOCUMENT_MEMBERS = 2000;
/** tc classes and filters in the document per pod at most (qdiscs: MAX_QDISCS_PER_POD, netem and tbf first). */
export const MAX_DOCUMENT_TC = 256;

/** Every set, with members up to `maxMembers` over all sets in order; `membersOmitted` when some were left out. */
export function ipsetsJson(d: IpsetDump, maxMembers = MAX_DOCUMENT_MEMBERS) {
  let left = maxMembers;
  let omitted = 0;
  const sets = d.sets.map((set) => {
    if (set.members.length <= left) {
      left -= set.members.length;
      return set;
    }
    omitted += set.members.length - left;
    const kept = { ...set, members: set.members.slice(0, left) };
    left = 0;
    return kept;
  });
  return { sets, errors: d.errors.map(errJson), ...(omitted > 0 ? { membersOmitted: omitted } : {}) };
}
export function tcJson(d: TcDump) {
  const { qdiscs } = exportedQdiscs(d.qdiscs);
  const omitted = d.qdiscs.length - qdiscs.length + Math.max(0, d.classes.length - MAX_DOCUMENT_TC) + Math.max(0, d.filters.length - MAX_DOCUMENT_TC);
  return {
    qdiscs,
    classes: d.classes.slice(0, MAX_DOCUMENT_TC),
    filters: d.filters.slice(0, MAX_DOCUMENT_TC),
    errors: d.errors.map(errJson),
    ...(omitted > 0 ? { omitted } : {}),
  };
}

/** Which pod and namespace a document describes (the head of the inspect and diff documents). */
export function podIdentityJson(r: PodReport) {
  return { namespace: r.namespace, name: r.name, runtime: r.runtime, netns: r.netns ? { inode: r.netns.inode, path: r.netns.path } : null };
}

/** The kernel state of a document: iptables capped at `maxRules` (chaos chains first), ipsets, tc. */
export function kernelJson(r: PodReport, maxRules: number) {
  const { dumps, omitted } = capDumps(r.iptables, maxRules);
  return { iptables: dumps.map(iptablesJson), ...(omitted > 0 ? { rulesOmitted: omitted } : {}), ipsets: ipsetsJson(r.ipsets), tc: tcJson(r.tc) };
}

/**
 * `{namespace, name, runtime, netns: {inode, path} | null, chaos: {verdict, kinds, findings}, iptables, ipsets, tc,
 * rulesOmitted?, ipsets, tc, ipRules, dnsChaos, errors, reader, sources, spawns, hostNetwork?, notes?, links?, addresses?,
 * routes?, ebtables?, proc?}` (links... and ebtables when the reader read them: HTTPChaos's bridge layout; proc: the
 * /proc facts, agent/collect/proc.ts; dnsChaos: the containers with a DNSChaos backup, from them); parse errors as
 * `{line, text, message}`; `rulesOmitted`: rules past the --max-rules-per-pod cap (chaos chains are kept first);
 * `ipsets.membersOmitted` and `tc.omitted`: what the document's own bounds left out (a hostile pod's 100k members or
 * 10k qdiscs would otherwise make every /debug/pods answer tens of MB; the verdict saw them all).
 */
export function podReportJson(r: PodReport, maxRules = DEFAULT_MAX_RULES_PER_POD) {
  return {
    ...podIdentityJson(r),
    chaos: {
      verdict: r.chaos.verdict,
      kinds: r.chaos.kinds,
      findings: r.chaos.findings,
      // Only when the Kubernetes API source is on (intent/json.ts).
      ...(r.intent ? { intent: intentJson(r.intent) } : {}),
      ...(r.drift ? { drift: driftJson(r.drift) } : {}),
    },
    ...kernelJson(r, maxRules),
    ipRules: r.ipRules,
    dnsChaos: r.dnsChaos,
    errors: r.errors,
    reader: r.reader,
    sources: r.sources,
    spawns: r.spawns,
    ...(r.hostNetwork ? { hostNetwork: r.hostNetwork } : {}),
    ...(r.notes ? { notes: r.notes } : {}),
    ...(r.links !== undefined ? { links: r.links, addresses: r.addresses ?? [], routes: r.routes ?? [] } : {}),
    ...(r.ebtables !== undefined ? { ebtables: r.ebtables.map((d) => ({ backend: d.backend, tables: d.tables, errors: d.errors.map(errJson) })) } : {}),
    ...(r.proc ? { proc: procJson(r.proc) } : {}),
  };
}

/** `proc`: the /proc facts with each source's completeness. */
export function procJson(f: PodProcFacts) {
  return { processes: f.processes, mounts: f.mounts, dns: f.dns, jvm: f.jvm, sources: f.sources };
}
