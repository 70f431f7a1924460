/** Literal pod entries for the formatters' tests (inspect, diff). */
import type { PodReport } from '../../agent/snapshot.js';

/** An entry as inspect builds it for a pod it never read (reader null, no state): an unknown pod, here. */
export function unreadEntry(why: string, extra: Partial<PodReport> = {}): PodReport {
  return {
    namespace: 'shop', name: 'nope', runtime: '', netns: null, pod: null,
    chaos: { verdict: 'unknown', kinds: [], findings: [`not inspected: ${why}`], details: [] },
    iptables: [], ipsets: { sets: [], errors: [] }, tc: { qdiscs: [], classes: [], filters: [], errors: [] },
    ipRules: [], dnsChaos: [], errors: [why], spawns: 0, reader: null, sources: [],
    ...extra,
  };
}

/** An entry whose namespace `reader` read and found empty: clean, nothing in it. */
export function emptyReadEntry(reader: 'netlink' | 'nsenter'): PodReport {
  return unreadEntry('', { chaos: { verdict: 'clean', kinds: [], findings: [], details: [] }, errors: [], reader, netns: { inode: 4026531840, path: '/proc/7/ns/net' } });
}
