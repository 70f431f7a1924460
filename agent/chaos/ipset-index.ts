/**
 * The ipsets of one namespace by name: member counts (list:set counted through its member sets), the closure of
 * list:sets, and how a set is named in a finding. PURE.
 */
import type { Ipset } from '../netns/state.js';
import { plural } from './format.js';

export class IpsetIndex {
  private readonly byName = new Map<string, Ipset>();
  private readonly counts = new Map<string, number>();

  constructor(sets: readonly Ipset[]) {
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

  /** True when the set was read and holds no member (through its member sets for list:set): it matches nothing. */
  isEmpty(name: string): boolean {
    return this.byName.has(name) && this.count(name) === 0;
  }

  /**
   * A set's size in words: "21 members"; for a list:set, its sets and the members they hold ("list:set of 2 sets,
   * 40 members"), as `inspect` lists it by its sets and the metrics count the members.
   */
  size(name: string): string {
    const set = this.byName.get(name);
    if (set === undefined) return 'missing';
    const members = plural(this.count(name), 'member');
    return set.type.startsWith('list:') ? `${set.type} of ${plural(set.members.length, 'set')}, ${members}` : members;
  }

  /** How a finding names a set: "ipset S (21 members)", "ipset L (list:set of 2 sets, 40 members)", "ipset X (missing)". */
  describe(name: string): string {
    return `ipset ${name} (${this.size(name)})`;
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

/**
 * The non-negated match-sets of a rule that are read and empty: the rule can never match (every match of an
 * iptables rule must hold; `! --match-set <empty>` holds for every packet and is not counted).
 */
export function emptyMatchSets(rule: { matchSets: { name: string; negated: boolean }[] }, sets: IpsetIndex): string[] {
  return rule.matchSets.filter((m) => !m.negated && sets.isEmpty(m.name)).map((m) => m.name);
}
