/**
 * Chaos fingerprinting: the state of one network namespace -> verdict, kinds and findings. The orchestrator: each
 * concern lives in its own file (iptables-graph, chaos-mesh-names, partition, chain-status, tc-tree,
 * traffic-control, http, ipsets, format, findings). DNSChaos, IOChaos, StressChaos and JVMChaos are not network state:
 * agent/chaos/processes.ts judges them from /proc.
 *
 * PURE: no I/O, no clock, no globals; linear in the size of the state (about 110 namespaces are fingerprinted
 * every 15 s). Facts: shared/notes/chaos-mesh.md.
 *
 * Decisions:
 * - Every `active` finding carries a kind, so `kinds` is non-empty iff `verdict` is `active`. State that is
 *   chaos-owned but changes nothing (empty chains, orphaned chains, a netem without any effect, idle prio bands,
 *   unused ipsets, rules matching an empty set, tproxy links that carry no traffic) is `scaffolding`.
 * - `findings` holds only chaos-relevant sentences (active first, then scaffolding); state owned by other tools
 *   (kube-proxy, CNI, meshes, foreign qdiscs and ipsets) is only in `details`, with level `foreign`, after the
 *   rest. So a namespace with only kube-proxy rules has `findings: []`.
 * - Findings from iptables are suffixed with "(legacy backend)" / "(nft backend)" when the namespace holds tables
 *   in both backends and the finding is in the one not in use, and with "(ipv6)" for IPv6 dumps. Both backends are
 *   evaluated by the kernel, so rules there still count. Tables other than filter are named ("mangle DIVERT ...").
 */
import type { NetnsState } from '../netns/state.js';
import { chainStatus, foreignChains } from './chain-status.js';
import { annotationFor, primaryBackend, report, type AnalysedDump, type Builder } from './findings.js';
import { httpBridgeFindings, httpMangleFindings, leftoverFwmarkRules } from './http.js';
import { IpsetIndex } from './ipset-index.js';
import { ipsetFindings, usedSets } from './ipsets.js';
import { buildTableGraph } from './iptables-graph.js';
import { partitionFindings } from './partition.js';
import { classifiersOf } from './tc-tree.js';
import { tcFindings } from './traffic-control.js';
import type { ChaosReport, Finding } from './types.js';

/** What the fingerprint may know beyond the namespace's own state. */
export interface FingerprintContext {
  /** Names under /run/netns on the node (HTTPChaos's proxy namespaces `<p>ns`), when the caller listed them. */
  namedNetns?: readonly string[];
  /** Findings from other sources (processes, mounts, DNS: agent/chaos/processes.ts), merged into the report. */
  extra?: readonly Finding[];
  /** The state is the node's own network namespace (host-network pods): a tbf on a pod's veth there is not Chaos Mesh's. */
  nodeNamespace?: boolean;
}

export function fingerprint(state: NetnsState, ctx: FingerprintContext = {}): ChaosReport {
  const b: Builder = { details: [], sets: new IpsetIndex(state.ipsets.sets) };
  const primary = primaryBackend(state.iptables);
  const dumps: AnalysedDump[] = state.iptables.map((dump) => ({
    dump,
    graphs: dump.tables.map(buildTableGraph),
    annotation: annotationFor(dump, primary),
  }));
  const used = usedSets(b, dumps, state.tc.filters);

  let httpActive = false;
  for (const a of dumps) {
    for (const g of a.graphs) {
      partitionFindings(b, g, a);
      if (httpMangleFindings(b, g, a, state.ipRules)) httpActive = true;
      chainStatus(b, g, a);
    }
    foreignChains(b, a);
  }
  httpBridgeFindings(b, state, ctx.namedNetns);
  tcFindings(b, state, classifiersOf(b, dumps, state.tc.filters), ctx.nodeNamespace === true);
  ipsetFindings(b, used);
  if (!httpActive) leftoverFwmarkRules(b, state.ipRules);
  b.details.push(...(ctx.extra ?? []));
  return report(b.details);
}
