import { afterAll, expect, it } from 'vitest';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll } from '../../../helpers/netns.js';
import { SCENARIOS } from './corpus.js';
import { readBoth, sameDumpModuloTraffic } from './read-both.js';

describeIntegration('legacy iptables: netlink read equals iptables-legacy-save', { root: true, commands: ['ip', 'iptables-legacy-save', 'ip6tables-legacy-save', 'ipset', 'tc'] }, () => {
  afterAll(destroyAll);

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const ns = await createNetns('xdf');
      await ns.addPodInterface({ addr: '10.244.1.7/24', addr6: 'fd00:10:244:1::7/64' });
      try {
        await s.apply(ns);
        for (const family of s.families) {
          const { netlink, tools, text } = await readBoth(ns, family);
          expect(netlink.source).toEqual({ source: `iptables-legacy-${family}`, status: 'complete' });
          expect(tools.errors).toEqual([]);
          expect(netlink.opaqueRules, text).toBe(0);
          expect(sameDumpModuloTraffic(netlink.dump, tools), text).toEqual([]);
          // The corpus must not be trivially empty.
          expect(tools.tables.flatMap((t) => t.chains.flatMap((c) => c.rules)).length).toBeGreaterThan(0);
        }
      } finally {
        await ns.destroy();
      }
    });
  }
});
