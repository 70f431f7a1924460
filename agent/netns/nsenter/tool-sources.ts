/**
 * The sources of the tools reader, in the order they run: links (their names drive tc), legacy iptables, the
 * nft backend (probed with `nft list tables` first), ebtables, ipset, tc. Each turns its tools' output into its
 * part of the NetnsState through the pure parsers of this directory and reports its completeness.
 */
import type { EbtablesDump, IpFamily, IptablesBackend, SourceName, SourceStatus } from '../state.js';
import { parseEbtables } from './ebtables.js';
import { parseIpAddrJson, parseIpRouteJson } from './ip-json.js';
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

/** chaos-tproxy's interface names (13 characters of a UUID, then b1 / v1 / v4): HTTPChaos's bridge layout. */
const TPROXY_LINK = /^[0-9a-f]{8}-[0-9a-f]{4}(?:b1|v1|v4)$/;

export function hasTproxyLinks(names: readonly string[] | null): boolean {
  return names !== null && names.some((n) => TPROXY_LINK.test(n));
}

const links: ToolSource = {
  sources: ['links'],
  async read(ctx) {
    const r = await ctx.run(['ip', '-j', '-d', 'link', 'show']);
    const names = r.error === null ? linkNamesFromJson(r.stdout) : null;
    if (names) ctx.interfaces = names;
    if (r.error === null && names === null) return [{ source: 'links', status: 'failed', reason: 'parse', message: 'ip -j link show: not a JSON array' }];
    if (r.error !== null) return [statusOf('links', r)];
    // The link model (minimal parser until the full `ip -j` parsers land: ip-json.ts).
    ctx.state.links = parseIpAddrJson(r.stdout).links;
    // HTTPChaos's bridge layout: addresses and routes matter only where chaos-tproxy's interfaces exist.
    if (hasTproxyLinks(names)) {
      const a = await ctx.run(['ip', '-j', '-d', 'addr', 'show']);
      if (a.error !== null) return [statusOf('links', a)];
      const parsedA = parseIpAddrJson(a.stdout);
      if (parsedA.error !== null) return [{ source: 'links', status: 'failed', reason: 'parse', message: `ip -j addr show: ${parsedA.error}` }];
      ctx.state.links = parsedA.links;
      ctx.state.addresses = parsedA.addresses;
      const rt = await ctx.run(['ip', '-j', 'route', 'show', 'table', 'all']);
      if (rt.error !== null) return [statusOf('links', rt)];
      const parsedR = parseIpRouteJson(rt.stdout);
      if (parsedR.error !== null) return [{ source: 'links', status: 'failed', reason: 'parse', message: `ip -j route show: ${parsedR.error}` }];
      ctx.state.routes = parsedR.routes;
    }
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
    ctx.nftTables = tables;
    const has = (family: string): boolean => tables.some((t) => t.family === family && XTABLES_TABLES.has(t.name));
    const out: SourceStatus[] = [];
    out.push(has('ip') ? await nft4(ctx) : { source: 'iptables-nft-ipv4', status: 'complete' });
    out.push(has('ip6') ? await nft6(ctx) : { source: 'iptables-nft-ipv6', status: 'complete' });
    // ip/ip6 xtables tables are read by iptables-nft-save, bridge tables by ebtables-nft-save (the ebtables source).
    const native = tables.filter((t) => !(XTABLES_TABLES.has(t.name) && (t.family === 'ip' || t.family === 'ip6')) && t.family !== 'bridge');
    if (native.length > 0) ctx.state.notes!.push(`nf_tables tables not shown by iptables-nft-save: ${native.map((t) => `${t.family} ${t.name}`).join(', ')}`);
    out.push({ source: 'nftables', status: 'complete' });
    return out;
  },
};

/**
 * ebtables. nft backend: `ebtables-nft-save -c` when the nft probe listed a `bridge` table (no process otherwise).
 * Legacy: `ebtables-legacy -t nat -L --Lc` only where chaos-tproxy's interfaces exist (chaos-daemon's image runs
 * ebtables-legacy): the kernel has no cheap list of legacy ebtables tables, and listing one instantiates it in that
 * namespace (lazy table templates); a legacy rule where no chaos-tproxy interface exists is not that layout's.
 * A kernel without legacy ebtables (CONFIG_BRIDGE_NF_EBTABLES_LEGACY unset) holds no legacy rule: complete, noted.
 */
const ebtables: ToolSource = {
  sources: ['ebtables-legacy', 'ebtables-nft'],
  async read(ctx) {
    const dumps: EbtablesDump[] = [];
    const out: SourceStatus[] = [];
    if (hasTproxyLinks(ctx.interfaces)) {
      const r = await ctx.run(['ebtables-legacy', '-t', 'nat', '-L', '--Lc']);
      if (r.error !== null && /doesn't support the ebtables/.test(r.error.message)) {
        ctx.state.notes!.push('ebtables-legacy: the kernel has no legacy ebtables tables');
        out.push({ source: 'ebtables-legacy', status: 'complete' });
      } else {
        if (r.error === null || r.truncated) dumps.push(parseEbtables(r.stdout, 'legacy'));
        out.push(statusOf('ebtables-legacy', r));
      }
    } else {
      out.push({ source: 'ebtables-legacy', status: 'complete' });
    }
    if (ctx.nftTables?.some((t) => t.family === 'bridge')) {
      const r = await ctx.run(['ebtables-nft-save', '-c']);
      if (r.error === null || r.truncated) dumps.push(parseEbtables(r.stdout, 'nft'));
      out.push(statusOf('ebtables-nft', r));
    } else {
      out.push({ source: 'ebtables-nft', status: ctx.nftTables === null ? 'failed' : 'complete', ...(ctx.nftTables === null ? { reason: 'exit', message: 'nft list tables failed: bridge tables unknown' } : {}) });
    }
    const kept = dumps.filter((d) => d.tables.length > 0 || d.errors.length > 0);
    if (kept.length > 0) ctx.state.ebtables = kept;
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
export const TOOL_SOURCES: readonly ToolSource[] = [links, legacyIptables, nftables, ebtables, ipset, tc];
