/**
 * A pod's chaos_daemon_iptables_packets and chaos_daemon_iptables_packet_bytes lines, rendered once and reused
 * while nothing in them changes. At 110 pods these two families are ~5,000 of the ~5,900 series, and on most
 * pods most counters do not move between two collections.
 *
 * A block is a pure function of the pod's label texts (compat-labels.ts: an entry is reused only when every input
 * of its texts compared equal) and of the values of its distinct rule series (the counters of the rules that map
 * onto each, summed in the order the rules are exported). Those values are computed from the snapshot every
 * collection and compared with the ones the kept block was rendered from, each with ===: any counter that moved,
 * a rule that appeared or vanished (a new entry, without blocks) renders the block again. A NaN never compares
 * equal, so it is always rendered again, which is merely slower.
 */
import type { IptablesRule } from '../netns/model/iptables.js';
import { sameItems } from '../same-items.js';
import type { CompatBlocks, CompatLabels } from './compat-labels.js';
import { formatValue } from './render-text.js';

/** Per distinct rule series, the sum of its rules' counters (the first one's value when one rule: no `0 +`). */
function sums(labels: CompatLabels, rules: readonly IptablesRule[]): { packets: number[]; bytes: number[] } {
  const packets: number[] = [];
  const bytes: number[] = [];
  for (let j = 0; j < labels.order.length; j++) {
    const counters = rules[labels.order[j]!]!.counters!;
    const s = labels.series[j]!;
    if (s === packets.length) {
      packets.push(counters.packets);
      bytes.push(counters.bytes);
    } else {
      packets[s] = packets[s]! + counters.packets;
      bytes[s] = bytes[s]! + counters.bytes;
    }
  }
  return { packets, bytes };
}

function render(name: string, labels: CompatLabels, values: readonly number[]): string {
  const lines: string[] = [];
  for (const texts of labels.ruleLabels) {
    for (let s = 0; s < texts.length; s++) lines.push(`${name}${texts[s]!} ${formatValue(values[s]!)}`);
  }
  return lines.join('\n');
}

/**
 * The pod's blocks for this collection (`rules`: its rules in the dumps' order, as CompatLabelCache.labels gave
 * them): the kept ones when every value is unchanged, else rendered now and kept in the entry.
 */
export function compatBlocks(labels: CompatLabels, rules: readonly IptablesRule[], names: { packets: string; bytes: string }): CompatBlocks {
  const { packets, bytes } = sums(labels, rules);
  const kept = labels.blocks;
  if (kept !== null && kept.names.packets === names.packets && kept.names.bytes === names.bytes && sameItems(kept.packets, packets) && sameItems(kept.bytes, bytes)) return kept;
  const blocks: CompatBlocks = {
    names: { ...names }, packets, bytes,
    packetsText: render(names.packets, labels, packets),
    bytesText: render(names.bytes, labels, bytes),
    lines: labels.ruleLabels.length * packets.length,
  };
  labels.blocks = blocks;
  return blocks;
}
