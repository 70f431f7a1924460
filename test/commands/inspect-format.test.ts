/**
 * inspect's human listing of a namespace's ipsets (formatIpsets): name, type, member count in words (1 member, 2
 * members), the first five members and how many more; and of a whole entry (formatReport): a namespace never read
 * is said to be unread, not listed as empty; the rules --max-rules-per-pod leaves out are counted in words.
 */
import { describe, expect, it } from 'vitest';
import { formatCappedIptables, formatIpsets, formatReport } from '../../agent/commands/inspect.js';
import { iptables } from '../chaos/builders.js';
import type { Ipset } from '../../agent/netns/model/ipset.js';
import { emptyReadEntry, unreadEntry } from './pod-entry.js';
import { HOST_SUMMARY_NOTE } from '../../agent/snapshot.js';

const set = (name: string, type: string, values: string[]): Ipset => ({ name, type, optionsText: '', options: {}, members: values.map((value) => ({ value, options: '' })) });

describe('formatIpsets', () => {
  it('counts members in words and lists the first five', () => {
    expect(formatIpsets({
      sets: [
        set('one', 'hash:net,port', ['10.97.0.0/16,tcp:5432']),
        set('none', 'hash:net', []),
        set('many', 'hash:ip', ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7']),
      ],
      errors: [],
    })).toEqual([
      '  ipsets:',
      '    one hash:net,port, 1 member: 10.97.0.0/16,tcp:5432',
      '    none hash:net, 0 members',
      '    many hash:ip, 7 members: 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, ... (2 more)',
    ]);
    expect(formatIpsets({ sets: [], errors: [] })).toEqual(['  ipsets: none']);
  });
});

describe('formatReport', () => {
  it('a namespace never read says so and why, claims no empty tables, sets or tc, and names no reader', () => {
    expect(formatReport(unreadEntry('pod not found on this node'))).toBe([
      'pod shop/nope',
      '  verdict: unknown',
      '  - not inspected: pod not found on this node',
      '  errors:',
      '    ! pod not found on this node',
      '  network namespace not read: pod not found on this node',
      '',
    ].join('\n'));
  });

  it("a host-network pod's entry points at the host entry: neither 'not read' nor the empty tables of its summary", () => {
    const entry = unreadEntry('', {
      name: 'agent', hostNetwork: true, hostSummary: true, errors: [], notes: [HOST_SUMMARY_NOTE], netns: { inode: 4026531840, path: '/proc/1/ns/net' },
      chaos: { verdict: 'clean', kinds: [], findings: [], details: [] },
    });
    expect(formatReport(entry).split('\n')).toEqual([
      'pod shop/agent host network  netns inode 4026531840 /proc/1/ns/net',
      '  verdict: clean',
      `  note: ${HOST_SUMMARY_NOTE}`,
      '',
    ]);
  });

  it("an unread host-network entry whose notes hold the summary's text for another reason is not taken for the summary", () => {
    const entry = unreadEntry('not read before the collection deadline', {
      name: 'agent', hostNetwork: true, notes: [HOST_SUMMARY_NOTE], netns: { inode: 4026531840, path: '/proc/1/ns/net' },
    });
    expect(formatReport(entry).split('\n')).toEqual([
      'pod shop/agent host network  netns inode 4026531840 /proc/1/ns/net',
      '  verdict: unknown',
      '  - not inspected: not read before the collection deadline',
      '  errors:',
      '    ! not read before the collection deadline',
      '  network namespace not read: not read before the collection deadline',
      `  note: ${HOST_SUMMARY_NOTE}`,
      '',
    ]);
  });

  it('a source not read, or read in part, is said so in its section instead of an empty claim', () => {
    const entry = emptyReadEntry('netlink');
    entry.sources = [
      { source: 'iptables-legacy-ipv4', status: 'truncated', reason: 'timeout', message: 'deadline passed before table filter' },
      { source: 'ipset', status: 'failed', reason: 'timeout', message: "the read's deadline has passed" },
      { source: 'tc', status: 'complete' },
      { source: 'links', status: 'failed', reason: 'unsupported' },
    ];
    entry.ipsets = { sets: [set('kept', 'hash:ip', ['10.0.0.1'])], errors: [] };
    const lines = formatReport(entry).split('\n');
    expect(lines.slice(2)).toEqual([
      '  iptables: iptables-legacy-ipv4 cut by the time budget (timeout: deadline passed before table filter)',
      '  ipsets:',
      '    kept hash:ip, 1 member: 10.0.0.1',
      "    ! ipset not read (timeout: the read's deadline has passed)",
      '  tc:',
      '  (read by netlink)',
      '',
    ]);
  });

  it('a namespace read empty lists its empty state and its reader', () => {
    const lines = formatReport(emptyReadEntry('netlink')).split('\n');
    expect(lines[0]).toBe('pod shop/nope  netns inode 4026531840 /proc/7/ns/net');
    expect(lines.slice(1)).toEqual(['  verdict: clean', '  iptables: no tables', '  ipsets: none', '  tc:', '  (read by netlink)', '']);
  });
});

describe('formatCappedIptables', () => {
  const dump = iptables('*filter\n:INPUT ACCEPT [0:0]\n[0:0] -A INPUT -s 10.0.0.1/32 -j DROP\n[0:0] -A INPUT -s 10.0.0.2/32 -j DROP\n[0:0] -A INPUT -s 10.0.0.3/32 -j DROP\nCOMMIT\n', 'legacy');
  it('counts the rules left out in words: 1 more rule, 2 more rules; none when all are shown', () => {
    expect(formatCappedIptables([dump], 2).at(-1)).toBe('  (1 more iptables rule not shown: --max-rules-per-pod)');
    expect(formatCappedIptables([dump], 1).at(-1)).toBe('  (2 more iptables rules not shown: --max-rules-per-pod)');
    expect(formatCappedIptables([dump], 3).filter((l) => l.includes('not shown'))).toEqual([]);
    expect(formatCappedIptables([dump], 1).filter((l) => l.includes('-j DROP'))).toEqual(['        [0 pkts 0 bytes] -s 10.0.0.1/32 -j DROP']);
  });
});
