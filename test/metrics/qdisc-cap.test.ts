/**
 * The per-pod bounds on what a pod's tc and ipset state costs in exports: qdisc series (MAX_QDISCS_PER_POD, netem and
 * tbf first) and the /debug/pods document (ipset members, tc classes and filters). A pod holding 10k qdiscs or 100k
 * ipset members (test/faults/hostile-pods.test.ts does it for real) gets bounded output, chaos qdiscs kept.
 */
import { describe, expect, it } from 'vitest';
import { ipsetsJson, MAX_DOCUMENT_MEMBERS, MAX_DOCUMENT_TC, tcJson } from '../../agent/collect/report.js';
import { exportedQdiscs, MAX_QDISCS_PER_POD } from '../../agent/metrics/qdisc-cap.js';
import type { Ipset, Qdisc, TcClass } from '../../agent/netns/state.js';

const stats = { bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 };
function pfifo(i: number): Qdisc {
  return { interface: 'spam0', kind: 'pfifo', handle: `${(i + 2).toString(16)}:`, parent: `1:${(i + 1).toString(16)}`, root: false, options: {}, fifo: { limit: 10 }, stats };
}
const tbf: Qdisc = { interface: 'eth0', kind: 'tbf', handle: '1:', parent: 'root', root: true, options: {}, tbf: { rateBytesPerSecond: 125_000, burstBytes: 10_000, limitBytes: 20_000 } as Qdisc['tbf'] & object, stats };

describe('exportedQdiscs', () => {
  it('keeps a pod under the cap as it is', () => {
    const q = [tbf, pfifo(0)];
    expect(exportedQdiscs(q)).toEqual({ qdiscs: q, truncated: false });
  });

  it('cuts 10,000 qdiscs at the cap and keeps the tbf placed after all of them', () => {
    const q = [...Array.from({ length: 10_000 }, (_, i) => pfifo(i)), tbf];
    const r = exportedQdiscs(q);
    expect(r.truncated).toBe(true);
    expect(r.qdiscs).toHaveLength(MAX_QDISCS_PER_POD);
    expect(r.qdiscs[0]).toBe(tbf);
    expect(r.qdiscs.slice(1)).toEqual(q.slice(0, MAX_QDISCS_PER_POD - 1));
  });
});

describe('the /debug/pods document bounds', () => {
  const set = (name: string, n: number): Ipset => ({ name, type: 'hash:ip', optionsText: '', options: {}, members: Array.from({ length: n }, (_, i) => ({ value: `10.0.${i >> 8}.${i & 255}`, options: '' })) });

  it('ipset members: the first sets whole, then cut, every set still listed, the rest counted', () => {
    const chaos = set('chaos_net_tgt', 3);
    const spam = set('spam', 100_000);
    const r = ipsetsJson({ sets: [chaos, spam, set('after', 5)], errors: [] });
    expect(r.sets.map((s) => [s.name, s.members.length])).toEqual([['chaos_net_tgt', 3], ['spam', MAX_DOCUMENT_MEMBERS - 3], ['after', 0]]);
    expect(r.sets[0]).toBe(chaos);
    expect(r.membersOmitted).toBe(100_000 + 5 - (MAX_DOCUMENT_MEMBERS - 3));
    expect(ipsetsJson({ sets: [chaos], errors: [] })).toEqual({ sets: [chaos], errors: [] });
  });

  it('tc: qdiscs capped as exported, classes and filters at MAX_DOCUMENT_TC, the rest counted', () => {
    const classes = Array.from({ length: 5000 }, (_, i) => ({ interface: 'spam0', kind: 'htb', handle: `1:${i + 1}`, parent: 'root' }) as unknown as TcClass);
    const r = tcJson({ qdiscs: Array.from({ length: 1000 }, (_, i) => pfifo(i)), classes, filters: [], errors: [] });
    expect([r.qdiscs.length, r.classes.length, r.filters.length]).toEqual([MAX_QDISCS_PER_POD, MAX_DOCUMENT_TC, 0]);
    expect(r.omitted).toBe(1000 - MAX_QDISCS_PER_POD + 5000 - MAX_DOCUMENT_TC);
    expect(tcJson({ qdiscs: [tbf], classes: [], filters: [], errors: [] })).toEqual({ qdiscs: [tbf], classes: [], filters: [], errors: [] });
  });
});
