import { describe, expect, it } from 'vitest';
import { capDumps, exportedRules, isChaosChain } from '../../agent/metrics/rule-cap.js';
import { parseIptablesSave } from '../../agent/netns/nsenter/iptables.js';

function spam(n: number): string {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':SPAM - [0:0]', ':CHAOS-OUTPUT - [0:0]', ':OUTPUT/web-p_7cc6421210d1f_ - [0:0]'];
  for (let i = 0; i < n; i++) lines.push(`[0:0] -A SPAM -d 10.0.${(i >> 8) & 255}.${i & 255}/32 -j ACCEPT`);
  lines.push('[0:0] -A OUTPUT -j CHAOS-OUTPUT', '[1:60] -A CHAOS-OUTPUT -j OUTPUT/web-p_7cc6421210d1f_', '[1:60] -A OUTPUT/web-p_7cc6421210d1f_ -o eth0 -j DROP', 'COMMIT', '');
  return lines.join('\n');
}

describe('per-pod rule cap: exported rules are bounded, chaos chains first', () => {
  it('recognises Chaos Mesh chains', () => {
    for (const c of ['CHAOS-INPUT', 'CHAOS-OUTPUT', 'INPUT/web-p_7cc6421210d1f_', 'OUTPUT/x_', 'TC-TABLES-0', 'DIVERT', 'CHAOS_PROXY_PREROUTING']) expect(isChaosChain(c)).toBe(true);
    for (const c of ['INPUT', 'OUTPUT', 'KUBE-SERVICES', 'SPAM', 'TC-TABLES-x']) expect(isChaosChain(c)).toBe(false);
  });

  it('spam cannot push the chaos rules out of the export', () => {
    const dump = parseIptablesSave(spam(5000), 'legacy', 'ipv4');
    const r = exportedRules([dump], 100);
    expect(r.total).toBe(5003);
    expect(r.truncated).toBe(true);
    expect(r.rules).toHaveLength(100);
    expect(r.rules.slice(0, 2).map((x) => [x.chain.name, x.rule.text])).toEqual([
      ['CHAOS-OUTPUT', '-j OUTPUT/web-p_7cc6421210d1f_'],
      ['OUTPUT/web-p_7cc6421210d1f_', '-o eth0 -j DROP'],
    ]);
    const capped = capDumps([dump], 100);
    expect(capped.omitted).toBe(4903);
    const kept = capped.dumps[0]!.tables[0]!.chains.reduce((n, c) => n + c.rules.length, 0);
    expect(kept).toBe(100);
    // The original state (what the verdict judges) is untouched.
    expect(dump.tables[0]!.chains.find((c) => c.name === 'SPAM')!.rules).toHaveLength(5000);
  });

  it('under the cap nothing is cut', () => {
    const dump = parseIptablesSave(spam(10), 'legacy', 'ipv4');
    expect(exportedRules([dump], 2000)).toMatchObject({ total: 13, truncated: false });
    expect(capDumps([dump], 2000).omitted).toBe(0);
  });
});
