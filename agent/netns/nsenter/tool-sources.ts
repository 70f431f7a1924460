/**
 * The sources of the tools reader, in the order they run: links (their names drive tc), legacy iptables, the
 * nft backend (probed with `nft list tables` first), ipset, tc. Each turns its tools' output into its part of the
 * NetnsState through the pure parsers of this directory and reports its completeness.
 */
import type { IpFamily, IptablesBackend, SourceName, SourceStatus } from '../state.js';
import { parseIpsetSave } from './ipset.js';
import { parseIptablesSave } from './iptables.js';
import { statusOf, type ToolContext, type ToolSource } from './read-tools.js';
import { parseTcBatch, tcBatchCommands } from './tc.js';

const XTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/** `nft list tables` -> `family name` pairs. */
export function parseNftTables(text: string): { family: string; name: string }[] {
  const out: { family: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^table (\S+) (\S+)\s*$/.exec(line.trim());
    if (m) out.push({ family: m[1]!, name: m[2]! });
  }
  return out;
}

/** Interface names from `ip -j link show` output (the full link model comes from the links parser). */
export function linkNamesFromJson(text: string): string[] | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (!Array.isArray(v)) return null;
    return v.map((l) => (l as { ifname?: unknown }).ifname).filter((n): n is string => typeof n === 'string');
  } catch (err) {
    void err; // not JSON: the caller reports the source as failed to parse
    return null;
  }
}

const links: ToolSource = {
  sources: ['links'],
  async read(ctx) {
    const r = await ctx.run(['ip', '-j', '-d', 'link', 'show']);
    const names = r.error === null ? linkNamesFromJson(r.stdout) : null;
    if (names) ctx.interfaces = names;
    if (r.error === null && names === null) return [{ source: 'links', status: 'failed', reason: 'parse', message: 'ip -j link show: not a JSON array' }];
    if (r.error !== null) return [statusOf('links', r)];
    // Policy-routing rules using fwmarks (HTTPChaos's old layout), both families.
    for (const argv of [['ip', 'rule', 'show'], ['ip', '-6', 'rule', 'show']]) {
      const rr = await ctx.run(argv);
      if (rr.error !== null) return [statusOf('links', rr)];
      for (const line of rr.stdout.split('\n')) if (/\bfwmark\b/.test(line)) ctx.state.ipRules.push(line.trim());
    }
    return [{ source: 'links', status: 'complete' }];
  },
};

function saveSource(source: SourceName, tool: string, backend: IptablesBackend, family: IpFamily): (ctx: ToolContext) => Promise<SourceStatus> {
  return async (ctx) => {
    const r = await ctx.run([tool, '-c']);
    if (r.error === null || r.truncated) {
      const dump = parseIptablesSave(r.stdout, backend, family);
      if (dump.tables.length > 0 || dump.errors.length > 0) ctx.state.iptables.push(dump);
    }
    return statusOf(source, r);
  };
}

const legacy4 = saveSource('iptables-legacy-ipv4', 'iptables-legacy-save', 'legacy', 'ipv4');
const legacy6 = saveSource('iptables-legacy-ipv6', 'ip6tables-legacy-save', 'legacy', 'ipv6');
const nft4 = saveSource('iptables-nft-ipv4', 'iptables-nft-save', 'nft', 'ipv4');
const nft6 = saveSource('iptables-nft-ipv6', 'ip6tables-nft-save', 'nft', 'ipv6');

const legacyIptables: ToolSource = {
  sources: ['iptables-legacy-ipv4', 'iptables-legacy-ipv6'],
  async read(ctx) {
    const out: SourceStatus[] = [];
    // Known empty from /proc: complete without a process (iptables-legacy-save would print nothing).
    out.push(ctx.legacyTables.ipv4?.length === 0 ? { source: 'iptables-legacy-ipv4', status: 'complete' } : await legacy4(ctx));
    out.push(ctx.legacyTables.ipv6?.length === 0 ? { source: 'iptables-legacy-ipv6', status: 'complete' } : await legacy6(ctx));
    return out;
  },
};

const nftables: ToolSource = {
  sources: ['iptables-nft-ipv4', 'iptables-nft-ipv6', 'nftables'],
  async read(ctx) {
    const probe = await ctx.run(['nft', 'list', 'tables']);
    if (probe.error !== null) {
      // No usable probe: run both saves (they report their own failures); native tables stay unread.
      return [await nft4(ctx), await nft6(ctx), { ...statusOf('nftables', probe), status: 'failed' }];
    }
    const tables = parseNftTables(probe.stdout);
    const has = (family: string): boolean => tables.some((t) => t.family === family && XTABLES_TABLES.has(t.name));
    const out: SourceStatus[] = [];
    out.push(has('ip') ? await nft4(ctx) : { source: 'iptables-nft-ipv4', status: 'complete' });
    out.push(has('ip6') ? await nft6(ctx) : { source: 'iptables-nft-ipv6', status: 'complete' });
    const native = tables.filter((t) => !(XTABLES_TABLES.has(t.name) && (t.family === 'ip' || t.family === 'ip6')));
    if (native.length > 0) ctx.state.notes!.push(`nf_tables tables not shown by iptables-nft-save: ${native.map((t) => `${t.family} ${t.name}`).join(', ')}`);
    out.push({ source: 'nftables', status: 'complete' });
    return out;
  },
};

const ipset: ToolSource = {
  sources: ['ipset'],
  async read(ctx) {
    const r = await ctx.run(['ipset', 'save']);
    if (r.error === null || r.truncated) ctx.state.ipsets = parseIpsetSave(r.stdout);
    return [statusOf('ipset', r)];
  },
};

const tc: ToolSource = {
  sources: ['tc'],
  async read(ctx) {
    const devs = ctx.interfaces ?? [];
    const { commands, input, rejected } = tcBatchCommands(devs);
    const r = await ctx.run(['tc', '-s', '-d', '-j', '-batch', '-'], input);
    // tc stops a batch at the first failing command (an interface that vanished meanwhile): keep its output.
    if (r.error === null || r.truncated || r.error.reason === 'exit') ctx.state.tc = parseTcBatch(r.stdout, commands);
    const status = statusOf('tc', r);
    if (rejected.length > 0 && status.status === 'complete') {
      return [{ source: 'tc', status: 'failed', reason: 'parse', message: `interface names refused for tc: ${rejected.map((x) => JSON.stringify(x)).join(', ')}` }];
    }
    return [status];
  },
};

/** Every source, in order (links first: tc needs the interface names). */
export const TOOL_SOURCES: readonly ToolSource[] = [links, legacyIptables, nftables, ipset, tc];
