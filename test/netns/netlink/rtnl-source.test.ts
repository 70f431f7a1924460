/**
 * The rtnetlink SourceReader as the netlink reader runs it (readNamespace: setns, sockets, back), against the tools
 * reader's links and tc ToolSources (nsenter + ip / tc through a pinned fd) on the same real namespace: the links
 * and tc parts of the two NetnsStates are equal but for `options` and traffic between the reads.
 */
import { statSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import type { NetnsState } from '../../../agent/netns/state.js';
import { readNamespace } from '../../../agent/netns/netlink/read-namespace.js';
import { rtnlSource } from '../../../agent/netns/netlink/rtnl-source.js';
import { ToolsReader } from '../../../agent/netns/nsenter/read-tools.js';
import { ChaosMeshReplay } from '../../helpers/chaos-mesh.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../helpers/netns.js';
import { withoutOptions } from './fixtures.js';

const job = (ns: TestNetns) => ({ path: ns.path, inode: statSync(ns.path).ino, maxSourceBytes: 4 << 20, budgetMs: 5000 });
const tools = new ToolsReader({ nsenterPath: 'nsenter', toolTimeoutMs: 5000, maxSourceBytes: 4 << 20, budgetMs: 20_000 });

const noStats = <T extends { options?: unknown; stats?: unknown }>(xs: T[]) => withoutOptions(xs).map(({ stats: _s, ...r }) => r);
const linksAndTc = (s: NetnsState) => ({
  links: s.links,
  addresses: s.addresses,
  routes: s.routes,
  rules: s.rules,
  ipRules: s.ipRules,
  qdiscs: noStats(s.tc.qdiscs),
  classes: noStats(s.tc.classes),
  filters: withoutOptions(s.tc.filters),
  sources: s.sources!.filter((x) => x.source === 'links' || x.source === 'tc'),
});

describeIntegration('rtnetlink SourceReader vs the tools reader', { root: true, commands: ['ip', 'tc', 'nsenter', 'iptables-legacy'] }, () => {
  afterAll(destroyAll);

  it("HTTPChaos's bridge layout (chaos-tproxy names), its old fwmark rule, the filtered tc layout with filters on every parent", async () => {
    const ns = await createNetns('nlsrc');
    const proxy = await createNetns('nlsrc');
    await ns.addPodInterface({ addr: '10.80.1.7/24', addr6: 'fd00:80:1::7/64' });
    const p = '3f2a9c1b-7e4d';
    const replay = new ChaosMeshReplay(ns);
    await replay.tproxyBridge({ prefix: p, proxyNs: proxy.name, addr: '10.80.1.7/24', gateway: '10.80.1.1' });
    await replay.httpChaos({ port: 80, proxyPort: 58080 });
    await replay.filteredBandwidth({ experiment: 'nlsrc-bw', cidrs: ['10.80.2.0/24'], rate: 800_000, burst: 15_000, limit: 30_000, device: `${p}v4` });
    await ns.exec(['tc', 'filter', 'add', 'dev', `${p}v4`, 'parent', '1:', 'protocol', 'ip', 'pref', '1', 'u32', 'match', 'ip', 'dst', '10.80.2.0/24', 'flowid', '1:4']);
    await ns.exec(['tc', 'qdisc', 'add', 'dev', `${p}v1`, 'clsact']);
    await ns.exec(['tc', 'filter', 'add', 'dev', `${p}v1`, 'egress', 'protocol', 'ip', 'pref', '2', 'u32', 'match', 'ip', 'sport', '80', '0xffff', 'flowid', '1:1']);

    for (let attempt = 0; ; attempt++) {
      const before = readNamespace(job(ns), [rtnlSource]);
      const viaTools = await tools.read({ path: ns.path, inode: statSync(ns.path).ino, pid: null, procRoot: '/proc' });
      const after = readNamespace(job(ns), [rtnlSource]);
      if (JSON.stringify(linksAndTc(before)) !== JSON.stringify(linksAndTc(after)) && attempt < 8) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      expect(linksAndTc(before).sources).toEqual([{ source: 'links', status: 'complete' }, { source: 'tc', status: 'complete' }]);
      expect(linksAndTc(viaTools)).toEqual(linksAndTc(before));
      expect(before.ipRules).toEqual(['32765:\tfrom all fwmark 0x1 lookup 100']);
      expect(before.tc.opaque).toBeUndefined();
      expect(before.routes!.find((r) => r.destination === 'default' && r.table === 254)).toMatchObject({ interface: `${p}v4`, protocol: 'kernel' });
      expect(before.tc.filters.filter((f) => f.flowid !== null).map((f) => [f.interface, f.parent, f.flowid])).toEqual([
        [`${p}v1`, 'egress', '1:1'],
        [`${p}v4`, '1:', '1:4'],
      ].sort((a, b) => before.links!.findIndex((l) => l.name === a[0]) - before.links!.findIndex((l) => l.name === b[0])));
      // Sources the rtnetlink reader does not cover are left to the others (here: unsupported).
      expect(before.sources!.filter((s) => s.reason === 'unsupported').map((s) => s.source)).not.toContain('tc');
      break;
    }
    await ns.destroy();
    await proxy.destroy();
  });
});
