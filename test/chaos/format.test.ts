import { describe, expect, it } from 'vitest';
import { canonicalMac, chainLabel, describeTraffic, formatBytes, formatPercent, formatRate, formatSeconds, listNames, optionValue, plural } from '../../agent/chaos/format.js';
import { iptables } from './builders.js';

describe('format', () => {
  it('formats durations, rates, sizes and percentages', () => {
    expect(formatSeconds(0.1)).toBe('100ms');
    expect(formatSeconds(0.000_25)).toBe('250us');
    expect(formatSeconds(2)).toBe('2s');
    expect(formatSeconds(0)).toBe('0ms');
    expect(formatRate(125_000)).toBe('1Mbit/s');
    expect(formatRate(125_000_000)).toBe('1Gbit/s');
    expect(formatRate(100)).toBe('800bit/s');
    expect(formatBytes(10_240)).toBe('10KiB');
    expect(formatBytes(20_000)).toBe('20000B');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3MiB');
    expect(formatPercent(0.005)).toBe('0.5%');
  });

  it('counts, lists, labels and option values', () => {
    expect(plural(1, 'rule')).toBe('1 rule');
    expect(plural(0, 'member')).toBe('0 members');
    expect(listNames(['a', 'b', 'c'], 2)).toBe('a, b, ... (+1)');
    expect(chainLabel('filter', 'X')).toBe('X');
    expect(chainLabel('mangle', 'DIVERT')).toBe('mangle DIVERT');
    expect(optionValue('--on-port 1025 --tproxy-mark 0x1/0x1', '--tproxy-mark')).toBe('0x1/0x1');
    expect(optionValue('--on-port', '--on-port')).toBeNull();
  });

  it('canonicalises MACs as ebtables-legacy and -nft print them', () => {
    expect(canonicalMac('2:42:ac:11:0:2')).toBe('02:42:ac:11:00:02');
    expect(canonicalMac('02:42:AC:11:00:02')).toBe('02:42:ac:11:00:02');
    expect(canonicalMac('2:42:ac:11:0')).toBeNull();
    expect(canonicalMac('zz:42:ac:11:0:2')).toBeNull();
  });

  it('describes what a rule matches', () => {
    const rules = iptables(`*filter
:OUTPUT ACCEPT [0:0]
-A OUTPUT ! -o lo -p tcp -m set --match-set s dst -m tcp ! --dport 80 -j DROP
-A OUTPUT -j DROP
COMMIT
`).tables[0]!.chains[0]!.rules;
    const describeSet = (n: string): string => `ipset ${n} (2 members)`;
    expect(describeTraffic(rules[0]!, describeSet)).toBe('non-lo tcp traffic to ipset s (2 members) with destination port not 80');
    expect(describeTraffic(rules[1]!, describeSet)).toBe('all traffic');
  });
});
