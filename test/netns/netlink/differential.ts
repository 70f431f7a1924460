/**
 * The differential comparison of the rtnetlink reader with the tools (used by the read-rtnl tests): real namespaces
 * read in-process over netlink and with `ip -j` / `tc -s -d -raw -j` through `ip netns exec` (parsed by the nsenter
 * parsers) must give equal typed state: everything but `options` deep-equal, statistics equal but for traffic
 * between the reads (netlink, tools, netlink: the tools' counters lie between the two netlink reads). A state still
 * settling (operstate, DAD) is read again.
 */
import { statSync } from 'node:fs';
import { expect } from 'vitest';
import type { Link } from '../../../agent/netns/model/links.js';
import type { QdiscStats, TcDump } from '../../../agent/netns/model/tc.js';
import { withNetns } from '../../../agent/netns/netlink/enter.js';
import { readRtnl, type RtnlOptions, type RtnlRead } from '../../../agent/netns/netlink/read-rtnl.js';
import type { TestNetns } from '../../helpers/netns.js';
import { readLinksWithTools, readTcWithTools, type ToolsLinks } from '../../helpers/tools-read.js';
import { withoutOptions } from './fixtures.js';

const LIMITS = { maxBytes: 4 << 20 };

export function netlinkRead(ns: TestNetns, opts: RtnlOptions = {}, maxBytes = LIMITS.maxBytes): RtnlRead {
  const { value: sock } = withNetns(ns.path, statSync(ns.path).ino, (inside) => inside.route());
  try {
    return readRtnl(sock, { maxBytes, deadline: performance.now() + 5000 }, opts);
  } finally {
    sock.close();
  }
}

export type Tools = ToolsLinks & { tc: TcDump };

export async function toolsRead(ns: TestNetns, links: Link[]): Promise<Tools> {
  const l = await readLinksWithTools(ns.name);
  return { ...l, tc: await readTcWithTools(ns.name, links.map((x) => x.name)) };
}

const noStats = <T extends { options?: unknown; stats?: unknown }>(xs: T[]) => withoutOptions(xs).map(({ stats: _s, ...r }) => r);

/** The comparable state: links source as is, tc without options and statistics. */
export function comparable(r: { links: unknown; addresses: unknown; routes: unknown; rules: unknown; tc: TcDump }) {
  return {
    links: r.links,
    addresses: r.addresses,
    routes: r.routes,
    rules: r.rules,
    qdiscs: noStats(r.tc.qdiscs),
    classes: noStats(r.tc.classes),
    filters: withoutOptions(r.tc.filters),
  };
}

const COUNTERS: (keyof QdiscStats)[] = ['bytes', 'packets', 'drops', 'overlimits', 'requeues'];

/** Counters of the tools read lie between the two netlink reads; queue gauges are equal (the namespaces are quiet). */
function statsBetween(before: TcDump, tools: TcDump, after: TcDump): void {
  for (const kind of ['qdiscs', 'classes'] as const) {
    before[kind].forEach((b, i) => {
      const t = tools[kind][i]!.stats;
      const a = after[kind][i]!.stats;
      if (b.stats === null || t === null || a === null) {
        expect([t === null, a === null]).toEqual([b.stats === null, b.stats === null]);
        return;
      }
      for (const k of COUNTERS) {
        expect(t[k]).toBeGreaterThanOrEqual(b.stats[k]);
        expect(t[k]).toBeLessThanOrEqual(a[k]);
      }
      expect([t.backlog, t.qlen]).toEqual([b.stats.backlog, b.stats.qlen]);
    });
  }
}

/**
 * Read netlink, tools, netlink until the two netlink reads agree (state settled), then compare; returns both reads.
 * `known` removes documented differences before comparing (e.g. tbf peak rate, which tc never prints in JSON).
 */
export async function differential(ns: TestNetns, known: (nl: RtnlRead) => void = () => {}): Promise<{ nl: RtnlRead; tools: Tools }> {
  for (let attempt = 0; ; attempt++) {
    const before = netlinkRead(ns);
    const tools = await toolsRead(ns, before.links);
    const after = netlinkRead(ns);
    if (JSON.stringify(comparable(before)) !== JSON.stringify(comparable(after)) && attempt < 8) {
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    expect(before.sources).toEqual([{ source: 'links', status: 'complete' }, { source: 'tc', status: 'complete' }]);
    expect([before.inexact, tools.errors, tools.tc.errors]).toEqual([[], [], []]);
    const nl = structuredClone(before);
    known(nl);
    expect(comparable(tools)).toEqual(comparable(nl));
    statsBetween(before.tc, tools.tc, after.tc);
    return { nl: before, tools };
  }
}
