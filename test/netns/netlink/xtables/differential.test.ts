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

  it('an extension without a decoder is reported opaque, with the rule kept: counters, target, -m NAME in the text', async () => {
    const ns = await createNetns('xdf');
    try {
      await ns.exec(['iptables-legacy-restore', '-c'], {
        input: ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
          '[7:420] -A INPUT -p tcp -m time --timestart 10:00 -m comment --comment known -j DROP',
          '[1:60] -A INPUT -m length --length 100:200 -j AUDIT --type drop', 'COMMIT', ''].join('\n'),
      });
      const { netlink, tools } = await readBoth(ns, 'ipv4');
      expect(netlink.source.status).toBe('complete');
      expect(netlink.opaqueRules).toBe(2);
      const got = netlink.dump!.tables[0]!.chains[0]!.rules;
      const want = tools.tables[0]!.chains[0]!.rules;
      expect(got[0]).toMatchObject({ text: '-p tcp -m time -m comment --comment known -j DROP', counters: { packets: 7, bytes: 420 }, target: 'DROP', protocol: 'tcp', comment: 'known', modules: ['time', 'comment'] });
      expect(got[0]!.opaque).toEqual(['match time: no decoder']);
      expect(got[1]).toMatchObject({ text: '-m length -j AUDIT', counters: { packets: 1, bytes: 60 }, target: 'AUDIT', targetOptions: '', modules: ['length'] });
      expect(got[1]!.opaque).toEqual(['match length: no decoder', 'target AUDIT: no decoder']);
      expect(want.map((r) => r.text)).toEqual(['-p tcp -m time --timestart 10:00:00 --timestop 23:59:59 --datestop 2038-01-19T03:14:07 -m comment --comment known -j DROP', '-m length --length 100:200 -j AUDIT --type drop']);
    } finally {
      await ns.destroy();
    }
  });
});
