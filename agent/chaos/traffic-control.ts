/**
 * Findings of traffic control: what each chaos netem / tbf does (in words and kinds), whether traffic reaches it,
 * Chaos Mesh's prio layout without an active netem/tbf, CLASSIFY rules that feed no netem/tbf, and foreign
 * qdiscs (a tbf that is not Chaos Mesh's says why: CNI bandwidth ifb, no CHAOS-* chains, a pod's veth in the node's
 * namespace, outside the layout). PURE.
 */
import type { NetemOptions, NetnsState, Qdisc, TbfOptions } from '../netns/state.js';
import { hasChaosBaseChains } from './chaos-mesh-names.js';
import { add, type Builder } from './findings.js';
import { formatBytes, formatPercent, formatRate, formatSeconds, plural } from './format.js';
import { canonicalHandle, nodePodVeths, QdiscTree, type Classifier, type TcEvidence } from './tc-tree.js';
import type { ChaosKind, Finding } from './types.js';

/** Qdiscs the kernel or distributions install by default: never reported. */
const DEFAULT_QDISCS = new Set(['noqueue', 'pfifo_fast', 'mq', 'fq_codel', 'fq', 'pfifo', 'bfifo']);

/** Loss models (`loss state` / `loss gemodel`): Chaos Mesh uses random loss, but any model loses packets. */
function lossModelName(n: NetemOptions): string | null {
  if (n.lossState !== undefined) return '4-state Markov';
  if (n.lossGemodel !== undefined) return 'Gilbert-Elliott';
  return null;
}

export function netemEffects(n: NetemOptions): { kinds: ChaosKind[]; text: string[] } {
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

export function tbfEffects(t: TbfOptions): string {
  const extras: string[] = [];
  if (t.burstBytes !== undefined) extras.push(`burst ${formatBytes(t.burstBytes)}`);
  if (t.limitBytes !== undefined) extras.push(`limit ${formatBytes(t.limitBytes)}`);
  if (t.peakrateBytesPerSecond !== undefined && t.peakrateBytesPerSecond > 0) {
    extras.push(`peakrate ${formatRate(t.peakrateBytesPerSecond)}`);
  }
  const rate = t.rateBytesPerSecond !== undefined ? formatRate(t.rateBytesPerSecond) : 'an unknown rate';
  return `limits rate to ${rate}${extras.length > 0 ? ` (${extras.join(', ')})` : ''}`;
}

/** The finding for one chaos netem / tbf, and the classes it serves. */
function judge(tree: QdiscTree, q: Qdisc): { finding: Finding; served: string[] } {
  const flow = tree.flow(q);
  const served: string[] = [];
  if (flow.gate !== null) served.push(flow.gate);
  // The class a netem/tbf hangs under is served by it, whatever the parent qdisc (prio band or htb class).
  const parentClass = tree.isRoot(q) ? null : canonicalHandle(q.parent);
  if (parentClass !== null) served.push(parentClass);
  const { kinds, text } =
    q.kind === 'netem' ? netemEffects(q.netem ?? {}) : { kinds: ['bandwidth' as ChaosKind], text: [tbfEffects(q.tbf ?? {})] };
  const pos = tree.position(q);
  if (kinds.length === 0) {
    const message = `${pos} changes nothing (no delay, loss, duplicate, corrupt, reorder or rate)`;
    return { finding: { level: 'scaffolding', kind: null, message }, served };
  }
  if (!flow.receives) {
    const gate = flow.gate ?? 'its class';
    const why =
      flow.empty.length > 0
        ? `but the only rules classifying traffic into ${gate} match an empty set (${flow.empty.map((c) => c.chaosLabel ?? c.phrase).join(', ')}): nothing reaches it now`
        : `but nothing reachable classifies traffic into ${gate}`;
    return { finding: { level: 'scaffolding', kind: null, message: `${pos} ${text.join(', ')}, ${why}` }, served };
  }
  const via = flow.via.length > 0 ? ` for ${flow.via.map((c) => c.phrase).join('; ')}` : '';
  // One sentence per qdisc: `kind` is its first kind, `kinds` all of them (a netem can delay and lose).
  return { finding: { level: 'active', kind: kinds[0]!, kinds, message: `${pos} ${text.join(', ')}${via}` }, served };
}

/** `nodeNamespace`: the state is the node's own namespace (host-network pods), see tc-tree.ts. */
export function tcFindings(b: Builder, state: NetnsState, classifiers: readonly Classifier[], nodeNamespace = false): void {
  const byIface = new Map<string, Qdisc[]>();
  for (const q of state.tc.qdiscs) {
    const list = byIface.get(q.interface) ?? [];
    list.push(q);
    byIface.set(q.interface, list);
  }
  const served = new Set<string>();
  const evidence: TcEvidence = {
    baseChains: hasChaosBaseChains(state.iptables),
    iptablesUnread: (state.sources ?? []).some((s) => /^iptables-.*-ipv4$/.test(s.source) && s.status !== 'complete'),
  };
  if (nodeNamespace) evidence.podVeths = nodePodVeths(state);
  for (const [iface, qdiscs] of byIface) {
    const tree = new QdiscTree(iface, qdiscs, classifiers, evidence);
    // Pass 1: judge every chaos netem/tbf (prio judgement needs to know which of them are active).
    const judged = new Map<Qdisc, Finding>();
    const active: Qdisc[] = [];
    for (const q of qdiscs) {
      if ((q.kind !== 'netem' && q.kind !== 'tbf') || !tree.isChaos(q)) continue;
      const j = judge(tree, q);
      for (const s of j.served) served.add(s);
      judged.set(q, j.finding);
      if (j.finding.level === 'active') active.push(q);
    }
    // Pass 2: sentences in the order tc printed the qdiscs.
    for (const q of qdiscs) {
      const j = judged.get(q);
      if (j !== undefined) {
        b.details.push(j);
      } else if (q.kind === 'tbf') {
        add(b, 'foreign', null, `foreign: ${tree.position(q)} ${tbfEffects(q.tbf ?? {})}, ${tree.foreignTbfReason()}`);
      } else if (q.kind === 'netem') {
        continue; // every netem is chaos: judged above
      } else if (tree.isChaos(q)) {
        if (q.kind === 'prio' && !active.some((x) => tree.under(x, q))) {
          const bands = q.prio?.bands ?? 0;
          add(b, 'scaffolding', null, `${tree.position(q)} in Chaos Mesh's filtered layout (${plural(bands, 'band')}, sfq on bands 1-3) carries no active netem or tbf`);
        }
      } else if (q.kind === 'prio') {
        const bands = q.prio?.bands;
        const shape = bands === undefined ? '' : ` (${plural(bands, 'band')})`;
        add(b, 'foreign', null, `foreign: ${tree.position(q)}${shape}, not Chaos Mesh's filtered layout (3+N bands, sfq on bands 1-3)`);
      } else if (!DEFAULT_QDISCS.has(q.kind)) {
        add(b, 'foreign', null, `foreign: ${tree.position(q)}`);
      }
    }
  }
  // CLASSIFY rules in Chaos Mesh chains whose class holds no netem/tbf.
  for (const c of classifiers) {
    if (c.chaosLabel === null || served.has(c.cls)) continue;
    add(b, 'scaffolding', null, `${c.chaosLabel} classifies traffic into ${c.cls}, but no netem or tbf qdisc sits under ${c.cls}${c.annotation}`);
  }
}
