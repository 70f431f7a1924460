import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../../helpers/netns.js';
import { readBoth, sameDumpModuloTraffic } from './read-both.js';
import { limitAccepted, ruleSet } from './rule-grammar.js';

const RUNS = Number(process.env.XT_GENERATED_RUNS ?? 40);

describeIntegration('legacy iptables: generated rule sets read both ways', { root: true, commands: ['ip', 'iptables-legacy-restore', 'ip6tables-legacy-restore'] }, () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createNetns('xgn');
    await ns.addPodInterface({ addr: '10.244.1.7/24' });
  });
  afterAll(destroyAll);

  it('the grammar generates only the limits the kernel takes (1/hour burst 38 is refused, CI found; the bound is taken)', async () => {
    const restore = (limit: string) =>
      ns.exec(['iptables-legacy-restore'], { input: `*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit ${limit} -j ACCEPT\nCOMMIT\n`, reject: false });
    expect(limitAccepted([1, 'hour', 38])).toBe(false);
    expect((await restore('1/hour --limit-burst 38')).exitCode).toBe(1);
    // The largest burst the bound lets through at 1/hour, and at 1/min: the kernel takes both.
    const maxBurst = (n: number, unit: 'min' | 'hour') => Math.max(...Array.from({ length: 100 }, (_, i) => i + 1).filter((b) => limitAccepted([n, unit, b])));
    expect([maxBurst(1, 'hour'), maxBurst(1, 'min')]).toEqual([31, 100]);
    expect((await restore('1/hour --limit-burst 31')).exitCode).toBe(0);
    expect((await restore('1/min --limit-burst 100')).exitCode).toBe(0);
    await ns.exec(['iptables-legacy', '-F', 'INPUT']);
  });

  for (const family of ['ipv4', 'ipv6'] as const) {
    it(`${family}: ${RUNS} generated filter + nat rule sets, restored for real, read equal`, async () => {
      let rules = 0;
      let trafficDiffs = 0;
      await fc.assert(
        fc.asyncProperty(ruleSet(family), async (text) => {
          await ns.exec([family === 'ipv4' ? 'iptables-legacy-restore' : 'ip6tables-legacy-restore', '-c'], { input: text });
          const { netlink, tools, text: saved } = await readBoth(ns, family);
          expect(netlink.source.status).toBe('complete');
          expect(tools.errors).toEqual([]);
          expect(netlink.opaqueRules).toBe(0);
          // Counters may move by real traffic between the reads (IPv6 link-local chatter on eth0).
          expect(sameDumpModuloTraffic(netlink.dump, tools), saved).toEqual([]);
          if (JSON.stringify(netlink.dump) !== JSON.stringify(tools)) trafficDiffs++;
          rules += tools.tables.reduce((n, t) => n + t.chains.reduce((m, c) => m + c.rules.length, 0), 0);
        }),
        { numRuns: RUNS, endOnFailure: process.env.XT_NO_SHRINK === "1" },
      );
      expect(rules).toBeGreaterThan(RUNS);
      // Most runs see no traffic at all: exact equality, counters included.
      expect(trafficDiffs).toBeLessThan(RUNS / 2);
    }, 300_000);
  }
});
