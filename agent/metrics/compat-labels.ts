/**
 * The label texts of a pod's Chaos Mesh compatible series (compat.ts), kept from one collection to the next: at
 * 110 pods they are ~5,000 strings of ~150 bytes (namespace, pod, container, table, chain, policy and
 * chaos-daemon's rule label), and building them again every collection (exportedRules, chaosDaemonRuleLabel,
 * escaping, concatenation) was the largest part of building the collection's families. Values are never cached:
 * the counters are read from the snapshot every time.
 *
 * When a pod's entry is reused: every input the texts are a function of is compared with the entry's, exactly
 * (string equality, no hash): namespace, name, the compat container names in order, --max-rules-per-pod, and for
 * every iptables rule in the order the dumps list them, its table name, chain name, chain policy, rule text and
 * whether it has counters. The texts depend on nothing else: exportedRules' choice and order (chaos chains first,
 * cut at the cap) is a function of the chain names in that order and of the cap; a label is a function of the
 * table, chain, policy and rule text (compat-rule.ts, pure); rules without counters are skipped. So a rule added,
 * removed, replaced or moved, even between two collections and back, a renamed or recreated container, a pod
 * recreated under the same name with other rules: each changes a compared input and rebuilds the entry. A pod
 * recreated with the same name, containers and rules gets the same texts, which are then correct for it too.
 *
 * Entries live for one collection after the last that used them (a vanished pod's entry is dropped at the next).
 */
import type { IptablesDump, IptablesRule } from '../netns/model/iptables.js';
import { sameItems } from '../same-items.js';
import { chaosDaemonRuleLabel } from './compat-rule.js';
import { labelPairs } from './families.js';
import { KeptEntries } from './kept-entries.js';
import { exportedRules } from './rule-cap.js';

const POD_LABELS = ['namespace', 'pod', 'container'] as const;
/** The labels after POD_LABELS in the iptables series. */
const RULE_ONLY_LABELS = ['table', 'chain', 'policy', 'rule'] as const;
export const COMPAT_RULE_LABELS = [...POD_LABELS, ...RULE_ONLY_LABELS] as const;
export const COMPAT_POD_LABELS = POD_LABELS;

/** One pod's compat label texts and the inputs they were built from. */
export interface CompatLabels {
  readonly namespace: string;
  readonly name: string;
  readonly containers: readonly string[];
  readonly maxRules: number;
  /** Per rule, in the dumps' order: the compared inputs. */
  readonly tables: readonly string[];
  readonly chains: readonly string[];
  readonly policies: readonly (string | null)[];
  readonly texts: readonly string[];
  readonly counted: readonly boolean[];
  /** Indices (in the dumps' order) of the exported rules that have counters, in export order. */
  readonly order: readonly number[];
  /** Per entry of `order`: its series among the pod's distinct rule series (rules whose labels coincide share one). */
  readonly series: readonly number[];
  /** `{namespace,pod,container}` per container. */
  readonly podLabels: readonly string[];
  /** `{namespace,pod,container,table,chain,policy,rule}` per container, per distinct rule series. */
  readonly ruleLabels: readonly (readonly string[])[];
  /** The last rendered blocks (compat-blocks.ts) and the values they were rendered from. */
  blocks: CompatBlocks | null;
}

/**
 * A pod's chaos_daemon_iptables_packets, _packet_bytes, chaos_daemon_ipset_members and chaos_daemon_tcs_rules
 * lines, every container, and the values they were rendered from (compat-blocks.ts).
 */
export interface CompatBlocks {
  /** The sample names the lines start with. */
  readonly names: { readonly packets: string; readonly bytes: string; readonly members: string; readonly tcs: string };
  readonly packets: readonly number[];
  readonly bytes: readonly number[];
  /** null: the ipset / tc source was not read (no lines). */
  readonly members: number | null;
  readonly qdiscs: number | null;
  readonly packetsText: string;
  readonly bytesText: string;
  /** Lines in each of packetsText and bytesText. */
  readonly lines: number;
  readonly membersText: string;
  readonly tcsText: string;
  /** Lines in membersText and in tcsText: one per container, 0 when the count is null. */
  readonly memberLines: number;
  readonly tcsLines: number;
}

/** A pod's entry for this collection, and its rules in the dumps' order (where `order` points, for the counters). */
export interface CompatPodLabels {
  labels: CompatLabels;
  rules: readonly IptablesRule[];
}

export class CompatLabelCache {
  private readonly entries = new KeptEntries<CompatLabels>();
  /** Entries reused / built since the cache was made (for tests and measurements). */
  hits = 0;
  misses = 0;

  /** Starts a collection: the entries the last one used are kept, older ones dropped. */
  begin(): void {
    this.entries.begin();
  }

  /** The label texts of a pod (`dumps`: its iptables dumps, none for a pod without per-rule series). */
  labels(namespace: string, name: string, containers: readonly string[], dumps: readonly IptablesDump[], maxRules: number): CompatPodLabels {
    const key = `${namespace}\0${name}`;
    const cached = this.entries.get(key);
    let same = cached !== undefined && cached.namespace === namespace && cached.name === name && cached.maxRules === maxRules && sameItems(cached.containers, containers);
    const rules: IptablesRule[] = [];
    for (const dump of dumps) {
      for (const table of dump.tables) {
        for (const chain of table.chains) {
          for (const rule of chain.rules) {
            const k = rules.length;
            rules.push(rule);
            if (same) {
              same = k < cached!.texts.length && cached!.texts[k] === rule.text && cached!.chains[k] === chain.name && cached!.tables[k] === table.name
                && cached!.policies[k] === chain.policy && cached!.counted[k] === (rule.counters !== null);
            }
          }
        }
      }
    }
    if (same && rules.length === cached!.texts.length) {
      this.hits += 1;
      this.entries.keep(key, cached!);
      return { labels: cached!, rules };
    }
    this.misses += 1;
    const built = build(namespace, name, containers, dumps, maxRules, rules);
    this.entries.keep(key, built);
    return { labels: built, rules };
  }
}

function build(namespace: string, name: string, containers: readonly string[], dumps: readonly IptablesDump[], maxRules: number, rules: readonly IptablesRule[]): CompatLabels {
  const tables: string[] = [];
  const chains: string[] = [];
  const policies: (string | null)[] = [];
  const texts: string[] = [];
  const counted: boolean[] = [];
  for (const dump of dumps) {
    for (const table of dump.tables) {
      for (const chain of table.chains) {
        for (const rule of chain.rules) {
          tables.push(table.name);
          chains.push(chain.name);
          policies.push(chain.policy);
          texts.push(rule.text);
          counted.push(rule.counters !== null);
        }
      }
    }
  }
  const position = new Map<IptablesRule, number>();
  rules.forEach((r, i) => position.set(r, i));
  const order: number[] = [];
  const series: number[] = [];
  const pairs: string[] = [];
  const seriesOf = new Map<string, number>();
  for (const { table, chain, rule } of exportedRules(dumps, maxRules).rules) {
    if (rule.counters === null) continue;
    order.push(position.get(rule)!);
    const p = labelPairs(RULE_ONLY_LABELS, [table, chain.name, chain.policy ?? '-', chaosDaemonRuleLabel(rule.text)]);
    let s = seriesOf.get(p);
    if (s === undefined) {
      s = pairs.length;
      seriesOf.set(p, s);
      pairs.push(p);
    }
    series.push(s);
  }
  const podLabels: string[] = [];
  const ruleLabels: string[][] = [];
  for (const container of containers) {
    const pod = labelPairs(POD_LABELS, [namespace, name, container]);
    podLabels.push(`{${pod}}`);
    ruleLabels.push(pairs.map((p) => `{${pod},${p}}`));
  }
  return { namespace, name, containers: [...containers], maxRules, tables, chains, policies, texts, counted, order, series, podLabels, ruleLabels, blocks: null };
}
