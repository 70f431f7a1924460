import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chaosDaemonRuleLabel } from '../../agent/metrics/compat-rule.js';
import { registerCompatMetrics } from '../../agent/metrics/compat.js';
import { parseIptablesSave } from '../../agent/netns/nsenter/iptables.js';
import { CollectionFamilies } from '../../agent/metrics/families.js';
import { familiesText } from './families-text.js';
import { samplesOf } from '../helpers/metrics-lint.js';
import { container, podInfo, report, snapshot } from './fixtures.js';

const fixture = (p: string): string => readFileSync(new URL(`../fixtures/iptables/${p}`, import.meta.url), 'utf8');
const labels = (saveText: string): string[] =>
  parseIptablesSave(saveText, 'legacy', 'ipv4').tables.flatMap((t) => t.chains.flatMap((c) => c.rules.map((r) => chaosDaemonRuleLabel(r.text))));

describe("chaos_daemon_iptables_packets' rule label, as chaos-daemon builds it", () => {
  it("matches the expectations of chaos-daemon's iptables parser on its own test data (retailnext/iptables_exporter v0.1.0)", () => {
    // iptables/router.iptables-save and iptables/server.iptables-save rule lines, with the Rule strings parser_test.go expects.
    const router = `*filter
:INPUT ACCEPT [1254093501:128176385346]
[12:720] -A INPUT -s 10.10.10.0/24 -d 10.10.10.1/32 -p icmp -j ACCEPT
[17256030:2279773210] -A INPUT -s 10.10.10.0/24 -d 10.10.10.1/32 -p tcp -m tcp --dport 80 -j ACCEPT
[60372:6729099] -A INPUT -s 10.10.10.0/24 -j DROP
COMMIT
`;
    expect(labels(router)).toEqual([
      '-s 10.10.10.0/24 -d 10.10.10.1/32 -p icmp -j ACCEPT',
      '-s 10.10.10.0/24 -d 10.10.10.1/32 -p tcp -m tcp --dport 80 -j ACCEPT',
      '-s 10.10.10.0/24 -j DROP',
    ]);
    const server = `*filter
:OUTPUT ACCEPT [8189941891:1885661899958]
[7903596488:341918393697] -A OUTPUT -p tcp -m tcp --sport 7000 -j ACCEPT
COMMIT
`;
    expect(labels(server)).toEqual(['-p tcp -m tcp --sport 7000 -j ACCEPT']);
  });

  it('drops a `!` right after the chain name, and only there (real captures)', () => {
    expect(labels(fixture('host-policy-legacy-v6.txt'))).toEqual(['-s fe80::/10 ! -i lo -p ipv6-icmp -j ACCEPT']);
    expect(chaosDaemonRuleLabel('! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP')).toBe(
      '-s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    );
    const partition = labels(fixture('chaos-partition-nft-v4.txt'));
    expect(partition).toContain('-o eth0 -p tcp -m tcp --dport 5432 -m set ! --match-set net_delay_0a1b2c3d4e5f60_netgt dst -j DROP');
  });

  it('splits on whitespace without honouring quotes: runs of spaces inside a comment collapse', () => {
    expect(chaosDaemonRuleLabel('-m comment --comment "a  b\tc" -j ACCEPT')).toBe('-m comment --comment "a b c" -j ACCEPT');
    expect(chaosDaemonRuleLabel('')).toBe('');
  });

  it('drops an -A / --append flag and its values wherever it appears, as the parser does', () => {
    expect(chaosDaemonRuleLabel('-j X -A _ y -p tcp')).toBe('-j X -p tcp');
    expect(chaosDaemonRuleLabel('-p udp --append CHAIN')).toBe('-p udp');
  });

  it('is the rule text itself whenever the text neither starts with `!` nor holds whitespace runs, `[` tokens or an -A / --append flag', () => {
    // `-A` / `--append` drop their values (the chain name) wherever they appear, as the parser does (the test above).
    const token = fc.stringMatching(/^[A-Za-z0-9_./:,!-]{1,8}$/).filter((t) => !t.startsWith('[') && t !== '-A' && t !== '--append');
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 8 }), (tokens) => {
        const text = ['-j', ...tokens].join(' ');
        expect(chaosDaemonRuleLabel(text)).toBe(text);
      }),
    );
  });

  it('gives the compat series these labels', async () => {
    const dump = parseIptablesSave(fixture('host-policy-legacy-v6.txt'), 'legacy', 'ipv6');
    const pod = report(podInfo('default', 'web-1', [container('app', 'c1')]), { iptables: [dump] });
    const registry = new CollectionFamilies();
    await registerCompatMetrics(registry, snapshot([pod]), { perContainer: true });
    const text = await familiesText(registry);
    expect(samplesOf(text, 'chaos_daemon_iptables_packets').map((s) => [s.labels.chain, s.labels.rule, s.value])).toEqual([
      ['INPUT', '-s fe80::/10 ! -i lo -p ipv6-icmp -j ACCEPT', 2],
    ]);
  });
});
