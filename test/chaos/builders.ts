/**
 * Small typed builders for fingerprint tests. iptables and ipsets are built from save-format text with the
 * production parsers (so the tests exercise the same structured fields production fills); tc qdiscs are built
 * directly in the parsed shape (netem/prio/sfq cannot run on this kernel; the tc JSON fixtures belong to the
 * tc parser's tests).
 */
import { parseIpsetSave } from '../../agent/netns/nsenter/ipset.js';
import { parseIptablesSave } from '../../agent/netns/nsenter/iptables.js';
import type {
  IpFamily,
  IpsetDump,
  IptablesBackend,
  IptablesDump,
  Link,
  NetemOptions,
  NetnsState,
  Qdisc,
  Route,
  TbfOptions,
  TcFilter,
} from '../../agent/netns/state.js';
import { emptyNetnsState } from '../../agent/netns/state.js';

export const DEFAULT_PRIOMAP = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

/** Parses iptables-save text; fails the test on any parse error (fixtures must be well-formed). */
export function iptables(text: string, backend: IptablesBackend = 'nft', family: IpFamily = 'ipv4'): IptablesDump {
  const dump = parseIptablesSave(text, backend, family);
  if (dump.errors.length > 0) throw new Error(`fixture does not parse: ${dump.errors.map((e) => e.message).join('; ')}`);
  return dump;
}

export function ipsets(text: string): IpsetDump {
  const dump = parseIpsetSave(text);
  if (dump.errors.length > 0) throw new Error(`fixture does not parse: ${dump.errors.map((e) => e.message).join('; ')}`);
  return dump;
}

/** `ipset save` text for a hash:net set with `n` members 10.0.<i>.0/24. */
export function netSet(name: string, n: number): string {
  const lines = [`create ${name} hash:net family inet hashsize 1024 maxelem 65536`];
  for (let i = 0; i < n; i++) lines.push(`add ${name} 10.${Math.floor(i / 256)}.${i % 256}.0/24`);
  return lines.join('\n');
}

export function listSet(name: string, members: string[]): string {
  return [`create ${name} list:set size 8`, ...members.map((m) => `add ${name} ${m}`)].join('\n');
}

interface QdiscOpts {
  iface?: string;
  handle: string;
  /** 'root' or a parent handle. */
  parent: string;
}

function base(kind: string, o: QdiscOpts): Qdisc {
  const root = o.parent === 'root';
  return { interface: o.iface ?? 'eth0', kind, handle: o.handle, parent: o.parent, root, options: {}, stats: null };
}

export function netem(o: QdiscOpts, netemOpts: NetemOptions): Qdisc {
  return { ...base('netem', o), netem: netemOpts };
}

export function tbf(o: QdiscOpts, tbfOpts: TbfOptions): Qdisc {
  return { ...base('tbf', o), tbf: tbfOpts };
}

export function prio(o: QdiscOpts, bands: number, priomap: number[] = DEFAULT_PRIOMAP): Qdisc {
  return { ...base('prio', o), prio: { bands, priomap } };
}

export function qdisc(kind: string, o: QdiscOpts): Qdisc {
  return base(kind, o);
}

export function filter(iface: string, parent: string, flowid: string, kind = 'u32'): TcFilter {
  return { interface: iface, kind, parent, protocol: 'ip', pref: 1, handle: null, flowid, options: {} };
}

/** Chaos Mesh's filtered layout under `prioHandle` (major only, e.g. '1'): prio + sfq on bands 1-3. */
export function filteredLayout(prioMajor: number, parent: string, filters: number, iface = 'eth0'): Qdisc[] {
  const out = [prio({ iface, handle: `${prioMajor}:`, parent }, 3 + filters)];
  for (let band = 1; band <= 3; band++) {
    out.push(qdisc('sfq', { iface, handle: `${prioMajor + band}:`, parent: `${prioMajor}:${band}` }));
  }
  return out;
}

export function state(partial: Partial<NetnsState> = {}): NetnsState {
  return { ...emptyNetnsState(), ...partial };
}

export function tcState(qdiscs: Qdisc[], filters: TcFilter[] = []): NetnsState['tc'] {
  return { qdiscs, classes: [], filters, errors: [] };
}

/** A link as both readers report it (up, no master, peer local unless `extra` says otherwise). */
export function link(index: number, name: string, kind: string | null, extra: Partial<Link> = {}): Link {
  return { index, name, kind, master: null, mtu: 1500, flags: ['UP'], operState: 'UP', address: null, link: null, linkNetnsId: null, ...extra };
}

/** An IPv4 route of the main table. */
export function route(destination: string, iface: string, gateway: string | null): Route {
  return { family: 'ipv4', table: 254, destination, gateway, interface: iface, type: 'unicast', protocol: 'kernel', scope: 'global', source: null, metric: null };
}
