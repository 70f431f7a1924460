/**
 * NetworkChaos partition: a live DROP/REJECT rule in a chain reached from a reachable Chaos Mesh chain
 * (CHAOS-INPUT/CHAOS-OUTPUT, INPUT/<x>, OUTPUT/<x>, TC-TABLES-<i>), or a live DROP/REJECT that matches a Chaos Mesh
 * ipset anywhere (releases before 1.0 put those straight into INPUT/OUTPUT). A rule whose (non-negated) match-set is
 * empty matches nothing: the controller skips targets without a pod IP, so a set can be empty while its DROP rule is
 * installed and the experiment says Injected; that rule is scaffolding, and its finding says so. A rule that matches
 * all of a device's traffic (a chain without a target: `-A OUTPUT/<x> -o eth0 -j DROP`) says "(IPv4 only)" in an
 * IPv4 dump: chaos-daemon runs `iptables` only, never ip6tables (pkg/chaosdaemon/iptables_server.go:32
 * `iptablesCmd = "iptables"`, :143 the target-less rule), so a partition leaves the pod's IPv6 traffic alone. PURE.
 */
import { chaosChainRole, isChaosIpsetName } from './chaos-mesh-names.js';
import { add, type AnalysedDump, type Builder } from './findings.js';
import { chainLabel, describeTraffic, matchesAllTraffic } from './format.js';
import { emptyMatchSets } from './ipset-index.js';
import { liveRules, subgraph, type TableGraph } from './iptables-graph.js';

export const DROP_TARGETS: ReadonlySet<string> = new Set(['DROP', 'REJECT']);

export function partitionFindings(b: Builder, g: TableGraph, a: AnalysedDump): void {
  const tname = g.table.name;
  const starts: string[] = [];
  for (const c of g.chains.values()) {
    const role = chaosChainRole(tname, c.name);
    if (role === 'base' || role === 'experiment' || role === 'tc') starts.push(c.name);
  }
  const chaosChains = subgraph(g, starts);
  const describeSet = (n: string): string => b.sets.describe(n);
  for (const c of g.chains.values()) {
    const inChaos = chaosChains.has(c.name);
    for (const r of liveRules(g, c.name)) {
      if (r.target === null || !DROP_TARGETS.has(r.target)) continue;
      if (!inChaos && !r.matchSets.some((m) => isChaosIpsetName(m.name))) continue;
      const label = chainLabel(tname, c.name);
      const traffic = `${describeTraffic(r, describeSet)}${a.dump.family === 'ipv4' && matchesAllTraffic(r) ? ' (IPv4 only)' : ''}`;
      const empty = emptyMatchSets(r, b.sets);
      if (empty.length > 0) {
        const verb = r.target === 'DROP' ? 'drop' : 'reject';
        add(b, 'scaffolding', null, `${label} would ${verb} ${traffic}, but it matches an empty set: ${verb}s nothing now${a.annotation}`);
        continue;
      }
      add(b, 'active', 'partition', `${label} ${r.target === 'DROP' ? 'drops' : 'rejects'} ${traffic}${a.annotation}`);
    }
  }
}
