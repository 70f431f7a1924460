/**
 * PodNetworkChaos spec.iptables[] and spec.ipsets[] against the chains and ipsets in the kernel. Pure.
 * - A chain entry is present when its chain exists in the filter table (any backend, IPv4 first), is jumped to
 *   from CHAOS-INPUT / CHAOS-OUTPUT (its direction) and holds one DROP rule per intended ipset (`-i`/`-o` the
 *   device when one is given; a single bare DROP when the entry has no ipset), and nothing else that drops;
 *   otherwise mismatch, with what differs. No such chain: missing.
 * - CHAOS-INPUT / CHAOS-OUTPUT are owned by every source of the PodNetworkChaos (chaos-daemon's
 *   initializeEnv creates both on each apply, even for tc-only specs); TC-TABLES-<i> by the tcs entry whose ipset
 *   its CLASSIFY rule matches;
 *   mangle DIVERT & co by the PodHttpChaos rules' sources. Anything else is a leftover.
 * - An ipset entry is present when a set of that name and type holds exactly the intended members (`ipset save`
 *   spelling); `<name>old`, the temporary set chaos-daemon swaps in and never destroys, belongs to `<name>`.
 * - A mismatch whose name another experiment's entries also carry (same name, another namespace) says so
 *   (name-collision.ts).
 */
import { plural } from '../chaos/format.js';
import type { ChaosKind } from '../chaos/types.js';
import type { ChainArtefact, IpsetArtefact, KernelArtefacts } from './artefacts.js';
import type { PendingEntry } from './drift.js';
import type { ChainIntent, ExperimentRef, IpsetIntent, PodHttpIntent, PodNetworkIntent } from './model.js';
import { tcKinds } from './match-tc.js';
import { collisionNote } from './name-collision.js';

const MAX_LISTED = 5;

function where(c: ChainArtefact): string {
  return `${c.backend} ${c.family} ${c.table}`;
}

function chainKernel(c: ChainArtefact): string {
  const from = c.jumpedFrom.length ? `from ${c.jumpedFrom.join(', ')}` : 'nothing jumps to it';
  return `${plural(c.rules.length, 'rule')}, ${from}${c.jumpedFrom.length && !c.reachable ? ' (unreachable)' : ''}`;
}

function setText(type: string, members: number): string {
  return `${type}, ${plural(members, 'member')}`;
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function list(xs: string[]): string {
  return xs.length <= MAX_LISTED ? xs.join(', ') : `${xs.slice(0, MAX_LISTED).join(', ')} and ${xs.length - MAX_LISTED} more`;
}

function entry(e: Omit<PendingEntry, 'phrases' | 'active'> & { phrases?: string[]; active?: boolean }): PendingEntry {
  return { phrases: [], active: false, ...e };
}

export function ownersOf(sources: (ExperimentRef | null)[]): ExperimentRef[] {
  return uniq(sources.filter((s): s is ExperimentRef => typeof s === 'string' && s !== '')).sort();
}

/** What differs between a chain in the kernel and its entry; [] when it is as intended. */
function chainProblems(c: ChainArtefact, want: ChainIntent, chains: ChainArtefact[]): string[] {
  const problems: string[] = [];
  const base = want.direction === 'input' ? 'CHAOS-INPUT' : 'CHAOS-OUTPUT';
  const baseChain = chains.find((b) => b.name === base && b.table === c.table && b.backend === c.backend && b.family === c.family);
  if (!c.jumpedFrom.includes(base)) problems.push(`${base} does not jump to it`);
  else if (!c.reachable || (baseChain !== undefined && !baseChain.reachable)) problems.push('no built-in chain reaches it');
  const drops = c.rules.filter((r) => r.target === 'DROP' || r.target === 'REJECT');
  const deviceOk = (r: ChainArtefact['rules'][number]): boolean =>
    want.device === null || (want.direction === 'input' ? r.inInterface : r.outInterface) === want.device;
  if (want.ipsets.length === 0) {
    if (!drops.some((r) => r.matchSets.length === 0 && deviceOk(r))) problems.push(`no rule drops all ${want.device ?? ''} traffic`.replace('  ', ' '));
  } else {
    const missing = want.ipsets.filter((s) => !drops.some((r) => r.matchSets.some((m) => m.name === s && !m.negated) && deviceOk(r)));
    if (missing.length > 0) problems.push(`no DROP rule${want.device ? ` on ${want.device}` : ''} for ipset ${list(missing)}`);
  }
  const unexpected = drops.filter((r) => r.matchSets.length > 0 && !r.matchSets.some((m) => want.ipsets.includes(m.name)));
  if (unexpected.length > 0) problems.push(`unexpected rule ${list(unexpected.map((r) => `"${r.text}"`))}`);
  return problems;
}

function chainEntries(intent: PodNetworkIntent | null, http: PodHttpIntent | null, k: KernelArtefacts): PendingEntry[] {
  const out: PendingEntry[] = [];
  const wanted = intent?.chains ?? [];
  const tcs = intent?.tcs ?? [];
  const claimed = new Set<ChainArtefact>();
  for (const want of wanted) {
    const found = k.chains.filter((c) => c.name === want.name && c.table === 'filter');
    const c = found.find((x) => x.family === 'ipv4' && x.reachable) ?? found.find((x) => x.family === 'ipv4') ?? found[0];
    for (const f of found) claimed.add(f);
    const describe = `${want.direction} chain${want.device ? ` on ${want.device}` : ''}${want.ipsets.length ? ` dropping ipset ${list(want.ipsets)}` : ' dropping everything'}`;
    if (c === undefined) {
      out.push(entry({ artefact: 'chain', name: want.name, where: null, owners: ownersOf([want.source]), state: 'missing', kinds: ['partition'], tokens: [want.name], network: true,
        detail: `${want.name} (${describe}) is not in the kernel`, spec: describe, kernel: null }));
      continue;
    }
    const problems = chainProblems(c, want, k.chains);
    out.push(entry({
      artefact: 'chain', name: want.name, where: where(c), owners: ownersOf([want.source]), state: problems.length ? 'mismatch' : 'present',
      kinds: ['partition'], tokens: [want.name], spec: describe, kernel: chainKernel(c), network: true,
      detail: problems.length ? `${want.name}: ${problems.join('; ')} (spec: ${describe})${collisionNote(want.name, want.source, intent)}` : `${want.name} ${describe}, as specified`,
    }));
  }
  const httpOwners = (http?.rules ?? []).map((r) => r.source).filter((s): s is string => s !== null);
  for (const c of k.chains) {
    if (claimed.has(c)) continue;
    let owners: ExperimentRef[] = [];
    let why = '';
    if (c.role === 'base') {
      // chaos-daemon creates both on every apply of the PodNetworkChaos, whatever its entries.
      owners = [...wanted, ...(intent?.ipsets ?? []), ...tcs].map((w) => w.source);
      why = 'set up by chaos-daemon with every apply';
    } else if (c.role === 'tc') {
      const sets = uniq(c.rules.flatMap((r) => r.matchSets.map((m) => m.name)));
      owners = tcs.filter((t) => t.ipset !== null && sets.includes(t.ipset)).map((t) => t.source);
      why = `${c.name} classifies ipset ${list(sets)} into a qdisc`;
    } else if (c.role === 'http') {
      owners = httpOwners;
      why = `${c.label} diverts traffic to HTTPChaos' proxy`;
    }
    const owned = ownersOf(owners);
    out.push(entry({
      artefact: 'chain', name: c.name, where: where(c), owners: owned, state: owned.length === 0 ? 'leftover' : 'present', kinds: [], tokens: [c.name],
      // HTTPChaos' mangle chains are PodHttpChaos', not what chaos-daemon applies from the PodNetworkChaos: their
      // owners are the rules' HTTPChaos (lifecycle.ts).
      network: c.role !== 'http',
      ...(c.role === 'http' ? { podChaos: 'PodHttpChaos' as const } : {}),
      spec: owned.length === 0 ? null : `(${why})`, kernel: chainKernel(c),
      detail: owned.length === 0
        ? `${c.label} (${plural(c.rules.length, 'rule')}) is in the kernel, but no PodNetworkChaos entry${c.role === 'http' ? ' or PodHttpChaos rule' : ''} asks for it`
        : why,
    }));
  }
  return out;
}

function setsEqual(a: string[], b: string[]): { missing: string[]; extra: string[] } {
  const A = new Set(a);
  const B = new Set(b);
  return { missing: [...A].filter((x) => !B.has(x)), extra: [...B].filter((x) => !A.has(x)) };
}

/** Kinds an intended ipset serves: partition for chains that match it, the tc kinds for tcs that filter on it. */
function setKinds(name: string, intent: PodNetworkIntent, depth = 0): ChaosKind[] {
  const kinds = new Set<ChaosKind>();
  if (intent.chains.some((c) => c.ipsets.includes(name))) kinds.add('partition');
  for (const t of intent.tcs) if (t.ipset === name) for (const kind of tcKinds(t)) kinds.add(kind);
  if (depth < 4) {
    for (const parent of intent.ipsets) if (parent.type === 'list:set' && parent.members.includes(name)) for (const kind of setKinds(parent.name, intent, depth + 1)) kinds.add(kind);
  }
  return kinds.size > 0 ? [...kinds].sort() : ['partition'];
}

function ipsetEntries(intent: PodNetworkIntent | null, k: KernelArtefacts): PendingEntry[] {
  const out: PendingEntry[] = [];
  const byName = new Map<string, IpsetArtefact>(k.ipsets.map((s) => [s.name, s]));
  const claimed = new Set<string>();
  const wanted: IpsetIntent[] = intent?.ipsets ?? [];
  for (const want of wanted) {
    claimed.add(want.name);
    const kinds = setKinds(want.name, intent!);
    const have = byName.get(want.name);
    const base = { artefact: 'ipset' as const, name: want.name, where: null, owners: ownersOf([want.source]), kinds, tokens: [want.name], spec: setText(want.type, want.members.length), network: true };
    if (!have) {
      out.push(entry({ ...base, state: 'missing', kernel: null, detail: `ipset ${want.name} (${setText(want.type, want.members.length)}) is not in the kernel` }));
      continue;
    }
    const problems: string[] = [];
    if (have.set.type !== want.type) problems.push(`type ${have.set.type} in the kernel, ${want.type} in the spec`);
    const d = setsEqual(want.members, have.set.members.map((m) => m.value));
    if (d.missing.length > 0) problems.push(`missing member${d.missing.length === 1 ? '' : 's'} ${list(d.missing)}`);
    if (d.extra.length > 0) problems.push(`unexpected member${d.extra.length === 1 ? '' : 's'} ${list(d.extra)}`);
    out.push(entry({
      ...base,
      kernel: setText(have.set.type, have.set.members.length),
      state: problems.length ? 'mismatch' : 'present',
      detail: problems.length ? `ipset ${want.name}: ${problems.join('; ')}${collisionNote(want.name, want.source, intent)}` : `ipset ${want.name} (${setText(want.type, want.members.length)}), as specified`,
      ...(problems.length ? { expected: { members: want.members.length, type: want.type }, actual: { members: have.set.members.length, type: have.set.type } } : {}),
    }));
  }
  const sources = new Map(wanted.map((w) => [w.name, w.source]));
  for (const s of k.ipsets) {
    if (claimed.has(s.name)) continue;
    const parent = s.name.endsWith('old') ? sources.get(s.name.slice(0, -3)) : undefined;
    if (parent !== undefined) {
      out.push(entry({ artefact: 'ipset', name: s.name, where: null, owners: ownersOf([parent]), state: 'present', kinds: [], tokens: [s.name], network: true,
        spec: `(temporary set of ${s.name.slice(0, -3)})`, kernel: setText(s.set.type, s.set.members.length),
        detail: `ipset ${s.name} is the temporary set chaos-daemon swaps onto ${s.name.slice(0, -3)} (never destroyed)` }));
      continue;
    }
    out.push(entry({ artefact: 'ipset', name: s.name, where: null, owners: [], state: 'leftover', kinds: [], tokens: [s.name], network: true,
      spec: null, kernel: setText(s.set.type, s.set.members.length),
      detail: `ipset ${s.name} (${setText(s.set.type, s.set.members.length)}) is in the kernel, but no PodNetworkChaos entry asks for it` }));
  }
  return out;
}

export function matchIptables(intent: PodNetworkIntent | null, http: PodHttpIntent | null, k: KernelArtefacts): PendingEntry[] {
  return [...chainEntries(intent, http, k), ...ipsetEntries(intent, k)];
}
