/**
 * Captures the kernel's getsockopt answers for the legacy fixtures (test/fixtures/netlink/xtables/*.json):
 * run with CAPTURE_XT_FIXTURES=1 as root. Skipped otherwise (the fixtures are committed; see their README).
 */
import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { afterAll, describe, it } from 'vitest';
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { SetIndex } from '../../../../agent/netns/netlink/xt/set-index.js';
import { parseTableNames } from '../../../../agent/netns/netlink/read-namespace.js';
import { fetchTable } from '../../../../agent/netns/netlink/xtables/read.js';
import { createNetns, destroyAll } from '../../../helpers/netns.js';
import { SCENARIOS } from './corpus.js';
import { readTools } from './read-both.js';

const OUT = new URL('../../../fixtures/netlink/xtables/', import.meta.url);

const WANTED: [string, string][] = [
  ['Chaos Mesh partition (to', 'chaos-partition'],
  ['Chaos Mesh bandwidth', 'chaos-tc-tables'],
  ['Chaos Mesh HTTPChaos', 'chaos-httpchaos'],
  ['kube-proxy', 'kube-proxy'],
  ['Istio', 'istio'],
  ['ipset matches', 'ipset-matches'],
  ['save-format edges', 'edges'],
];

describe.runIf(process.env.CAPTURE_XT_FIXTURES === '1')('capture legacy xtables fixtures', () => {
  afterAll(destroyAll);
  for (const [prefix, file] of WANTED) {
    it(file, async () => {
      const s = SCENARIOS.find((x) => x.name.startsWith(prefix))!;
      const ns = await createNetns('xcp');
      await ns.addPodInterface({ addr: '10.244.1.7/24', addr6: 'fd00:10:244:1::7/64' });
      await s.apply(ns);
      for (const family of s.families) {
        const captured = withNetns(ns.path, null, (inside) => {
          const raw4 = inside.raw('ipv4');
          const raw = family === 'ipv4' ? raw4 : inside.raw('ipv6');
          try {
            const names = parseTableNames(inside.procNet(family === 'ipv4' ? 'ip_tables_names' : 'ip6_tables_names'));
            const tables = names.map((name) => {
              const t = fetchTable(raw, family, name, 1 << 24);
              if (t === null || t === 'over') throw new Error(`cannot fetch ${name}`);
              return { name, info: t.infoBytes.toString('hex'), entries: t.entries.toString('hex') };
            });
            const idx = new SetIndex(raw4);
            const sets: Record<number, string> = {};
            for (let i = 0; i < 64; i++) {
              const n = idx.name(i);
              if (n !== null) sets[i] = n;
            }
            return { tables, sets };
          } finally {
            raw.close();
            raw4.close();
          }
        }).value;
        const { text } = await readTools(ns, family);
        const fixture = { scenario: s.name, family, kernel: release(), iptables: '1.8.9 (Debian 12)', ...captured, save: text };
        writeFileSync(new URL(`${file}-${family === 'ipv4' ? 'v4' : 'v6'}.json`, OUT), `${JSON.stringify(fixture, null, 1)}\n`);
      }
      await ns.destroy();
    });
  }
});
