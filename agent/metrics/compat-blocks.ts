/**
 * A pod's chaos_daemon_iptables_packets, chaos_daemon_iptables_packet_bytes, chaos_daemon_ipset_members and
 * chaos_daemon_tcs_rules lines, rendered once and reused while nothing in them changes. At 110 pods the first two
 * families are ~5,000 of the ~5,900 series, and on most pods most counters do not move between two collections.
 *
 * A block is a pure function of the pod's label texts (compat-labels.ts: an entry is reused only when every input
 * of its texts compared equal), of the sample names, and of its values: those of its distinct rule series (the
 * counters of the rules that map onto each, summed in the order the rules are exported), the pod's ipset member
 * count and its qdisc count. Those values are computed from the snapshot every collection and compared with the
 * ones the kept blocks were rendered from, each with ===: any counter that moved, a rule that appeared or vanished
 * (a new entry, without blocks), a member or qdisc added renders the blocks again. A NaN never compares equal, so
 * it is always rendered again, which is merely slower.
 */
import type { IptablesRule } from '../netns/model/iptables.js';
import type { CompatBlocks, CompatLabels } from './compat-labels.js';
import { formatValue } from './render-text.js';
import { sameFirst } from '../same-items.js';

/**
 * Per distinct rule series, the sum of its rules' counters (the first one's value when one rule: no `0 +`), in
 * `sums.packets` and `sums.bytes` up to `sums.count`: arrays reused from pod to pod (compared with the kept values,
 * copied only when they differ), as the event loop runs one pod at a time.
 */
const sums = { packets: [] as number[], bytes: [] as number[], count: 0 };

function sum(labels: CompatLabels, rules: readonly IptablesRule[]): void {
  const { packets, bytes } = sums;
  let count = 0;
  for (let j = 0; j < labels.order.length; j++) {
    const counters = rules[labels.order[j]!]!.counters!;
    const s = labels.series[j]!;
    if (s === count) {
      packets[s] = counters.packets;
      bytes[s] = counters.bytes;
      count += 1;
    } else {
      packets[s] = packets[s]! + counters.packets;
      bytes[s] = bytes[s]! + counters.bytes;
    }
  }
  sums.count = count;
}

/** Whether `kept` holds sums' first `count` values (=== each: a NaN never matches). */
function sameSums(kept: readonly number[], values: readonly number[], count: number): boolean {
  return kept.length === count && sameFirst(kept, values, count);
}

/**
 * The lines of `name` for every text, with the value of its series (`values[s]` for the s-th text of each
 * container), each preceded by a newline (BlockFamily.addLines).
 */
function render(name: string, textsPerContainer: readonly (readonly string[])[], values: readonly number[]): string {
  const lines: string[] = [''];
  for (const texts of textsPerContainer) {
    for (let s = 0; s < texts.length; s++) lines.push(`${name}${texts[s]!} ${formatValue(values[s]!)}`);
  }
  return lines.join('\n');
}

/** The sample names of the four families. */
export interface CompatNames {
  readonly packets: string;
  readonly bytes: string;
  readonly members: string;
  readonly tcs: string;
}

function sameNames(a: CompatNames, b: CompatNames): boolean {
  return a.packets === b.packets && a.bytes === b.bytes && a.members === b.members && a.tcs === b.tcs;
}

/**
 * The pod's blocks for this collection (`rules`: its rules in the dumps' order, as CompatLabelCache.labels gave
 * them; `members`, `qdiscs`: its ipset member and qdisc counts, null when that source was not read: no lines): the
 * kept ones when every value is unchanged, else rendered now and kept in the entry.
 */
export function compatBlocks(labels: CompatLabels, rules: readonly IptablesRule[], names: CompatNames, members: number | null, qdiscs: number | null): CompatBlocks {
  sum(labels, rules);
  const kept = labels.blocks;
  if (kept !== null && sameNames(kept.names, names) && kept.members === members && kept.qdiscs === qdiscs
    && sameSums(kept.packets, sums.packets, sums.count) && sameSums(kept.bytes, sums.bytes, sums.count)) return kept;
  const packets = sums.packets.slice(0, sums.count);
  const bytes = sums.bytes.slice(0, sums.count);
  const perContainer = labels.podLabels.map((text) => [text]);
  const blocks: CompatBlocks = {
    names: { ...names }, packets, bytes, members, qdiscs,
    packetsText: render(names.packets, labels.ruleLabels, packets),
    bytesText: render(names.bytes, labels.ruleLabels, bytes),
    lines: labels.ruleLabels.length * packets.length,
    membersText: members === null ? '' : render(names.members, perContainer, [members]),
    tcsText: qdiscs === null ? '' : render(names.tcs, perContainer, [qdiscs]),
    memberLines: members === null ? 0 : labels.podLabels.length,
    tcsLines: qdiscs === null ? 0 : labels.podLabels.length,
  };
  labels.blocks = blocks;
  return blocks;
}
