import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../../helpers/netns.js';
import { ruleSet } from '../xtables/rule-grammar.js';
import { alignCounters, dumpOf, readNetlink, readTools } from './read-both.js';

const RUNS = Number(process.env.NFT_GENERATED_RUNS ?? 30);

/** iptables-nft cannot express an inverted /0 address (a zero-length payload): the kernel refuses the rule. */
const nftExpressible = (text: string): boolean => !/! -[sd] \S+\/0 /.test(text);

describeIntegration('nftables: generated rule sets restored through iptables-nft, read both ways', { root: true, commands: ['ip', 'iptables-nft-restore', 'ip6tables-nft-restore', 'nft'] }, () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createNetns('ngn');
    await ns.addPodInterface({ addr: '10.244.1.7/24' });
  });
  afterAll(destroyAll);

  for (const family of ['ipv4', 'ipv6'] as const) {
    it(`${family}: ${RUNS} generated filter + nat rule sets read equal`, async () => {
      let rules = 0;
      await fc.assert(
        fc.asyncProperty(ruleSet(family).filter(nftExpressible), async (text) => {
          await ns.exec([family === 'ipv4' ? 'iptables-nft-restore' : 'ip6tables-nft-restore', '-c'], { input: text });
          const netlink = readNetlink(ns.path);
          const tools = await readTools(ns);
          expect(netlink.nft.sources[0]!.status).toBe('complete');
          expect(netlink.nft.opaqueRules, text).toBe(0);
          const mine = dumpOf(netlink.nft, family);
          alignCounters(mine, tools.iptables[family]);
          expect(mine, `${text}\n---\n${tools.text}`).toEqual(tools.iptables[family]);
          rules += mine.tables.reduce((n, t) => n + t.chains.reduce((m, c) => m + c.rules.length, 0), 0);
        }),
        { numRuns: RUNS },
      );
      expect(rules).toBeGreaterThan(RUNS);
    }, 300_000);
  }
});
