/**
 * The tools side of the differential tests: read a namespace with `ip -j ...` and `tc -s -d -raw -j -batch -`
 * through `ip netns exec` (argument arrays, timeouts), parsed by the nsenter parsers. tc is read in two phases, as
 * the tools reader must: qdiscs and every device's classes first, then the filters of every parent
 * (model/filter-parents.ts) named explicitly; names batch text would mangle by tc processes of their own.
 */
import { execa } from 'execa';
import type { ParseError } from '../../agent/errors.js';
import { filterParents } from '../../agent/netns/model/filter-parents.js';
import type { Address, IpRule, Link, Route } from '../../agent/netns/model/links.js';
import type { TcDump } from '../../agent/netns/model/tc.js';
import { parseIpAddresses, parseIpLinks, parseIpRoutes, parseIpRules } from '../../agent/netns/nsenter/ip.js';
import { concatTcDumps, parseTcBatchPieces, tcArgv, tcFilterCommands, tcTreeCommands, TC_BATCH_ARGV, type TcBatchCommand, type TcCommandPlan } from '../../agent/netns/nsenter/tc.js';

const T = 10_000;

async function inNs(ns: string, argv: string[], input?: string): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', ns, ...argv], {
    timeout: T,
    maxBuffer: 16 << 20,
    ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    extendEnv: false,
  });
  return String(r.stdout);
}

export interface ToolsLinks {
  links: Link[];
  addresses: Address[];
  routes: Route[];
  rules: IpRule[];
  errors: unknown[];
}

export async function readLinksWithTools(ns: string): Promise<ToolsLinks> {
  const [l, a, r4, r6, u4, u6] = await Promise.all([
    inNs(ns, ['ip', '-j', '-d', 'link', 'show']),
    inNs(ns, ['ip', '-j', 'addr', 'show']),
    inNs(ns, ['ip', '-4', '-j', 'route', 'show', 'table', 'all']),
    inNs(ns, ['ip', '-6', '-j', 'route', 'show', 'table', 'all']),
    inNs(ns, ['ip', '-4', '-j', 'rule', 'show']),
    inNs(ns, ['ip', '-6', '-j', 'rule', 'show']),
  ]);
  const links = parseIpLinks(l);
  const addresses = parseIpAddresses(a);
  const routes4 = parseIpRoutes(r4, 'ipv4');
  const routes6 = parseIpRoutes(r6, 'ipv6');
  const rules4 = parseIpRules(u4, 'ipv4');
  const rules6 = parseIpRules(u6, 'ipv6');
  return {
    links: links.links,
    addresses: addresses.addresses,
    routes: [...routes4.routes, ...routes6.routes],
    rules: [...rules4.rules, ...rules6.rules],
    errors: [...links.errors, ...addresses.errors, ...routes4.errors, ...routes6.errors, ...rules4.errors, ...rules6.errors],
  };
}

/** Plain `ip rule show` text lines (to check the rendered rule text against the real one). */
export async function ipRuleLines(ns: string, family: '-4' | '-6'): Promise<string[]> {
  return (await inNs(ns, ['ip', family, 'rule', 'show'])).split('\n').filter((x) => x.length > 0);
}

/** One phase of the tools' tc read: its batch, one tc process per single command, results in command order. */
async function readTcPlan(ns: string, plan: TcCommandPlan): Promise<TcDump> {
  const pieces = new Map<TcBatchCommand, TcDump>();
  const leftover: ParseError[] = [];
  const put = (out: string, commands: TcBatchCommand[]): void => {
    const p = parseTcBatchPieces(out, commands);
    p.pieces.forEach((d, i) => pieces.set(commands[i]!, d));
    leftover.push(...p.leftover);
  };
  if (plan.commands.length > 0) put(await inNs(ns, [...TC_BATCH_ARGV], plan.input), plan.commands);
  for (const c of plan.single) put(await inNs(ns, tcArgv(c)), [c]);
  const d = concatTcDumps(plan.order.flatMap((c) => pieces.get(c) ?? []));
  d.errors.push(...leftover);
  return d;
}

export async function readTcWithTools(ns: string, devs: string[]): Promise<TcDump> {
  const t = tcTreeCommands(devs);
  if (t.rejected.length) throw new Error(`devices rejected: ${t.rejected.join(', ')}`);
  const tree = await readTcPlan(ns, t);
  const f = tcFilterCommands(filterParents(tree.qdiscs, tree.classes));
  if (f.rejected.length) throw new Error(`filter parents rejected: ${f.rejected.join(', ')}`);
  const filters = await readTcPlan(ns, f);
  return { qdiscs: tree.qdiscs, classes: tree.classes, filters: filters.filters, errors: [...tree.errors, ...filters.errors] };
}
