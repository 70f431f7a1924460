/**
 * Chaos fingerprinting: the raw state of one network namespace -> verdict, kinds and findings.
 *
 * PURE: no I/O, no clock, no globals; linear in the size of the state (about 110 namespaces are
 * fingerprinted every 15 s).
 *
 * Model (facts: shared/notes/chaos-mesh.md; chaos-mesh pkg/chaosdaemon/{iptables,tc}_server.go,
 * controllers/podnetworkchaos/{ipset,netutils}; chaos-tproxy):
 * - iptables: per dump (backend x family) and per table, a jump graph from the built-in chains along
 *   `-j`/`-g` to user chains. A rule is live when its chain is reachable and no unconditional
 *   ACCEPT/DROP/REJECT/RETURN/TPROXY/goto precedes it in that chain. Only live rules change traffic.
 * - partition: a live DROP/REJECT rule in a chain reached from a reachable Chaos Mesh chain
 *   (CHAOS-INPUT/CHAOS-OUTPUT, INPUT/<x>, OUTPUT/<x>, TC-TABLES-<i>), or a live DROP/REJECT that matches a
 *   Chaos Mesh ipset anywhere (releases before 1.0 put those straight into INPUT/OUTPUT).
 * - tc: every netem is chaos; tbf is chaos at the root, under a chaos qdisc, or when a CLASSIFY rule
 *   targets its class; prio is chaos with Chaos Mesh's priomap. A qdisc under a prio band that the
 *   priomap never selects only gets traffic when a live CLASSIFY rule (or a tc filter) targets that
 *   band: otherwise it is scaffolding.
 * - http: a live TPROXY rule in (or reached from) the mangle chains DIVERT / CHAOS_PROXY_PREROUTING /
 *   CHAOS_PROXY_OUTPUT, or in a built-in mangle chain when DIVERT exists (chaos-tproxy-controller's layout).
 * - dns: state.dnsChaos.
 *
 * Decisions:
 * - Every `active` finding carries a kind, so `kinds` is non-empty iff `verdict` is `active`.
 *   State that is chaos-owned but changes nothing (empty chains, orphaned chains, a netem without any
 *   effect, idle prio bands, unused ipsets) is `scaffolding`.
 * - `findings` holds only chaos-relevant sentences (active first, then scaffolding); state owned by
 *   other tools (kube-proxy, CNI, meshes, foreign qdiscs and ipsets) is only in `details`, with level
 *   `foreign`, after the rest. So a namespace with only kube-proxy rules has `findings: []`.
 * - Findings from iptables are suffixed with "(legacy backend)" / "(nft backend)" when the namespace
 *   holds tables in both backends and the finding is in the one not in use (the backend holding most
 *   non-chaos rules; nft on a tie), and with "(ipv6)" for IPv6 dumps. Both backends are evaluated by the
 *   kernel, so rules there still count.
 * - Tables other than filter are named in the sentence ("mangle DIVERT ...").
 */
import type { ChaosKind, ChaosReport, Finding, Verdict } from './types.js';
import type {
  Ipset,
  IptablesBackend,
  IptablesChain,
  IptablesDump,
  IptablesRule,
  IptablesTable,
  NetemOptions,
  NetnsState,
  Qdisc,
  TbfOptions,
  TcFilter,
} from '../netns/state.js';

// ---------------------------------------------------------------------------------------------
// Names

const BUILTIN_CHAINS = new Set(['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING']);
/** Targets after which, when unconditional, no later rule of the chain is evaluated. */
const TERMINATING_TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'TPROXY']);
const DROP_TARGETS = new Set(['DROP', 'REJECT']);
const HTTP_CHAINS = new Set(['DIVERT', 'CHAOS_PROXY_PREROUTING', 'CHAOS_PROXY_OUTPUT']);

/** Chaos Mesh's role for a chain name, or null for everything else. */
export type ChaosChainRole = 'base' | 'experiment' | 'tc' | 'http';

export function chaosChainRole(table: string, chain: string): ChaosChainRole | null {
  if (chain === 'CHAOS-INPUT' || chain === 'CHAOS-OUTPUT') return 'base';
  if (/^(?:INPUT|OUTPUT)\/\S+$/.test(chain)) return 'experiment';
  if (/^TC-TABLES-\d+$/.test(chain)) return 'tc';
  if (table === 'mangle' && HTTP_CHAINS.has(chain)) return 'http';
  return null;
}

const SET_TYPES = '(?:net|netport|set|net6|netport6|np6)';
const SET_ROLES = '(?:src|tgt|nesrc|netgt|basrc|batgt)';
const CHAOS_SET_NAMES = [
  // <type>_<experiment>_<role> (the layout in the issue and notes)
  new RegExp(`^${SET_TYPES}_.+_${SET_ROLES}(?:old)?$`),
  // <experiment>_<type>_<role>: CompressName(name, 27, "<type>_<role>") in chaos-mesh 2.x
  new RegExp(`^.+_${SET_TYPES}_${SET_ROLES}(?:old)?$`),
  // <5 chars>_<sha256 prefix>_<role>: releases before the typed sets
  new RegExp(`^[^_]{1,5}_[0-9a-f]{7,}_${SET_ROLES}(?:old)?$`),
];

/** True for ipset names Chaos Mesh creates (including the `<name>old` sets it swaps in). */
export function isChaosIpsetName(name: string): boolean {
  return CHAOS_SET_NAMES.some((re) => re.test(name));
}

/** Owners of well-known non-chaos chains: [name pattern, owner, pattern as shown]. */
const FOREIGN_OWNERS: readonly [RegExp, string, string][] = [
  [/^KUBE-/, 'Kubernetes', 'KUBE-*'],
  [/^CNI-/, 'CNI', 'CNI-*'],
  [/^cali-/, 'Calico', 'cali-*'],
  [/^cilium|^CILIUM/, 'Cilium', 'CILIUM*'],
  [/^ISTIO_/, 'Istio', 'ISTIO_*'],
  [/^PROXY_INIT_|^LINKERD/, 'Linkerd', 'PROXY_INIT_*, LINKERD*'],
  [/^DOCKER/, 'Docker', 'DOCKER*'],
  [/^FLANNEL/, 'flannel', 'FLANNEL*'],
  [/^WEAVE/, 'Weave', 'WEAVE*'],
  [/^ANTREA/, 'Antrea', 'ANTREA*'],
];

/** Qdiscs the kernel or distributions install by default: never reported. */
const DEFAULT_QDISCS = new Set(['noqueue', 'pfifo_fast', 'mq', 'fq_codel', 'fq', 'pfifo', 'bfifo']);
export const CHAOS_MESH_PRIOMAP: readonly number[] = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

// ---------------------------------------------------------------------------------------------
// Jump graph

/** A table's jump graph: which chains are reachable from the built-in chains and which rules are live. */
export interface TableGraph {
  table: IptablesTable;
  chains: Map<string, IptablesChain>;
  reachable: Set<string>;
  /** Per chain, the number of leading rules that can be evaluated (rules after an unconditional verdict are dead). */
  liveCount: Map<string, number>;
  /** Per user chain, the chains holding a rule that jumps (or goes) to it, and whether that rule is live. */
  referrers: Map<string, { from: string; live: boolean }[]>;
}

function isBuiltin(chain: IptablesChain): boolean {
  return chain.builtin || (BUILTIN_CHAINS.has(chain.name) && chain.policy !== null);
}

/** True when the rule matches every packet (no match before its -j/-g, except a comment). */
export function isUnconditional(rule: IptablesRule): boolean {
  let text = rule.text.trimStart();
  if (text.startsWith('-m comment ')) text = text.replace(/^-m comment --comment (?:"(?:[^"\\]|\\.)*"|\S+)\s+/, '');
  return text.startsWith('-j ') || text.startsWith('-g ');
}

function liveRuleCount(chain: IptablesChain): number {
  const rules = chain.rules;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if ((r.goto || (r.target !== null && TERMINATING_TARGETS.has(r.target))) && isUnconditional(r)) return i + 1;
  }
  return rules.length;
}

function userTarget(rule: IptablesRule, chains: Map<string, IptablesChain>): IptablesChain | null {
  if (rule.target === null) return null;
  const c = chains.get(rule.target);
  return c !== undefined && !isBuiltin(c) ? c : null;
}

export function buildTableGraph(table: IptablesTable): TableGraph {
  const chains = new Map<string, IptablesChain>();
  for (const c of table.chains) if (!chains.has(c.name)) chains.set(c.name, c);
  const liveCount = new Map<string, number>();
  for (const c of chains.values()) liveCount.set(c.name, liveRuleCount(c));

  const reachable = new Set<string>();
  const queue: string[] = [];
  for (const c of chains.values()) {
    if (isBuiltin(c)) {
      reachable.add(c.name);
      queue.push(c.name);
    }
  }
  while (queue.length > 0) {
    const c = chains.get(queue.pop()!)!;
    const n = liveCount.get(c.name) ?? 0;
    for (let i = 0; i < n; i++) {
      const t = userTarget(c.rules[i]!, chains);
      if (t !== null && !reachable.has(t.name)) {
        reachable.add(t.name);
        queue.push(t.name);
      }
    }
  }

  const referrers = new Map<string, { from: string; live: boolean }[]>();
  for (const c of chains.values()) {
    const n = liveCount.get(c.name) ?? 0;
    c.rules.forEach((r, i) => {
      const t = userTarget(r, chains);
      if (t === null) return;
      const list = referrers.get(t.name) ?? [];
      list.push({ from: c.name, live: reachable.has(c.name) && i < n });
      referrers.set(t.name, list);
    });
  }
  return { table, chains, reachable, liveCount, referrers };
}

/** Names of the chains reachable from the table's built-in chains (built-ins included). */
export function reachableChains(table: IptablesTable): Set<string> {
  return buildTableGraph(table).reachable;
}

/** The live rules of a chain (none when the chain is unreachable). */
function liveRules(g: TableGraph, name: string): IptablesRule[] {
  const c = g.chains.get(name);
  if (c === undefined || !g.reachable.has(name)) return [];
  return c.rules.slice(0, g.liveCount.get(name) ?? 0);
}

/** Reachable chains reached from `starts` (reachable ones only) along live jumps, starts included. */
function subgraph(g: TableGraph, starts: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const queue: string[] = [];
  for (const s of starts) {
    if (g.reachable.has(s) && !out.has(s)) {
      out.add(s);
      queue.push(s);
    }
  }
  while (queue.length > 0) {
    for (const r of liveRules(g, queue.pop()!)) {
      const t = userTarget(r, g.chains);
      if (t !== null && !out.has(t.name)) {
        out.add(t.name);
        queue.push(t.name);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Human units

function num(x: number): string {
  return String(Number(x.toFixed(3)));
}

export function formatSeconds(s: number): string {
  if (s >= 1) return `${num(s)}s`;
  if (s >= 1e-3 || s === 0) return `${num(s * 1e3)}ms`;
  return `${num(s * 1e6)}us`;
}

export function formatPercent(ratio: number): string {
  return `${num(ratio * 100)}%`;
}

/** Bytes per second -> tc-style bit rate ("1Mbit/s"; 1 Mbit = 1e6 bits). */
export function formatRate(bytesPerSecond: number): string {
  const bits = bytesPerSecond * 8;
  if (bits >= 1e9) return `${num(bits / 1e9)}Gbit/s`;
  if (bits >= 1e6) return `${num(bits / 1e6)}Mbit/s`;
  if (bits >= 1e3) return `${num(bits / 1e3)}Kbit/s`;
  return `${num(bits)}bit/s`;
}

/** Sizes stay exact: whole KiB/MiB when they divide evenly (or from 1 MiB up), bytes otherwise. */
export function formatBytes(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes >= MiB && (bytes % MiB === 0 || bytes >= 10 * MiB)) return `${num(bytes / MiB)}MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${num(bytes / 1024)}KiB`;
  return `${num(bytes)}B`;
}

function oneLine(s: string): string {
  return s.trim().replace(/\s+/g, ' ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function listNames(names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, ... (+${names.length - max})` : shown;
}

// ---------------------------------------------------------------------------------------------
// ipsets

class IpsetIndex {
  private readonly byName = new Map<string, Ipset>();
  private readonly counts = new Map<string, number>();

  constructor(sets: Ipset[]) {
    for (const s of sets) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  get(name: string): Ipset | undefined {
    return this.byName.get(name);
  }

  all(): Ipset[] {
    return [...this.byName.values()];
  }

  /** Members of a set; for list:set, the total of its member sets, recursively (cycles counted once). */
  count(name: string, visiting = new Set<string>()): number {
    const cached = this.counts.get(name);
    if (cached !== undefined) return cached;
    const set = this.byName.get(name);
    if (set === undefined || visiting.has(name)) return 0;
    let n: number;
    if (set.type.startsWith('list:')) {
      visiting.add(name);
      n = 0;
      for (const m of set.members) n += this.count(m.value, visiting);
      visiting.delete(name);
    } else {
      n = set.members.length;
    }
    if (visiting.size === 0) this.counts.set(name, n);
    return n;
  }

  describe(name: string): string {
    if (!this.byName.has(name)) return `ipset ${name} (missing)`;
    return `ipset ${name} (${plural(this.count(name), 'member')})`;
  }

  /** The set names plus every set a list:set among them contains, recursively. */
  closure(names: Iterable<string>): Set<string> {
    const out = new Set<string>();
    const queue = [...names];
    while (queue.length > 0) {
      const n = queue.pop()!;
      if (out.has(n)) continue;
      out.add(n);
      const set = this.byName.get(n);
      if (set !== undefined && set.type.startsWith('list:')) for (const m of set.members) queue.push(m.value);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Sentences about rules

/** "eth0 tcp traffic to ipset S (21 members) with destination port 80": what a rule matches, in words. */
function describeTraffic(rule: IptablesRule, sets: IpsetIndex): string {
  const neg = new Set<string>(rule.negated ?? []);
  const not = (field: string): string => (neg.has(field) ? 'not ' : '');
  const ifaceField = rule.outInterface !== null ? 'outInterface' : 'inInterface';
  const iface = rule.outInterface ?? rule.inInterface;
  const proto = rule.protocol !== null && rule.protocol !== 'all' ? rule.protocol : null;
  const where: string[] = [];
  for (const m of rule.matchSets) {
    const dir = m.flags.split(',')[0] === 'src' ? 'from' : 'to';
    where.push(`${m.negated ? 'not ' : ''}${dir} ${sets.describe(m.name)}`);
  }
  if (rule.source !== null) where.push(`${not('source')}from ${rule.source}`);
  if (rule.destination !== null) where.push(`${not('destination')}to ${rule.destination}`);
  const ports: string[] = [];
  const portWord = (p: string): string => (/[,:]/.test(p) ? 'ports' : 'port');
  if (rule.sport !== null) ports.push(`source ${portWord(rule.sport)} ${not('sport')}${rule.sport}`);
  if (rule.dport !== null) ports.push(`destination ${portWord(rule.dport)} ${not('dport')}${rule.dport}`);

  const ifaceText = iface === null ? '' : `${neg.has(ifaceField) ? 'non-' : ''}${iface} `;
  const protoText = proto === null ? '' : `${neg.has('protocol') ? 'non-' : ''}${proto} `;
  let s = `${ifaceText}${protoText}traffic`;
  if (proto === null && where.length === 0 && ports.length === 0) s = `all ${s}`;
  if (where.length > 0) s += ` ${where.join(' and ')}`;
  if (ports.length > 0) s += ` with ${ports.join(' and ')}`;
  return s;
}

/** Value after `name` in target options text (`--set-class 1:4`), or null. */
function optionValue(options: string, name: string): string | null {
  const words = options.split(/\s+/);
  const i = words.indexOf(name);
  return i < 0 || i + 1 >= words.length ? null : words[i + 1]!;
}

/** Canonical `major:minor` (hex, lower case, no leading zeros; minor 0 when absent) or null. */
export function canonicalHandle(handle: string): string | null {
  const m = /^\s*([0-9a-fA-F]+):([0-9a-fA-F]*)\s*$/.exec(handle);
  if (m === null) return null;
  const major = parseInt(m[1]!, 16).toString(16);
  const minor = m[2] === '' ? '0' : parseInt(m[2]!, 16).toString(16);
  return `${major}:${minor}`;
}

function majorOf(handle: string): string | null {
  const c = canonicalHandle(handle);
  return c === null ? null : c.split(':')[0]!;
}

// ---------------------------------------------------------------------------------------------
// Collection of findings

interface Classifier {
  /** Canonical class the traffic is sent to. */
  cls: string;
  /** "for traffic ..." phrase. */
  phrase: string;
  /** Set for CLASSIFY rules in Chaos Mesh chains: the sentence prefix naming the chain. */
  chaosLabel: string | null;
  annotation: string;
}

interface Builder {
  details: Finding[];
  sets: IpsetIndex;
}

function add(b: Builder, level: Finding['level'], kind: ChaosKind | null, message: string): void {
  b.details.push({ level, kind, message });
}

interface AnalysedDump {
  dump: IptablesDump;
  graphs: TableGraph[];
  annotation: string;
}

function nonChaosRuleCount(dump: IptablesDump): number {
  let n = 0;
  for (const t of dump.tables) {
    for (const c of t.chains) {
      if (chaosChainRole(t.name, c.name) !== null) continue;
      for (const r of c.rules) if (r.target === null || chaosChainRole(t.name, r.target) === null) n++;
    }
  }
  return n;
}

/** The backend the namespace uses, when both hold tables; null when there is only one backend. */
export function primaryBackend(dumps: IptablesDump[]): IptablesBackend | null {
  const counts = new Map<IptablesBackend, number>();
  for (const d of dumps) counts.set(d.backend, (counts.get(d.backend) ?? 0) + nonChaosRuleCount(d));
  if (counts.size < 2) return null;
  const legacy = counts.get('legacy') ?? 0;
  const nft = counts.get('nft') ?? 0;
  return legacy > nft ? 'legacy' : 'nft';
}

function annotationFor(dump: IptablesDump, primary: IptablesBackend | null): string {
  const parts: string[] = [];
  if (primary !== null && dump.backend !== primary) parts.push(`${dump.backend} backend`);
  if (dump.family === 'ipv6') parts.push('ipv6');
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function chainLabel(table: string, chain: string): string {
  return table === 'filter' ? chain : `${table} ${chain}`;
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Sentences for chaos-named chains that are unreachable or empty (scaffolding). */
function chainStatus(b: Builder, g: TableGraph, a: AnalysedDump): void {
  const tname = g.table.name;
  for (const c of g.chains.values()) {
    const role = chaosChainRole(tname, c.name);
    if (role === null) continue;
    const label = chainLabel(tname, c.name);
    const refs = g.referrers.get(c.name) ?? [];
    const liveFrom = uniq(refs.filter((r) => r.live).map((r) => r.from));
    const deadFrom = uniq(refs.filter((r) => !r.live).map((r) => r.from));
    const n = c.rules.length;
    if (!g.reachable.has(c.name)) {
      const nobody =
        deadFrom.length === 0 ? 'nothing jumps to it' : `nothing reachable jumps to it (only ${listNames(deadFrom)})`;
      const what = n === 0 ? 'is empty and' : `holds ${plural(n, 'rule')} but`;
      add(b, 'scaffolding', null, `${label} ${what} ${nobody}${a.annotation}`);
      continue;
    }
    const from = liveFrom.length > 0 ? listNames(liveFrom) : 'a built-in chain';
    if (n === 0) {
      add(b, 'scaffolding', null, `${label} is empty (jumped to from ${from})${a.annotation}`);
      continue;
    }
    if (role === 'http') continue; // judged in httpFindings
    const live = liveRules(g, c.name);
    const effective = live.some(
      (r) =>
        (r.target !== null && (DROP_TARGETS.has(r.target) || r.target === 'CLASSIFY')) ||
        userTarget(r, g.chains) !== null,
    );
    if (!effective) {
      const targets = uniq(live.map((r) => r.target ?? 'no target'));
      add(
        b,
        'scaffolding',
        null,
        `${label} holds ${plural(n, 'rule')} that neither drop nor classify traffic (${targets.join(', ')}; jumped to from ${from})${a.annotation}`,
      );
    }
  }
}

function partitionFindings(b: Builder, g: TableGraph, a: AnalysedDump): void {
  const tname = g.table.name;
  const starts: string[] = [];
  for (const c of g.chains.values()) {
    const role = chaosChainRole(tname, c.name);
    if (role === 'base' || role === 'experiment' || role === 'tc') starts.push(c.name);
  }
  const chaosChains = subgraph(g, starts);
  for (const c of g.chains.values()) {
    const inChaos = chaosChains.has(c.name);
    for (const r of liveRules(g, c.name)) {
      if (r.target === null || !DROP_TARGETS.has(r.target)) continue;
      if (!inChaos && !r.matchSets.some((m) => isChaosIpsetName(m.name))) continue;
      const verb = r.target === 'DROP' ? 'drops' : 'rejects';
      add(b, 'active', 'partition', `${chainLabel(tname, c.name)} ${verb} ${describeTraffic(r, b.sets)}${a.annotation}`);
    }
  }
}

/**
 * HTTPChaos. chaos-tproxy's layouts (mangle table): releases with CHAOS_PROXY_PREROUTING hold the TPROXY rule in
 * that chain; chaos-tproxy-controller (proxy/net/iptables.rs) creates DIVERT (-m socket -> MARK 1, ACCEPT) and
 * appends `-p tcp [-m multiport --dports P] -j TPROXY --tproxy-mark 0x1/0x1 --on-port N` straight to PREROUTING.
 * So a live TPROXY counts when it is in (or under) a chaos http chain, or in a built-in chain of a table that
 * also holds DIVERT. TPROXY anywhere else (Istio's ISTIO_TPROXY, ...) belongs to someone else.
 */
function httpFindings(b: Builder, g: TableGraph, a: AnalysedDump, ipRules: string[]): boolean {
  const tname = g.table.name;
  const httpChains = [...g.chains.keys()].filter((n) => chaosChainRole(tname, n) === 'http');
  if (httpChains.length === 0) return false;
  const sub = subgraph(g, httpChains);
  if (g.chains.has('DIVERT')) for (const c of g.chains.values()) if (isBuiltin(c)) sub.add(c.name);
  const fwmarkRules = ipRules.map(oneLine).filter((l) => /\bfwmark\b/.test(l));
  const routing = fwmarkRules.length > 0 ? `; ip rule: ${fwmarkRules.join('; ')}` : '';
  let active = false;
  for (const name of sub) {
    for (const r of liveRules(g, name)) {
      if (r.target !== 'TPROXY') continue;
      active = true;
      const port = optionValue(r.targetOptions, '--on-port');
      const mark = optionValue(r.targetOptions, '--tproxy-mark');
      add(
        b,
        'active',
        'http',
        `${chainLabel(tname, name)} diverts ${describeTraffic(r, b.sets)} to a transparent proxy` +
          `${port !== null ? ` on port ${port}` : ''} (TPROXY${mark !== null ? ` mark ${mark}` : ''})${routing}${a.annotation}`,
      );
    }
  }
  if (!active) {
    for (const name of httpChains) {
      const c = g.chains.get(name)!;
      if (!g.reachable.has(name) || c.rules.length === 0) continue; // chainStatus reports these
      const from = uniq((g.referrers.get(name) ?? []).filter((r) => r.live).map((r) => r.from));
      add(
        b,
        'scaffolding',
        null,
        `${chainLabel(tname, name)} holds ${plural(c.rules.length, 'rule')} (jumped to from ${listNames(from)}) ` +
          `but no reachable TPROXY rule sends traffic to a proxy${a.annotation}`,
      );
    }
  }
  return active;
}

function foreignChains(b: Builder, a: AnalysedDump): void {
  const byOwner = new Map<(typeof FOREIGN_OWNERS)[number] | null, string[]>();
  for (const g of a.graphs) {
    for (const c of g.chains.values()) {
      if (isBuiltin(c) || chaosChainRole(g.table.name, c.name) !== null) continue;
      const owner = FOREIGN_OWNERS.find(([re]) => re.test(c.name)) ?? null;
      const list = byOwner.get(owner) ?? [];
      list.push(c.name);
      byOwner.set(owner, list);
    }
  }
  for (const [owner, names] of byOwner) {
    const text =
      owner === null
        ? `foreign: ${plural(names.length, 'other user chain')} (${listNames(names)})`
        : `foreign: ${plural(names.length, `${owner[1]} chain`)} (${owner[2]})`;
    add(b, 'foreign', null, `${text}${a.annotation}`);
  }
}

function classifiersOf(b: Builder, dumps: AnalysedDump[], filters: TcFilter[]): Classifier[] {
  const out: Classifier[] = [];
  for (const a of dumps) {
    for (const g of a.graphs) {
      for (const name of g.reachable) {
        for (const r of liveRules(g, name)) {
          if (r.target !== 'CLASSIFY') continue;
          const raw = optionValue(r.targetOptions, '--set-class');
          const cls = raw === null ? null : canonicalHandle(raw);
          if (cls === null) continue;
          const label = chainLabel(g.table.name, name);
          const chaos = chaosChainRole(g.table.name, name) !== null;
          out.push({
            cls,
            phrase: `${describeTraffic(r, b.sets)}, classified by ${label}${a.annotation}`,
            chaosLabel: chaos ? label : null,
            annotation: a.annotation,
          });
        }
      }
    }
  }
  for (const f of filters) {
    const cls = f.flowid === null ? null : canonicalHandle(f.flowid);
    if (cls === null) continue;
    out.push({ cls, phrase: `traffic a ${f.kind} filter on ${f.interface} sends to ${cls}`, chaosLabel: null, annotation: '' });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Traffic control

/** Loss models (`loss state` / `loss gemodel`): Chaos Mesh uses random loss, but any model loses packets. */
function lossModelName(n: NetemOptions): string | null {
  if (n.lossState !== undefined) return '4-state Markov';
  if (n.lossGemodel !== undefined) return 'Gilbert-Elliott';
  return null;
}

function netemEffects(n: NetemOptions): { kinds: ChaosKind[]; text: string[] } {
  const kinds: ChaosKind[] = [];
  const text: string[] = [];
  const corr = (c: number | undefined): string => (c !== undefined && c > 0 ? ` (${formatPercent(c)} correlation)` : '');
  const delay = n.delaySeconds ?? 0;
  const jitter = n.jitterSeconds ?? 0;
  if (delay > 0 || jitter > 0) {
    kinds.push('delay');
    text.push(`delays ${formatSeconds(delay)}${jitter > 0 ? ` ±${formatSeconds(jitter)}` : ''}${corr(n.delayCorrelation)}`);
  }
  const slotMin = n.slot?.minDelaySeconds ?? 0;
  const slotMax = n.slot?.maxDelaySeconds ?? 0;
  const slotDist = n.slot?.distributionDelaySeconds ?? 0;
  if (slotMax > 0 || slotMin > 0) {
    if (!kinds.includes('delay')) kinds.push('delay');
    text.push(`releases packets in slots every ${formatSeconds(slotMin)}-${formatSeconds(slotMax)}`);
  } else if (slotDist > 0) {
    if (!kinds.includes('delay')) kinds.push('delay');
    text.push(`releases packets in slots every ${formatSeconds(slotDist)} ±${formatSeconds(n.slot?.distributionJitterSeconds ?? 0)}`);
  }
  if ((n.loss ?? 0) > 0) {
    kinds.push('loss');
    text.push(`loses ${formatPercent(n.loss!)}${corr(n.lossCorrelation)}`);
  } else {
    const model = lossModelName(n);
    if (model !== null) {
      kinds.push('loss');
      text.push(`loses packets (${model} loss model)`);
    }
  }
  if ((n.duplicate ?? 0) > 0) {
    kinds.push('duplicate');
    text.push(`duplicates ${formatPercent(n.duplicate!)}${corr(n.duplicateCorrelation)}`);
  }
  if ((n.corrupt ?? 0) > 0) {
    kinds.push('corrupt');
    text.push(`corrupts ${formatPercent(n.corrupt!)}${corr(n.corruptCorrelation)}`);
  }
  if ((n.reorder ?? 0) > 0) {
    kinds.push('reorder');
    const gap = n.gap !== undefined && n.gap > 0 ? `, gap ${n.gap}` : '';
    text.push(`reorders ${formatPercent(n.reorder!)}${corr(n.reorderCorrelation)}${gap}`);
  }
  if ((n.rateBytesPerSecond ?? 0) > 0) {
    kinds.push('bandwidth');
    text.push(`limits rate to ${formatRate(n.rateBytesPerSecond!)}`);
  }
  return { kinds, text };
}

function tbfEffects(t: TbfOptions): string {
  const extras: string[] = [];
  if (t.burstBytes !== undefined) extras.push(`burst ${formatBytes(t.burstBytes)}`);
  if (t.limitBytes !== undefined) extras.push(`limit ${formatBytes(t.limitBytes)}`);
  if (t.peakrateBytesPerSecond !== undefined && t.peakrateBytesPerSecond > 0) {
    extras.push(`peakrate ${formatRate(t.peakrateBytesPerSecond)}`);
  }
  const rate = t.rateBytesPerSecond !== undefined ? formatRate(t.rateBytesPerSecond) : 'an unknown rate';
  return `limits rate to ${rate}${extras.length > 0 ? ` (${extras.join(', ')})` : ''}`;
}

function samePriomap(a: readonly number[] | undefined): boolean {
  return a !== undefined && a.length === CHAOS_MESH_PRIOMAP.length && a.every((v, i) => v === CHAOS_MESH_PRIOMAP[i]);
}

interface Flow {
  receives: boolean;
  /** Innermost prio band that needs a classifier on the way from the root, if any. */
  gate: string | null;
  via: Classifier[];
}

class QdiscTree {
  private readonly byMajor = new Map<string, Qdisc>();
  private readonly flows = new Map<Qdisc, Flow>();
  private readonly chaos = new Map<Qdisc, boolean>();

  constructor(
    readonly iface: string,
    readonly qdiscs: Qdisc[],
    private readonly classifiers: Classifier[],
  ) {
    for (const q of qdiscs) {
      const m = majorOf(q.handle);
      if (m !== null && !this.byMajor.has(m)) this.byMajor.set(m, q);
    }
  }

  isRoot(q: Qdisc): boolean {
    return q.root || q.parent === 'root';
  }

  parentOf(q: Qdisc): Qdisc | null {
    if (this.isRoot(q)) return null;
    const m = majorOf(q.parent);
    if (m === null) return null;
    const p = this.byMajor.get(m);
    return p === undefined || p === q ? null : p;
  }

  private isChaosPrio(q: Qdisc): boolean {
    return q.kind === 'prio' && samePriomap(q.prio?.priomap);
  }

  private classified(q: Qdisc): boolean {
    const cls = canonicalHandle(q.parent);
    return cls !== null && this.classifiers.some((c) => c.cls === cls);
  }

  isChaos(q: Qdisc, depth = 0): boolean {
    const known = this.chaos.get(q);
    if (known !== undefined) return known;
    let v: boolean;
    const p = this.parentOf(q);
    const underChaos = p !== null && depth < 64 && this.isChaos(p, depth + 1);
    if (q.kind === 'netem') v = true;
    else if (q.kind === 'tbf') v = this.isRoot(q) || underChaos || this.classified(q);
    else if (q.kind === 'prio') v = this.isChaosPrio(q);
    else if (q.kind === 'sfq') v = p !== null && this.isChaosPrio(p);
    else v = false;
    this.chaos.set(q, v);
    return v;
  }

  flow(q: Qdisc, depth = 0): Flow {
    const known = this.flows.get(q);
    if (known !== undefined) return known;
    let f: Flow = { receives: true, gate: null, via: [] };
    const p = this.parentOf(q);
    if (p !== null && depth < 64) {
      const pf = this.flow(p, depth + 1);
      f = pf;
      if (pf.receives && p.kind === 'prio' && p.prio !== undefined) {
        const cls = canonicalHandle(q.parent);
        const band = cls === null ? 0 : parseInt(cls.split(':')[1]!, 16);
        const defaultBands = new Set(p.prio.priomap.map((v) => v + 1));
        if (cls !== null && band > 0 && !defaultBands.has(band)) {
          const via = this.classifiers.filter((c) => c.cls === cls);
          f = { receives: via.length > 0, gate: cls, via };
        }
      }
    }
    this.flows.set(q, f);
    return f;
  }

  /** True when `q` lies under `ancestor` (or is it). */
  under(q: Qdisc, ancestor: Qdisc): boolean {
    let cur: Qdisc | null = q;
    for (let i = 0; cur !== null && i < 64; i++) {
      if (cur === ancestor) return true;
      cur = this.parentOf(cur);
    }
    return false;
  }

  position(q: Qdisc): string {
    return this.isRoot(q) ? `${this.iface} root ${q.kind}` : `${this.iface} ${q.kind} ${q.handle} (parent ${q.parent})`;
  }
}

function tcFindings(b: Builder, state: NetnsState, classifiers: Classifier[]): void {
  const byIface = new Map<string, Qdisc[]>();
  for (const q of state.tc.qdiscs) {
    const list = byIface.get(q.interface) ?? [];
    list.push(q);
    byIface.set(q.interface, list);
  }
  const served = new Set<string>();
  for (const [iface, qdiscs] of byIface) {
    const tree = new QdiscTree(iface, qdiscs, classifiers);
    // Pass 1: judge every chaos netem/tbf (prio judgement needs to know which of them are active).
    const judged = new Map<Qdisc, Finding>();
    const active: Qdisc[] = [];
    for (const q of qdiscs) {
      if ((q.kind !== 'netem' && q.kind !== 'tbf') || !tree.isChaos(q)) continue;
      const flow = tree.flow(q);
      if (flow.gate !== null) served.add(flow.gate);
      // The class a netem/tbf hangs under is served by it, whatever the parent qdisc (prio band or htb class).
      const parentClass = tree.isRoot(q) ? null : canonicalHandle(q.parent);
      if (parentClass !== null) served.add(parentClass);
      const { kinds, text } =
        q.kind === 'netem' ? netemEffects(q.netem ?? {}) : { kinds: ['bandwidth' as ChaosKind], text: [tbfEffects(q.tbf ?? {})] };
      const pos = tree.position(q);
      if (kinds.length === 0) {
        judged.set(q, {
          level: 'scaffolding',
          kind: null,
          message: `${pos} changes nothing (no delay, loss, duplicate, corrupt, reorder or rate)`,
        });
      } else if (!flow.receives) {
        const gate = flow.gate ?? 'its class';
        judged.set(q, {
          level: 'scaffolding',
          kind: null,
          message: `${pos} ${text.join(', ')}, but nothing reachable classifies traffic into ${gate}`,
        });
      } else {
        active.push(q);
        const via = flow.via.length > 0 ? ` for ${flow.via.map((c) => c.phrase).join('; ')}` : '';
        // One sentence per qdisc: `kind` is its first kind, `kinds` all of them (a netem can delay and lose).
        judged.set(q, { level: 'active', kind: kinds[0]!, kinds, message: `${pos} ${text.join(', ')}${via}` });
      }
    }
    // Pass 2: sentences in the order tc printed the qdiscs.
    for (const q of qdiscs) {
      const j = judged.get(q);
      if (j !== undefined) {
        b.details.push(j);
      } else if (q.kind === 'tbf') {
        add(b, 'foreign', null, `foreign: ${tree.position(q)} ${tbfEffects(q.tbf ?? {})}, outside Chaos Mesh's layout`);
      } else if (q.kind === 'netem') {
        continue; // every netem is chaos: judged above
      } else if (tree.isChaos(q)) {
        if (q.kind === 'prio' && !active.some((x) => tree.under(x, q))) {
          const bands = q.prio?.bands ?? 0;
          add(
            b,
            'scaffolding',
            null,
            `${tree.position(q)} with Chaos Mesh's priomap (${plural(bands, 'band')}) carries no active netem or tbf`,
          );
        }
      } else if (!DEFAULT_QDISCS.has(q.kind)) {
        add(b, 'foreign', null, `foreign: ${tree.position(q)}`);
      }
    }
  }
  // CLASSIFY rules in Chaos Mesh chains whose class holds no netem/tbf.
  for (const c of classifiers) {
    if (c.chaosLabel === null || served.has(c.cls)) continue;
    add(
      b,
      'scaffolding',
      null,
      `${c.chaosLabel} classifies traffic into ${c.cls}, but no netem or tbf qdisc sits under ${c.cls}${c.annotation}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point

const LEVEL_ORDER: Record<Finding['level'], number> = { active: 0, scaffolding: 1, foreign: 2 };

export function fingerprint(state: NetnsState): ChaosReport {
  const sets = new IpsetIndex(state.ipsets.sets);
  const b: Builder = { details: [], sets };
  const primary = primaryBackend(state.iptables);
  const dumps: AnalysedDump[] = state.iptables.map((dump) => ({
    dump,
    graphs: dump.tables.map(buildTableGraph),
    annotation: annotationFor(dump, primary),
  }));

  // Sets used by live rules (anywhere), and by tc filters (ipset ematch).
  const used: string[] = [];
  for (const a of dumps) {
    for (const g of a.graphs) {
      for (const name of g.reachable) for (const r of liveRules(g, name)) for (const m of r.matchSets) used.push(m.name);
    }
  }
  // The sets a filter's ematches name (typed by both readers; `options` is each reader's raw view).
  const filterSets = new Set(state.tc.filters.flatMap((f) => f.matchSets ?? []));
  for (const s of sets.all()) if (filterSets.has(s.name)) used.push(s.name);
  const usedSets = sets.closure(used);

  let httpActive = false;
  for (const a of dumps) {
    for (const g of a.graphs) {
      partitionFindings(b, g, a);
      if (httpFindings(b, g, a, state.ipRules)) httpActive = true;
      chainStatus(b, g, a);
    }
    foreignChains(b, a);
  }

  tcFindings(b, state, classifiersOf(b, dumps, state.tc.filters));

  for (const d of state.dnsChaos) {
    add(
      b,
      'active',
      'dns',
      `container ${d.container} (pid ${d.pid}) has /etc/resolv.conf.chaos.bak: DNSChaos replaced its /etc/resolv.conf`,
    );
  }

  const unused = sets.all().filter((s) => isChaosIpsetName(s.name) && !usedSets.has(s.name));
  if (unused.length > 0) {
    const list = unused
      .map((s) => `${s.name} (${s.type}, ${plural(sets.count(s.name), 'member')})`)
      .join(', ');
    add(b, 'scaffolding', null, `${plural(unused.length, 'Chaos Mesh ipset')} no reachable rule uses: ${list}`);
  }
  const foreignSets = sets.all().filter((s) => !isChaosIpsetName(s.name));
  if (foreignSets.length > 0) {
    add(b, 'foreign', null, `foreign: ${plural(foreignSets.length, 'other ipset')} (${listNames(foreignSets.map((s) => s.name))})`);
  }

  if (!httpActive) {
    for (const line of state.ipRules) {
      if (/\bfwmark (?:0x0*1|1)(?:\/\S+)?\s+lookup 100\b/.test(line)) {
        add(b, 'scaffolding', null, `ip rule "${oneLine(line)}" (HTTPChaos routing) remains`);
      }
    }
  }

  return report(b.details);
}

function report(all: Finding[]): ChaosReport {
  const kinds = new Set<ChaosKind>();
  for (const d of all) {
    if (d.level !== 'active') continue;
    if (d.kind !== null) kinds.add(d.kind);
    for (const k of d.kinds ?? []) kinds.add(k);
  }
  const details = all
    .map((d, i) => ({ d, i }))
    .sort((x, y) => LEVEL_ORDER[x.d.level] - LEVEL_ORDER[y.d.level] || x.i - y.i)
    .map(({ d }) => d);
  let verdict: Verdict = 'clean';
  if (details.some((d) => d.level === 'active')) verdict = 'active';
  else if (details.some((d) => d.level === 'scaffolding')) verdict = 'scaffolding';
  return {
    verdict,
    kinds: [...kinds].sort(),
    findings: details.filter((d) => d.level !== 'foreign').map((d) => d.message),
    details,
  };
}
