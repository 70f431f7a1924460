/**
 * HTTPChaos, both layouts chaos-tproxy has used. PURE.
 *
 * Chaos Mesh 2.0-2.1 (chaos-tproxy 0.2, mangle table of the POD namespace): a live TPROXY rule in (or reached from)
 * DIVERT / CHAOS_PROXY_PREROUTING / CHAOS_PROXY_OUTPUT, or in a built-in mangle chain of a table that also holds
 * DIVERT (chaos-tproxy-controller appends `-p tcp [-m multiport --dports P] -j TPROXY --tproxy-mark 0x1/0x1
 * --on-port N` straight to PREROUTING), with `ip rule fwmark 1 lookup 100`. TPROXY anywhere else (Istio's
 * ISTIO_TPROXY, ...) belongs to someone else.
 *
 * Chaos Mesh >= 2.2 (chaos-tproxy >= 0.4.5, src/proxy/net/bridge.rs setenv_bridge + iptables.rs): nothing in the pod's
 * iptables. With p = 13 characters of a UUID: bridge `<p>b1` with eth0 and `<p>v1` as ports, veth `<p>v4` holding
 * the pod's IPv4 address (deleted from eth0), the default route via `<p>v4` (onlink, proto kernel), the kernel's
 * subnet route deleted, and ebtables nat PREROUTING `-i eth0 -j dnat --to-dst <mac of <p>v4> --dnat-target ACCEPT`.
 * Both veths' peers live in the named namespace `<p>ns` (/run/netns on the node), which holds DIVERT, the TPROXY
 * rule and the fwmark ip rule, and where `tproxy --proxy` runs. Traffic goes through that namespace while the
 * bridge holds eth0 or the address / default route sit on `<p>v4`: that is `active`.
 * Teardown (clear_bridge): `ip netns delete <p>ns` (the veths go with it once nothing runs there), delete `<p>b1`,
 * add the address back to eth0, `ebtables -t nat -F`, restore the saved routes. Every step ignores errors, so what a
 * failed teardown leaves is: tproxy-named links that carry no traffic (scaffolding), an ebtables dnat rule on a
 * device no bridge holds (it sees no frame: scaffolding), or the bridge still holding eth0 (active: traffic still
 * diverted, or blackholed when the proxy namespace is gone). A clean teardown leaves an empty ebtables nat table,
 * which changes nothing and is not reported.
 */
import type { EbtablesRule, Link, NetnsState } from '../netns/state.js';
import { chaosChainRole, tproxyName } from './chaos-mesh-names.js';
import { add, type AnalysedDump, type Builder } from './findings.js';
import { canonicalMac, chainLabel, describeTraffic, listNames, oneLine, optionValue, plural, uniq } from './format.js';
import { isBuiltin, liveRules, subgraph, type TableGraph } from './iptables-graph.js';
import type { HttpEvidence } from './types.js';

/** The old layout, per mangle table: active TPROXY findings, or scaffolding for inert http chains. True if active. */
export function httpMangleFindings(b: Builder, g: TableGraph, a: AnalysedDump, ipRules: readonly string[]): boolean {
  const tname = g.table.name;
  const httpChains = [...g.chains.keys()].filter((n) => chaosChainRole(tname, n) === 'http');
  if (httpChains.length === 0) return false;
  const sub = subgraph(g, httpChains);
  if (g.chains.has('DIVERT')) for (const c of g.chains.values()) if (isBuiltin(c)) sub.add(c.name);
  const fwmarkRules = ipRules.map(oneLine).filter((l) => /\bfwmark\b/.test(l));
  const routing = fwmarkRules.length > 0 ? `; ip rule: ${fwmarkRules.join('; ')}` : '';
  const describeSet = (n: string): string => b.sets.describe(n);
  let active = false;
  for (const name of sub) {
    for (const r of liveRules(g, name)) {
      if (r.target !== 'TPROXY') continue;
      active = true;
      const port = optionValue(r.targetOptions, '--on-port');
      const mark = optionValue(r.targetOptions, '--tproxy-mark');
      add(
        b,
        'active',
        'http',
        `${chainLabel(tname, name)} diverts ${describeTraffic(r, describeSet)} to a transparent proxy` +
          `${port !== null ? ` on port ${port}` : ''} (TPROXY${mark !== null ? ` mark ${mark}` : ''})${routing}${a.annotation}`,
      );
    }
  }
  if (!active) {
    for (const name of httpChains) {
      const c = g.chains.get(name)!;
      if (!g.reachable.has(name) || c.rules.length === 0) continue; // chainStatus reports these
      const from = uniq((g.referrers.get(name) ?? []).filter((r) => r.live).map((r) => r.from));
      add(
        b,
        'scaffolding',
        null,
        `${chainLabel(tname, name)} holds ${plural(c.rules.length, 'rule')} (jumped to from ${listNames(from)}) ` +
          `but no reachable TPROXY rule sends traffic to a proxy${a.annotation}`,
      );
    }
  }
  return active;
}

/** `ip rule ... fwmark 1 lookup 100` left in the pod namespace without an active TPROXY (old layout residue). */
export function leftoverFwmarkRules(b: Builder, ipRules: readonly string[]): void {
  for (const line of ipRules) {
    if (/\bfwmark (?:0x0*1|1)(?:\/\S+)?\s+lookup 100\b/.test(line)) {
      add(b, 'scaffolding', null, `ip rule "${oneLine(line)}" (HTTPChaos routing) remains`);
    }
  }
}

interface DnatRule {
  rule: EbtablesRule;
  backend: string;
  mac: string | null;
}

/** nat PREROUTING `-j dnat` rules of every ebtables backend. */
function dnatRules(state: NetnsState): DnatRule[] {
  const out: DnatRule[] = [];
  for (const d of state.ebtables ?? []) {
    for (const t of d.tables) {
      if (t.name !== 'nat') continue;
      for (const c of t.chains) {
        if (c.name !== 'PREROUTING') continue;
        for (const r of c.rules) {
          if (r.target !== 'dnat') continue;
          const to = r.targetArgs['--to-dst'];
          out.push({ rule: r, backend: d.backend, mac: to === undefined ? null : canonicalMac(to) });
        }
      }
    }
  }
  return out;
}

const ebtText = (d: DnatRule, several: boolean): string =>
  `ebtables nat PREROUTING "${d.rule.text}"${several ? ` (${d.backend})` : ''}`;

/**
 * The bridge layout (chaos-tproxy >= 0.4.5) in the pod namespace. `namedNetns`: names under /run/netns on the node,
 * when the caller listed them (the proxy namespace `<p>ns` is named in the finding either way).
 */
export function httpBridgeFindings(b: Builder, state: NetnsState, namedNetns: readonly string[] | undefined): void {
  const links = state.links ?? [];
  const byIndex = new Map<number, Link>(links.map((l) => [l.index, l]));
  const groups = new Map<string, { b1?: Link; v1?: Link; v4?: Link }>();
  for (const l of links) {
    const t = tproxyName(l.name);
    if (t === null || t.role === 'ns') continue;
    const g = groups.get(t.prefix) ?? {};
    g[t.role] = l;
    groups.set(t.prefix, g);
  }
  const dnats = dnatRules(state);
  const severalBackends = new Set((state.ebtables ?? []).map((d) => d.backend)).size > 1;
  const explained = new Set<DnatRule>();

  for (const [prefix, g] of groups) {
    const bridged = g.b1 === undefined ? [] : links.filter((l) => l.master === g.b1!.index);
    const podPorts = bridged.filter((l) => tproxyName(l.name) === null);
    const ports = [...podPorts, ...bridged.filter((l) => tproxyName(l.name) !== null)];
    const addresses = state.addresses ?? [];
    const v4Addrs = g.v4 === undefined ? [] : addresses.filter((a) => a.index === g.v4!.index && a.family === 'ipv4');
    // The address also back on a pod device (a teardown that re-added it but left <p>v4): routes decide, not <p>v4.
    const onPod = (a: { address: string }): boolean =>
      addresses.some((x) => x.address === a.address && x.index !== g.v4!.index && tproxyName(x.interface) === null);
    const v4Default = g.v4 === undefined
      ? []
      : (state.routes ?? []).filter((r) => r.destination === 'default' && r.interface === g.v4!.name && r.table === 254);
    const v4Mac = g.v4?.address == null ? null : canonicalMac(g.v4.address);
    const podNames = new Set(podPorts.map((l) => l.name));
    const ours = dnats.filter((d) => (d.rule.inInterface !== null && podNames.has(d.rule.inInterface)) || (v4Mac !== null && d.mac === v4Mac));
    for (const d of ours) explained.add(d);

    const evidence: string[] = [];
    if (g.b1 !== undefined) {
      evidence.push(ports.length > 0 ? `bridge ${g.b1.name} holds ${ports.map((l) => l.name).join(' and ')}` : `bridge ${g.b1.name} (no port)`);
    }
    for (const a of v4Addrs) {
      if (onPod(a)) {
        evidence.push(`${a.interface} still holds ${a.address}/${a.prefixLength}, which is back on the pod's interface`);
        continue;
      }
      const from = podPorts.length > 0 ? ` moved from ${podPorts.map((l) => l.name).join(', ')}` : '';
      evidence.push(`pod address ${a.address}/${a.prefixLength}${from} to ${a.interface}`);
    }
    for (const r of v4Default) evidence.push(`default route${r.gateway !== null ? ` via ${r.gateway}` : ''} dev ${r.interface}`);
    const carrying = new Set<string>([...v4Addrs.map((a) => a.interface), ...v4Default.map((r) => r.interface ?? '')]);
    for (const l of [g.v1, g.v4]) {
      if (l !== undefined && !ports.includes(l) && !carrying.has(l.name)) evidence.push(`veth ${l.name}${peerText(l, byIndex)}`);
    }
    for (const d of ours) {
      const macNote = v4Mac !== null && d.mac === v4Mac ? ` (the MAC of ${g.v4!.name})` : '';
      evidence.push(`${ebtText(d, severalBackends)}${macNote}`);
    }
    const side = `${prefix}ns`;
    const sideText = namedNetns === undefined
      ? `proxy namespace ${side} (/run/netns; not listed)`
      : namedNetns.includes(side)
        ? `proxy namespace /run/netns/${side} exists`
        : `proxy namespace ${side} is gone from /run/netns`;

    const http: HttpEvidence = {
      layout: 'bridge',
      prefix,
      bridge: g.b1?.name ?? null,
      ports: ports.map((l) => l.name),
      veths: [g.v1, g.v4].filter((l): l is Link => l !== undefined).map((l) => l.name),
      addresses: v4Addrs.map((a) => `${a.address}/${a.prefixLength}`),
      defaultRoutes: v4Default.map((r) => `${r.gateway !== null ? `via ${r.gateway} ` : ''}dev ${r.interface}`),
      ebtablesRules: ours.map((d) => d.rule.text),
      proxyNetns: side,
      proxyNetnsExists: namedNetns === undefined ? null : namedNetns.includes(side),
    };
    const diverted = podPorts.length > 0 || v4Addrs.some((a) => !onPod(a)) || v4Default.length > 0;
    if (diverted) {
      add(b, 'active', 'http', `HTTPChaos (chaos-tproxy bridge layout) diverts the pod's traffic through a proxy namespace: ${evidence.join(', ')}; ${sideText}`, { http });
    } else {
      add(b, 'scaffolding', null, `HTTPChaos (chaos-tproxy) residue that carries no traffic: ${evidence.join(', ')}; ${sideText}`, { http });
    }
  }

  // dnat rules no tproxy link explains: inert when their in-interface is no bridge port (ebtables sees only bridged frames).
  for (const d of dnats) {
    if (explained.has(d)) continue;
    const dev = d.rule.inInterface;
    const port = dev === null ? undefined : links.find((l) => l.name === dev);
    const bridged = port !== undefined && port.master !== null && byIndex.get(port.master)?.kind === 'bridge';
    const tproxyShape = dev !== null && d.rule.targetArgs['--dnat-target'] === 'ACCEPT';
    if (!bridged && tproxyShape && state.links !== undefined) {
      add(b, 'scaffolding', null, `${ebtText(d, severalBackends)} remains, but ${dev} is not a bridge port: it changes nothing (HTTPChaos residue)`);
    } else if (tproxyShape && state.links === undefined) {
      // The reader reads links whenever chaos-tproxy's interfaces exist: none exist, so no chaos-tproxy bridge holds dev.
      add(b, 'scaffolding', null, `${ebtText(d, severalBackends)} remains, but no chaos-tproxy bridge is left in this namespace: it changes nothing (HTTPChaos residue)`);
    } else {
      add(b, 'foreign', null, `foreign: ${ebtText(d, severalBackends)}`);
    }
  }
}

function peerText(l: Link, byIndex: Map<number, Link>): string {
  if (l.linkNetnsId !== null) return ' (peer in another namespace)';
  if (l.link !== null && byIndex.has(l.link)) return ` (peer ${byIndex.get(l.link)!.name})`;
  return '';
}
