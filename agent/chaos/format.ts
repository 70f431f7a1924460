/**
 * The words of findings: durations, rates, sizes, percentages, counts, lists, and what an iptables rule matches.
 * PURE: no I/O; every function is total on finite numbers.
 */
import type { IptablesRule } from '../netns/state.js';

function num(x: number): string {
  return String(Number(x.toFixed(3)));
}

export function formatSeconds(s: number): string {
  if (s >= 1) return `${num(s)}s`;
  if (s >= 1e-3 || s === 0) return `${num(s * 1e3)}ms`;
  return `${num(s * 1e6)}us`;
}

export function formatPercent(ratio: number): string {
  return `${num(ratio * 100)}%`;
}

/** Bytes per second -> tc-style bit rate ("1Mbit/s"; 1 Mbit = 1e6 bits). */
export function formatRate(bytesPerSecond: number): string {
  const bits = bytesPerSecond * 8;
  if (bits >= 1e9) return `${num(bits / 1e9)}Gbit/s`;
  if (bits >= 1e6) return `${num(bits / 1e6)}Mbit/s`;
  if (bits >= 1e3) return `${num(bits / 1e3)}Kbit/s`;
  return `${num(bits)}bit/s`;
}

/** Sizes stay exact: whole KiB/MiB when they divide evenly (or from 10 MiB up), bytes otherwise. */
export function formatBytes(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes >= MiB && (bytes % MiB === 0 || bytes >= 10 * MiB)) return `${num(bytes / MiB)}MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${num(bytes / 1024)}KiB`;
  return `${num(bytes)}B`;
}

/** Whitespace runs collapsed to one space, ends trimmed. */
export function oneLine(s: string): string {
  return s.trim().replace(/\s+/g, ' ');
}

/** "1 rule", "3 rules". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** At most `max` names, then "... (+N)". */
export function listNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, ... (+${names.length - max})` : shown;
}

export function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/** Value after `name` in target options text (`--set-class 1:4` -> `1:4`), or null. */
export function optionValue(options: string, name: string): string | null {
  const words = options.split(/\s+/);
  const i = words.indexOf(name);
  return i < 0 || i + 1 >= words.length ? null : words[i + 1]!;
}

/** `mangle DIVERT`; the filter table is implied. */
export function chainLabel(table: string, chain: string): string {
  return table === 'filter' ? chain : `${table} ${chain}`;
}

/** The rule names no protocol, address, ipset or port: it matches all traffic (of its device, if it names one). */
export function matchesAllTraffic(rule: IptablesRule): boolean {
  const proto = rule.protocol !== null && rule.protocol !== 'all' ? rule.protocol : null;
  return proto === null && rule.matchSets.length === 0 && rule.source === null && rule.destination === null && rule.sport === null && rule.dport === null;
}

/**
 * "eth0 tcp traffic to ipset S (21 members) with destination port 80": what a rule matches, in words.
 * `describeSet` names a set with its size ("ipset S (21 members)", IpsetIndex.describe).
 */
export function describeTraffic(rule: IptablesRule, describeSet: (name: string) => string): string {
  const neg = new Set<string>(rule.negated ?? []);
  const not = (field: string): string => (neg.has(field) ? 'not ' : '');
  const ifaceField = rule.outInterface !== null ? 'outInterface' : 'inInterface';
  const iface = rule.outInterface ?? rule.inInterface;
  const proto = rule.protocol !== null && rule.protocol !== 'all' ? rule.protocol : null;
  const where: string[] = [];
  for (const m of rule.matchSets) {
    const dir = m.flags.split(',')[0] === 'src' ? 'from' : 'to';
    where.push(`${m.negated ? 'not ' : ''}${dir} ${describeSet(m.name)}`);
  }
  if (rule.source !== null) where.push(`${not('source')}from ${rule.source}`);
  if (rule.destination !== null) where.push(`${not('destination')}to ${rule.destination}`);
  const ports: string[] = [];
  const portWord = (p: string): string => (/[,:]/.test(p) ? 'ports' : 'port');
  if (rule.sport !== null) ports.push(`source ${portWord(rule.sport)} ${not('sport')}${rule.sport}`);
  if (rule.dport !== null) ports.push(`destination ${portWord(rule.dport)} ${not('dport')}${rule.dport}`);

  const ifaceText = iface === null ? '' : `${neg.has(ifaceField) ? 'non-' : ''}${iface} `;
  const protoText = proto === null ? '' : `${neg.has('protocol') ? 'non-' : ''}${proto} `;
  let s = `${ifaceText}${protoText}traffic`;
  if (matchesAllTraffic(rule)) s = `all ${s}`;
  if (where.length > 0) s += ` ${where.join(' and ')}`;
  if (ports.length > 0) s += ` with ${ports.join(' and ')}`;
  return s;
}

/** A MAC address in canonical form (lower case, two hex digits per byte), or null: ebtables-legacy prints `2:42:ac:11:0:2`. */
export function canonicalMac(mac: string): string | null {
  const parts = mac.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return parts.map((p) => p.toLowerCase().padStart(2, '0')).join(':');
}
