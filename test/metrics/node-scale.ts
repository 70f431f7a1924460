/** Node-scale synthetic snapshots for the metrics tests: `pods` copies of fixtures' chaosPod, each renamed. */
import type { Snapshot } from '../../agent/snapshot.js';
import { chain, chaosPod, filterDump, rule, snapshot } from './fixtures.js';

/** `pods` chaos pods named `<prefix>-<i>` with `extraRules` more DROP rules each (~ (5 + extraRules) x 2 compat series per pod). */
export function nodeScaleSnapshot(pods: number, opts: { prefix?: string; extraRules?: number } = {}): Snapshot {
  const prefix = opts.prefix ?? 'pod';
  const extra = opts.extraRules ?? 10;
  return snapshot(Array.from({ length: pods }, (_, i) => {
    const r = chaosPod();
    r.name = `${prefix}-${i}`;
    r.pod = { ...r.pod!, name: r.name };
    r.iptables = [...r.iptables, filterDump([
      chain(`OUTPUT/exp${i}`, null, Array.from({ length: extra }, (_, k) => rule(`-o eth0 -d 10.${i % 250}.${k}.0/24 -j DROP`, k, k * 60, 'DROP'))),
    ], 'legacy')];
    return r;
  }));
}
