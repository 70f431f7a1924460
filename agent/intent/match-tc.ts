/**
 * PodNetworkChaos spec.tcs[] against the netem / tbf qdiscs in the kernel. Pure.
 * An entry is looked for on its device (eth0 by default) among the qdiscs of its type (netem for `netem`, tbf
 * for `bandwidth`) that filter on the same ipset (the CLASSIFY rules feeding the qdisc's class; none for a
 * whole-device entry). A qdisc whose parameters equal the spec's is `present`; then the remaining entries take
 * the remaining qdiscs in order, and differ: `mismatch`, with each differing parameter (tolerances cover the
 * kernel's fixed-point storage: netem's 32-bit probabilities and ns latencies; tbf's burst and mtu are kept as
 * times in 64 ns ticks, so the spec's bytes are put through the kernel's arithmetic (psched.ts sizeReadBacks) and
 * compared with what that reads back).
 * A netem whose delay chaos-daemon itself left out (its latency or jitter text fails chaos-daemon's string comparison
 * with "0ms", pkg/chaosdaemon/tc_server.go:426 and :428; units.ts passesChaosDaemonTimeCheck) is still a mismatch, and
 * its detail says it is Chaos Mesh's own defect.
 * An entry left without a qdisc is `missing`; a netem / tbf left without an entry is a `leftover`. The prio
 * root and its sfq bands of the filtered layout belong to the filtered entries of their device.
 */
import type { ChaosKind } from '../chaos/types.js';
import { sizeReadBacks } from '../netns/netlink/tc/psched.js';
import type { NetemOptions, TbfOptions } from '../netns/state.js';
import type { KernelArtefacts, QdiscArtefact } from './artefacts.js';
import type { PendingEntry, Quantity } from './drift.js';
import type { NetemIntent, PodNetworkIntent, TbfIntent, TcIntent } from './model.js';
import { collisionNote } from './name-collision.js';
import { TC_MAX_NETEM_US, formatQuantity, passingDurationText } from './units.js';

/** The chaos kinds a tc entry produces (netem fields that are set; bandwidth for tbf or a netem rate). */
export function tcKinds(t: TcIntent): ChaosKind[] {
  if (t.type === 'bandwidth') return ['bandwidth'];
  const n = t.netem!;
  const kinds: ChaosKind[] = [];
  if (n.delaySeconds > 0 || n.jitterSeconds > 0) kinds.push('delay');
  if (n.loss > 0) kinds.push('loss');
  if (n.duplicate > 0) kinds.push('duplicate');
  if (n.corrupt > 0) kinds.push('corrupt');
  if (n.reorder > 0) kinds.push('reorder');
  if (n.rateBytesPerSecond > 0) kinds.push('bandwidth');
  return kinds.sort();
}

interface Tolerance {
  abs: number;
  rel: number;
}

const NETEM_FIELDS: readonly [keyof NetemIntent & keyof NetemOptions, Tolerance][] = [
  ['delaySeconds', { abs: 2e-6, rel: 1e-3 }],
  ['jitterSeconds', { abs: 2e-6, rel: 1e-3 }],
  ['delayCorrelation', { abs: 5e-4, rel: 0 }],
  ['loss', { abs: 5e-4, rel: 0 }],
  ['lossCorrelation', { abs: 5e-4, rel: 0 }],
  ['duplicate', { abs: 5e-4, rel: 0 }],
  ['duplicateCorrelation', { abs: 5e-4, rel: 0 }],
  ['corrupt', { abs: 5e-4, rel: 0 }],
  ['corruptCorrelation', { abs: 5e-4, rel: 0 }],
  ['reorder', { abs: 5e-4, rel: 0 }],
  ['reorderCorrelation', { abs: 5e-4, rel: 0 }],
  ['gap', { abs: 0, rel: 0 }],
  ['rateBytesPerSecond', { abs: 1, rel: 1e-3 }],
];

const TBF_FIELDS: readonly [keyof TbfIntent & keyof TbfOptions, Tolerance][] = [
  ['rateBytesPerSecond', { abs: 1, rel: 1e-3 }],
  // Kept as a time (ticks) at the rate / peak rate: compared through the kernel's arithmetic (storedBytesMatch).
  ['burstBytes', { abs: 1, rel: 0 }],
  ['limitBytes', { abs: 1, rel: 0 }],
  ['peakrateBytesPerSecond', { abs: 1, rel: 1e-3 }],
  ['mtuBytes', { abs: 1, rel: 0 }],
];

function close(a: number, b: number, t: Tolerance): boolean {
  return Math.abs(a - b) <= Math.max(t.abs, t.rel * Math.max(Math.abs(a), Math.abs(b)));
}

/**
 * A tbf burst (at `rate`) or mtu (at the peak rate) the spec gives in bytes, against the bytes read back: equal when
 * `got` is what the kernel's tick round trip makes of `want` (within a byte of float rounding).
 */
export function storedBytesMatch(want: number, got: number, rate: number | null): boolean {
  if (rate === null || !(rate > 0)) return close(want, got, { abs: 1, rel: 0 });
  return close(want, got, { abs: 1, rel: 0 }) || sizeReadBacks(Math.trunc(rate), want).some((v) => Math.abs(v - got) <= 1);
}

export interface ParamDiff {
  field: string;
  expected: Quantity;
  actual: Quantity;
}

/** Differences between an entry's parameters and a qdisc's ([] when equal within tolerance). */
export function compareParams(t: TcIntent, q: QdiscArtefact): ParamDiff[] {
  const diffs: ParamDiff[] = [];
  if (t.type === 'netem') {
    const have = q.qdisc.netem ?? {};
    for (const [field, tol] of NETEM_FIELDS) {
      const want = t.netem![field];
      const got = typeof have[field] === 'number' ? (have[field] as number) : 0;
      if (!close(want, got, tol)) diffs.push({ field, expected: want, actual: got });
    }
  } else {
    const have = q.qdisc.tbf ?? {};
    for (const [field, tol] of TBF_FIELDS) {
      const want = t.tbf![field];
      if (want === null) continue; // peakrate / mtu only when the spec sets both
      const got = have[field];
      // Not read is not different: tc 6.1's JSON never prints a peakrate, and its limit cannot be derived when
      // a peakrate is set.
      if (got === undefined) continue;
      // Burst and mtu were turned into time at the rate the kernel holds (the peak rate for mtu).
      const same =
        field === 'burstBytes' ? storedBytesMatch(want, got, have.rateBytesPerSecond ?? t.tbf!.rateBytesPerSecond)
        : field === 'mtuBytes' ? storedBytesMatch(want, got, have.peakrateBytesPerSecond ?? t.tbf!.peakrateBytesPerSecond)
        : close(want, got, tol);
      if (!same) diffs.push({ field, expected: want, actual: got });
    }
  }
  return diffs;
}

function sameFilter(t: TcIntent, q: QdiscArtefact): boolean {
  return t.ipset === null ? q.filterSets.length === 0 : q.filterSets.includes(t.ipset);
}

/** A qdisc's shaping parameters in the spec's vocabulary: `delay 100ms loss 5%`, `rate 125000 B/s burst 32000 B ...`. */
export function qdiscText(q: QdiscArtefact): string {
  const parts: string[] = [q.role];
  if (q.role === 'netem') {
    for (const [field] of NETEM_FIELDS) {
      const v = q.qdisc.netem?.[field];
      if (typeof v === 'number' && v !== 0) parts.push(`${field} ${formatQuantity(field, v)}`);
    }
  } else if (q.role === 'tbf') {
    for (const [field] of TBF_FIELDS) {
      const v = q.qdisc.tbf?.[field];
      if (typeof v === 'number') parts.push(`${field} ${formatQuantity(field, v)}`);
    }
  }
  if (q.filterSets.length) parts.push(`for ipset ${q.filterSets.join(', ')}`);
  return parts.join(' ');
}

/** The netem fields that follow the latency / the jitter into tc's arguments (convertNetemToArgs). */
const DELAY_FIELDS: Record<'latency' | 'jitter', readonly string[]> = {
  latency: ['delaySeconds', 'jitterSeconds', 'delayCorrelation', 'reorder', 'reorderCorrelation', 'gap'],
  jitter: ['jitterSeconds', 'delayCorrelation'],
};

/**
 * When the kernel lacks a delay because chaos-daemon itself dropped it (TcIntent.delayDroppedByChaosDaemon), the
 * words that say so (with a spelling that passes), to end the mismatch's detail; '' otherwise.
 */
export function chaosDaemonDelayDefect(t: TcIntent, diffs: readonly ParamDiff[]): string {
  const d = t.delayDroppedByChaosDaemon;
  if (d === undefined || t.netem === undefined) return '';
  const fields = DELAY_FIELDS[d.param];
  if (!diffs.some((x) => fields.includes(x.field) && x.actual === 0)) return '';
  const seconds = d.param === 'latency' ? t.netem.delaySeconds : t.netem.jitterSeconds;
  const lost = d.param === 'latency' ? 'the delay (and its jitter, correlation and reorder)' : 'the jitter (and its correlation)';
  return `; this is Chaos Mesh's own defect: chaos-daemon compares the ${d.param} "${d.text}" with "0ms" as text, not as a duration ` +
    `(pkg/chaosdaemon/tc_server.go convertNetemToArgs), finds it not greater and leaves ${lost} out of tc's arguments; ` +
    respelled(seconds);
}

/**
 * When no netem is in the kernel because chaos-daemon's tc refuses the spec's latency or jitter text
 * (TcIntent.delayRejectedByTc), the words that say so (with a spelling it takes, if any), to end the missing entry's
 * detail; '' otherwise.
 */
export function tcDelayRejection(t: TcIntent): string {
  const d = t.delayRejectedByTc;
  if (d === undefined || t.netem === undefined) return '';
  const seconds = d.param === 'latency' ? t.netem.delaySeconds : t.netem.jitterSeconds;
  const why = d.error.endsWith('(too large)')
    ? `holds a netem time in 32 bits of 64 ns ticks (at most ${TC_MAX_NETEM_US / 1e6}s)`
    : 'reads one number with s, ms or us only (not ns, µs, m, h or several parts)';
  // "tc reads it", not "it would be applied": the other delay text may fail on its own once tc gets that far.
  return `; chaos-daemon hands tc the ${d.param} "${d.text}" as written (convertNetemToArgs), and the tc in its image (iproute2 6.1) ` +
    `${why}: its tc qdisc add fails with ${d.error}; ${respelled(seconds, 'tc reads it')}`;
}

function respelled(seconds: number, outcome = 'it would be applied'): string {
  const text = passingDurationText(seconds);
  return text === null ? 'no spelling of this delay gets through chaos-daemon and its tc' : `written "${text}" ${outcome}`;
}

function diffText(d: ParamDiff): string {
  const f = (v: Quantity): string => (typeof v === 'number' ? formatQuantity(d.field, v) : String(v));
  return `${d.field} ${f(d.actual)} in the kernel, ${f(d.expected)} in the spec`;
}

export function matchTc(intent: PodNetworkIntent | null, k: KernelArtefacts): PendingEntry[] {
  const out: PendingEntry[] = [];
  const tcs = intent?.tcs ?? [];
  const shaping = k.qdiscs.filter((q) => q.role === 'netem' || q.role === 'tbf');
  const taken = new Map<QdiscArtefact, TcIntent>();
  const pairs = new Map<TcIntent, QdiscArtefact>();
  const candidates = (t: TcIntent): QdiscArtefact[] =>
    shaping.filter((q) => !taken.has(q) && q.qdisc.interface === t.device && q.role === (t.type === 'netem' ? 'netem' : 'tbf') && sameFilter(t, q));
  // Pass 1: equal parameters; pass 2: the rest in order (mismatch).
  for (const exact of [true, false]) {
    for (const t of tcs) {
      if (pairs.has(t)) continue;
      const q = candidates(t).find((c) => !exact || compareParams(t, c).length === 0);
      if (q === undefined) continue;
      pairs.set(t, q);
      taken.set(q, t);
    }
  }
  for (const t of tcs) {
    const q = pairs.get(t);
    const label = `${t.type} ${t.text}${t.ipset ? ` for ipset ${t.ipset}` : ''}`;
    const base = { artefact: 'qdisc' as const, owners: t.source ? [t.source] : [], kinds: tcKinds(t), active: false, network: true };
    if (q === undefined) {
      out.push({ ...base, name: `${t.device} ${t.type === 'netem' ? 'netem' : 'tbf'}`, where: t.device, state: 'missing', tokens: [], phrases: [], spec: label, kernel: null,
        detail: `no ${t.type === 'netem' ? 'netem' : 'tbf'} qdisc on ${t.device} for ${label}${tcDelayRejection(t)}` });
      continue;
    }
    const diffs = compareParams(t, q);
    out.push({
      ...base, name: q.position, where: q.qdisc.interface, state: diffs.length ? 'mismatch' : 'present', tokens: [], phrases: [q.position],
      spec: label, kernel: qdiscText(q),
      detail: diffs.length ? `${q.position}: ${diffs.map(diffText).join('; ')} (spec: ${label})${chaosDaemonDelayDefect(t, diffs)}${t.ipset ? collisionNote(t.ipset, t.source, intent) : ''}` : `${q.position} as specified (${label})`,
      ...(diffs.length
        ? { expected: Object.fromEntries(diffs.map((d) => [d.field, d.expected])), actual: Object.fromEntries(diffs.map((d) => [d.field, d.actual])) }
        : {}),
    });
  }
  for (const q of k.qdiscs) {
    if (taken.has(q)) continue;
    if (q.role === 'prio' || q.role === 'sfq') {
      const owners = [...new Set(tcs.filter((t) => t.ipset !== null && t.device === q.qdisc.interface).map((t) => t.source).filter(Boolean))].sort();
      out.push({ artefact: 'qdisc', name: q.position, where: q.qdisc.interface, owners, state: owners.length ? 'present' : 'leftover', kinds: [], active: false, tokens: [], phrases: [q.position], network: true,
        spec: owners.length ? '(filtered traffic control layout)' : null, kernel: qdiscText(q),
        detail: owners.length ? `${q.position} carries the filtered traffic control of ${owners.join(', ')}` : `${q.position} (Chaos Mesh's filtered layout) is in the kernel, but no filtered tcs entry asks for it` });
      continue;
    }
    out.push({ artefact: 'qdisc', name: q.position, where: q.qdisc.interface, owners: [], state: 'leftover', kinds: [], active: false, tokens: [], phrases: [q.position], network: true,
      spec: null, kernel: qdiscText(q),
      detail: `${q.position} is in the kernel, but no PodNetworkChaos tcs entry asks for it${q.filterSets.length ? ` (filters on ipset ${q.filterSets.join(', ')})` : ''}` });
  }
  return out;
}
