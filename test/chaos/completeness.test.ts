import { describe, expect, it } from 'vitest';
import { applyCompleteness, describeSource } from '../../agent/chaos/completeness.js';
import type { ChaosReport } from '../../agent/chaos/types.js';

const report = (verdict: ChaosReport['verdict'], kinds: ChaosReport['kinds'] = []): ChaosReport => ({ verdict, kinds, findings: [`${verdict} finding`], details: [] });

describe('applyCompleteness: a verdict only claims what was read', () => {
  it('complete reads keep their verdict', () => {
    for (const v of ['clean', 'scaffolding', 'active', 'unknown'] as const) expect(applyCompleteness(report(v), [{ source: 'tc', status: 'complete' }])).toEqual(report(v));
  });

  it('a truncated or failed source turns clean and scaffolding into unknown, naming the source and why', () => {
    const r = applyCompleteness(report('clean'), [{ source: 'iptables-nft-ipv4', status: 'truncated', reason: 'output_limit', message: 'output cut at 2097152 bytes' }, { source: 'tc', status: 'complete' }]);
    expect(r.verdict).toBe('unknown');
    expect(r.kinds).toEqual([]);
    expect(r.findings[0]).toBe('not inspected completely: iptables-nft-ipv4 cut at its output cap (output_limit: output cut at 2097152 bytes)');
    expect(applyCompleteness(report('scaffolding'), [{ source: 'ipset', status: 'failed', reason: 'timeout' }]).verdict).toBe('unknown');
  });

  it('a source cut by the deadline is cut by the time budget, not at its output cap', () => {
    const cut = { source: 'iptables-legacy-ipv4', status: 'truncated', reason: 'timeout', message: 'deadline passed before table filter' } as const;
    expect(applyCompleteness(report('clean'), [cut]).findings[0]).toBe('not inspected completely: iptables-legacy-ipv4 cut by the time budget (timeout: deadline passed before table filter)');
    expect(describeSource({ ...cut, reason: 'output_limit', message: 'output cut at 2097152 bytes' })).toBe('iptables-legacy-ipv4 cut at its output cap (output_limit: output cut at 2097152 bytes)');
    // Neither cap nor deadline: members the reader could not decode, a dump interrupted by changes on every attempt.
    expect(describeSource({ source: 'ipset', status: 'truncated', reason: 'parse', message: 'set x: bad attribute' })).toBe('ipset read in part (parse: set x: bad attribute)');
    expect(describeSource({ source: 'links', status: 'truncated', reason: 'vanished', message: 'RTM_GETLINK was interrupted' })).toBe('links read in part (vanished: RTM_GETLINK was interrupted)');
    expect(describeSource({ source: 'tc', status: 'failed', reason: 'exit', message: 'exit 1' })).toBe('tc not read (exit: exit 1)');
  });

  it('what was read proves an active injection: active stays, with the incompleteness as an extra finding', () => {
    const r = applyCompleteness(report('active', ['partition']), [{ source: 'ipset', status: 'failed', reason: 'timeout' }]);
    expect(r.verdict).toBe('active');
    expect(r.kinds).toEqual(['partition']);
    expect(r.findings).toEqual(['active finding', 'incomplete read: ipset not read (timeout)']);
  });
});
