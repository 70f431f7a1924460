/**
 * `chaos-node-agent inspect NAMESPACE/POD... | --all | --netns PATH | --pid PID [--json]`
 * What is in a pod's network namespace right now, and whether it is chaos: per entry the verdict and findings
 * first, then the iptables chains with counters, the ipsets and the tc tree. --netns / --pid need no runtime.
 * A vanished pod or a failing tool is reported in the entry (`errors`), never as a crash. Exit 0 when at least one
 * namespace was inspected, 1 when none could be.
 */
import type { Config } from '../config.js';
import { collect, inspectTarget, namedNetnsDir, wasInspected, notInspected, notInspectedReason } from '../collection.js';
import { describeSource, incompleteSources } from '../chaos/completeness.js';
import { plural } from '../chaos/format.js';
import { capDumps } from '../metrics/rule-cap.js';
import { podsJson } from '../server/pod-document.js';
import { createNetnsReader } from '../netns/read.js';
import { parsePodName, podKey } from '../pod-name.js';
import { emptyNetnsState, type IptablesDump, type IpsetDump, type TcDump, type Qdisc, type Counters } from '../netns/state.js';
import { driftLines, findingWithOwner } from '../intent/format.js';
import { beginKubeLists, oneShotKube } from '../intent/setup.js';
import { Inventory, unreachableMessage } from '../runtime/inventory.js';
import { procNetnsPath } from '../runtime/netns-resolve.js';
import type { PodReport, StaleSandbox } from '../snapshot.js';
import type { CommandIo } from './io.js';

export async function run(cfg: Config, io: CommandIo): Promise<number> {
  // The few namespaces of NS/POD, --netns or --pid are read with netlink on this thread: a worker's start-up (a
  // second Node bootstrap, koffi and every decoder loaded again) costs more than those reads. --all reads every
  // namespace of the node, in parallel on the worker threads as `serve` does.
  const reader = createNetnsReader(cfg, { log: io.log }, { netlinkThread: cfg.all ? 'workers' : 'caller' });
  const onAbort = (): void => void reader.close();
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    let reports: PodReport[];
    let host: PodReport | null = null;
    let stale: StaleSandbox[] = [];
    let nothingReachable = false;
    if (cfg.netns !== null || cfg.pid !== null) {
      const target = cfg.netns !== null
        ? { netnsPath: cfg.netns, pid: null, procRoot: cfg.procRoot }
        : { netnsPath: procNetnsPath(cfg.procRoot, cfg.pid!), pid: cfg.pid, procRoot: cfg.procRoot };
      reports = [await inspectTarget(reader, target, io.log)];
    } else {
      // The Kubernetes API lists run while the namespaces are read; a failure only makes the intent unavailable.
      const intent = beginKubeLists(cfg, io.env, io.log, io.signal);
      const inventory = new Inventory(cfg, { log: io.log });
      try {
        // `/POD` and `-/POD` name the same pod: matched (and reported once) by its key.
        const wanted = new Map(cfg.args.map((a) => parsePodName(a)).map((p) => [podKey(p), p]));
        const kube = oneShotKube(intent);
        const snap = await collect(
          // Container CPU/memory (the stats collector) is not part of inspect's output: not asked for.
          { inventory, reader, procRoot: cfg.procRoot, log: io.log, namedNetnsDir: namedNetnsDir(cfg.hostRoot), disabled: new Set(['stats'] as const), ...(kube ? { kube } : {}) },
          { signal: io.signal, ...(cfg.all ? {} : { filter: (p) => wanted.has(podKey(p)), hostSharing: 'full' as const }) },
        );
        await intent.result; // `--kube on` with credentials that do not load: an error
        nothingReachable = !snap.runtimes.some((s) => s.up);
        // Nothing up: the runtime collector's error is that, said once with what was tried.
        if (nothingReachable) io.err(`chaos-node-agent inspect: ${unreachableMessage(snap.runtimes)}`);
        else for (const c of snap.collectors) if (!c.success && c.error && c.collector === 'runtime') io.err(`chaos-node-agent inspect: ${c.error}\n`);
        reports = snap.pods;
        host = snap.host ?? null;
        stale = snap.stale ?? [];
        if (!cfg.all) {
          const found = new Set(reports.map(podKey));
          for (const [key, { namespace, name }] of wanted) {
            if (found.has(key)) continue;
            const why = nothingReachable ? 'no container runtime reachable'
              : `pod not found on this node${namespace === '' ? ` (looked for "${name}" without a namespace: a container without Kubernetes labels)` : ''}`;
            const state = emptyNetnsState();
            reports.push({
              namespace, name, runtime: '', netns: null, pod: null, chaos: notInspected(why),
              iptables: state.iptables, ipsets: state.ipsets, tc: state.tc, ipRules: [], dnsChaos: [], errors: [why], spawns: 0, reader: null, sources: [],
            });
          }
        }
      } finally {
        inventory.close();
      }
    }
    const all = cfg.all ? { host, stale } : {};
    io.out(cfg.json ? podsJson(reports, { maxRulesPerPod: cfg.maxRulesPerPod, ...all }) : [...reports, ...(host ? [host] : [])].map((r) => formatReport(r, cfg.maxRulesPerPod)).join('\n'));
    if (reports.some(wasInspected)) return 0;
    if (cfg.all && !nothingReachable && reports.length === 0) return 0;
    return 1;
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    await reader.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Human output

const counters = (c: Counters | null): string => (c ? `${c.packets} pkts ${c.bytes} bytes` : '-');

export function formatReport(r: PodReport, maxRules?: number): string {
  const out: string[] = [];
  const who = r.name ? `pod ${r.namespace}/${r.name}${r.runtime ? ` (${r.runtime})` : ''}${r.hostNetwork ? ' host network' : ''}` : r.hostNetwork ? 'node network namespace (host-network pods)' : `netns ${r.netns?.path ?? '?'}`;
  out.push(`${who}${r.netns ? `  netns inode ${r.netns.inode} ${r.netns.path}` : ''}`);
  out.push(`  verdict: ${r.chaos.verdict}${r.chaos.kinds.length ? `  kinds: ${r.chaos.kinds.join(', ')}` : ''}`);
  r.chaos.findings.forEach((f, i) => out.push(`  - ${findingWithOwner(f, i, r.drift)}`));
  out.push(...driftLines(r));
  if (r.errors.length) {
    out.push('  errors:');
    for (const e of r.errors) out.push(`    ! ${e}`);
  }
  const unread = notReadLine(r);
  if (unread !== null) {
    // Nothing was read: no tables, sets or qdiscs can be claimed absent, and no reader named.
    out.push(`  ${unread}`);
  } else if (!isHostSummary(r)) {
    out.push(...formatKernel(r, maxRules ?? Number.MAX_SAFE_INTEGER));
    out.push(...formatBridgeState(r));
    if (r.ipRules.length) {
      out.push('  ip rules (fwmark):');
      for (const l of r.ipRules) out.push(`    ${l}`);
    }
  }
  for (const d of r.dnsChaos) out.push(`  dns: container ${d.container} (pid ${d.pid}) has /etc/resolv.conf.chaos.bak`);
  for (const n of r.notes ?? []) out.push(`  note: ${n}`);
  if (r.reader !== null) out.push(`  (read by ${r.reader}${r.spawns > 0 ? `, ${r.spawns} ${r.spawns === 1 ? 'process' : 'processes'}` : ''})`);
  return `${out.join('\n')}\n`;
}

/** The iptables, ipsets and tc sections of an entry that was read (inspect, diff), each with what its sources missed. */
export function formatKernel(r: PodReport, maxRules: number): string[] {
  return [
    ...withSources('iptables', formatCappedIptables(r.iptables, maxRules), r, (n) => n.startsWith('iptables-')),
    ...withSources('ipsets', formatIpsets(r.ipsets), r, (n) => n === 'ipset'),
    ...withSources('tc', formatTc(r.tc), r, (n) => n === 'tc'),
  ];
}

/**
 * A section (iptables, ipsets, tc) with what its sources missed: a section with nothing to show whose source was
 * not read, or read only in part, says so instead of claiming it empty ("ipsets: ipset not read (timeout: ...)"); one
 * that shows what was read adds the reason. Sources a reader does not cover (`unsupported`) are not missing.
 */
function withSources(label: string, lines: string[], r: PodReport, ofSection: (source: string) => boolean): string[] {
  const missing = incompleteSources(r.sources).filter((s) => ofSection(s.source) && s.reason !== 'unsupported');
  if (missing.length === 0) return lines;
  const why = missing.map(describeSource).join('; ');
  // Nothing read to show: the header alone ('  tc:') or its empty claim ('  ipsets: none', '  iptables: no tables').
  if (lines.length === 1) return [`  ${label}: ${why}`];
  return [...lines, `    ! ${why}`];
}

/** A host-network pod's entry whose namespace, the node's, was read once and is shown in the host entry (PodReport.hostSummary). */
function isHostSummary(r: PodReport): boolean {
  return r.hostSummary === true;
}

/**
 * `network namespace not read: <why>` for an entry whose namespace no reader read (reader null: an unknown or
 * not-ready pod, no runtime up, a --pid / --netns target that is not there), null for one that was read. The why is
 * the entry's `not inspected:` finding, when it has one.
 */
export function notReadLine(r: PodReport): string | null {
  if (r.reader !== null || isHostSummary(r)) return null;
  const why = notInspectedReason(r);
  return `network namespace not read${why ? `: ${why}` : ''}`;
}

/** Links, addresses, default routes and ebtables, when the reader read them (chaos-tproxy's interfaces exist). */
export function formatBridgeState(r: PodReport): string[] {
  const out: string[] = [];
  if (r.links !== undefined) {
    const names = new Map(r.links.map((l) => [l.index, l.name]));
    out.push('  links:');
    for (const l of r.links) {
      const master = l.master !== null ? ` master ${names.get(l.master) ?? l.master}` : '';
      const addrs = (r.addresses ?? []).filter((a) => a.index === l.index).map((a) => `${a.address}/${a.prefixLength}`);
      out.push(`    ${l.name}${l.kind ? ` (${l.kind})` : ''}${master}${l.address ? ` ${l.address}` : ''}${addrs.length ? ` ${addrs.join(' ')}` : ''}`);
    }
    for (const rt of (r.routes ?? []).filter((x) => x.destination === 'default')) {
      out.push(`  route: default${rt.gateway ? ` via ${rt.gateway}` : ''}${rt.interface ? ` dev ${rt.interface}` : ''}${rt.table !== 254 ? ` table ${rt.table}` : ''}`);
    }
  }
  for (const d of r.ebtables ?? []) {
    out.push(`  ebtables ${d.backend}:`);
    for (const t of d.tables) {
      for (const c of t.chains) {
        if (c.rules.length === 0) continue;
        out.push(`    ${t.name} ${c.name} (policy ${c.policy})`);
        for (const rule of c.rules) out.push(`      [${counters(rule.counters)}] ${rule.text}`);
      }
    }
    for (const e of d.errors) out.push(`    ! line ${e.line}: ${e.message}`);
  }
  return out;
}

/** The iptables dumps with at most `maxRules` rules (chaos chains kept first: capDumps), then how many were left out. */
export function formatCappedIptables(iptables: IptablesDump[], maxRules: number): string[] {
  const { dumps, omitted } = capDumps(iptables, maxRules);
  const out = formatIptables(dumps);
  if (omitted > 0) out.push(`  (${plural(omitted, 'more iptables rule')} not shown: --max-rules-per-pod)`);
  return out;
}

export function formatIptables(dumps: IptablesDump[]): string[] {
  const out: string[] = [];
  if (dumps.length === 0) {
    out.push('  iptables: no tables');
    return out;
  }
  for (const d of dumps) {
    out.push(`  iptables ${d.backend} ${d.family}:`);
    for (const t of d.tables) {
      const ruleCount = t.chains.reduce((n, c) => n + c.rules.length, 0);
      const userChains = t.chains.filter((c) => !c.builtin).length;
      if (ruleCount === 0 && userChains === 0 && t.chains.every((c) => c.policy === 'ACCEPT')) {
        out.push(`    table ${t.name}: empty`);
        continue;
      }
      out.push(`    table ${t.name}:`);
      for (const c of t.chains) {
        out.push(`      ${c.name}${c.builtin ? ` (policy ${c.policy ?? '-'}, ${counters(c.counters)})` : ''}`);
        for (const rule of c.rules) out.push(`        [${counters(rule.counters)}] ${rule.text}`);
      }
    }
    for (const e of d.errors) out.push(`    ! line ${e.line}: ${e.message}`);
  }
  return out;
}

export function formatIpsets(d: IpsetDump): string[] {
  const out: string[] = [];
  if (d.sets.length === 0 && d.errors.length === 0) return ['  ipsets: none'];
  out.push('  ipsets:');
  for (const s of d.sets) {
    const first = s.members.slice(0, 5).map((m) => m.value).join(', ');
    const more = s.members.length > 5 ? `, ... (${s.members.length - 5} more)` : '';
    out.push(`    ${s.name} ${s.type}, ${plural(s.members.length, 'member')}${s.members.length ? `: ${first}${more}` : ''}`);
  }
  for (const e of d.errors) out.push(`    ! line ${e.line}: ${e.message}`);
  return out;
}

function qdiscLine(q: Qdisc): string {
  const st = q.stats ? `  [${q.stats.bytes} bytes ${q.stats.packets} pkts, drops ${q.stats.drops}, overlimits ${q.stats.overlimits}, backlog ${q.stats.backlog}]` : '';
  const opts: string[] = [];
  if (q.tbf?.rateBytesPerSecond !== undefined) opts.push(`rate ${q.tbf.rateBytesPerSecond} B/s`);
  if (q.tbf?.burstBytes !== undefined) opts.push(`burst ${q.tbf.burstBytes} B`);
  if (q.tbf?.limitBytes !== undefined) opts.push(`limit ${q.tbf.limitBytes} B`);
  if (q.netem) for (const [k, v] of Object.entries(q.netem)) if (v !== undefined) opts.push(`${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  if (q.prio) opts.push(`bands ${q.prio.bands} priomap ${q.prio.priomap.join(' ')}`);
  if (q.htb?.defaultClass) opts.push(`default ${q.htb.defaultClass}`);
  return `qdisc ${q.kind} ${q.handle} ${q.root ? 'root' : `parent ${q.parent}`}${opts.length ? ` ${opts.join(' ')}` : ''}${st}`;
}

/**
 * Qdiscs of one interface in tree order with their depth: roots (and ingress) first, each followed by the qdiscs
 * whose parent is its handle or one of its classes ("1:" or "1:4" under "1:"), children sorted by parent then handle.
 */
export function qdiscTree(qs: Qdisc[]): [Qdisc, number][] {
  const major = (h: string): string => (h.split(':')[0] ?? '').replace(/^0+(?=.)/, '');
  const handles = new Set(qs.map((q) => major(q.handle)));
  const isTop = (q: Qdisc): boolean => q.root || q.parent === 'ingress' || !handles.has(major(q.parent)) || major(q.parent) === major(q.handle);
  const key = (q: Qdisc): string => `${q.parent.padStart(12)} ${q.handle.padStart(12)}`;
  const out: [Qdisc, number][] = [];
  const seen = new Set<Qdisc>();
  const visit = (q: Qdisc, depth: number): void => {
    if (seen.has(q) || depth > 16) return;
    seen.add(q);
    out.push([q, depth]);
    const kids = qs.filter((c) => !isTop(c) && major(c.parent) === major(q.handle)).sort((a, b) => key(a).localeCompare(key(b)));
    for (const c of kids) visit(c, depth + 1);
  };
  for (const q of qs.filter(isTop)) visit(q, 0);
  for (const q of qs) if (!seen.has(q)) visit(q, 0);
  return out;
}

export function formatTc(d: TcDump): string[] {
  const out: string[] = ['  tc:'];
  const devs = [...new Set([...d.qdiscs.map((q) => q.interface), ...d.classes.map((c) => c.interface), ...d.filters.map((f) => f.interface)])];
  for (const dev of devs) {
    out.push(`    ${dev}:`);
    for (const [q, depth] of qdiscTree(d.qdiscs.filter((q) => q.interface === dev))) out.push(`${'  '.repeat(3 + depth)}${qdiscLine(q)}`);
    for (const c of d.classes.filter((x) => x.interface === dev)) {
      const rate = c.rateBytesPerSecond !== undefined ? ` rate ${c.rateBytesPerSecond} B/s` : '';
      const ceil = c.ceilBytesPerSecond !== undefined ? ` ceil ${c.ceilBytesPerSecond} B/s` : '';
      out.push(`      class ${c.kind} ${c.handle} parent ${c.parent}${rate}${ceil}${c.stats ? `  [${c.stats.bytes} bytes ${c.stats.packets} pkts, drops ${c.stats.drops}]` : ''}`);
    }
    for (const f of d.filters.filter((x) => x.interface === dev)) {
      out.push(`      filter ${f.kind} parent ${f.parent || '-'} protocol ${f.protocol ?? '-'} pref ${f.pref ?? '-'}${f.handle ? ` handle ${f.handle}` : ''}${f.flowid ? ` -> ${f.flowid}` : ''}`);
    }
  }
  for (const e of d.errors) out.push(`    ! line ${e.line}: ${e.message}`);
  return out;
}
