/**
 * The sources of the tools reader, in the order they run: links (their names drive tc), legacy iptables, the
 * nft backend (probed with `nft list tables` first), ebtables, ipset, tc (tc-source.ts). Each turns its tools'
 * output into its part of the NetnsState through the pure parsers of this directory and reports its completeness.
 */
import type { ParseError } from '../../errors.js';
import { hasTproxyLinks } from '../model/links.js';
import { ipRuleLine } from '../model/rule-text.js';
import { isXtablesTable, type EbtablesDump, type IpFamily, type IptablesBackend, type NftFamily, type SourceName, type SourceStatus } from '../state.js';
import { parseEbtables } from './ebtables.js';
import { parseIpAddresses, parseIpLinks, parseIpRoutes, parseIpRules } from './ip.js';
import { parseIpsetSave } from './ipset.js';
import { parseIptablesSave } from './iptables.js';
import { parseNftJson } from './nft-json.js';
import { statusOf, type ToolContext, type ToolSource } from './read-tools.js';
import { tcSource } from './tc-source.js';

/** `nft list tables` -> `family name` pairs. */
export function parseNftTables(text: string): { family: string; name: string }[] {
  const out: { family: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^table (\S+) (\S+)\s*$/.exec(line.trim());
    if (m) out.push({ family: m[1]!, name: m[2]! });
  }
  return out;
}

export { hasTproxyLinks } from '../model/links.js';

/** A document the ip parsers could not read at all (line 0: malformed JSON, not an array). */
function unreadable(what: string, errors: ParseError[]): SourceStatus | null {
  const doc = errors.find((e) => e.line === 0);
  return doc === undefined ? null : { source: 'links', status: 'failed', reason: 'parse', message: `${what}: ${doc.message}` };
}

/**
 * Links (ip.ts parsers: the same model as the netlink reader), and where chaos-tproxy's interfaces exist their
 * addresses and every table's routes (HTTPChaos's bridge layout); policy-routing rules of both families always
 * (their fwmark lines are `ipRules`, as `ip rule show` prints them).
 */
const links: ToolSource = {
  sources: ['links'],
  async read(ctx) {
    // `ip -j -d addr show` prints every link with its addresses: links and addresses from one process.
    const a = await ctx.run(['ip', '-j', '-d', 'addr', 'show']);
    if (a.error !== null) return [statusOf('links', a)];
    const parsedL = parseIpLinks(a.stdout);
    const parsedA = parseIpAddresses(a.stdout);
    const bad = unreadable('ip -j addr show', [...parsedL.errors, ...parsedA.errors]);
    if (bad !== null) return [bad];
    // A link that could not be read (iproute2 writes a name's control characters raw, which is no JSON): its name is
    // unknown, so neither the links nor tc (which asks about every name, and then reports failed) can be complete.
    const lost = parsedL.errors[0];
    if (lost !== undefined) return [{ source: 'links', status: 'failed', reason: 'parse', message: `ip -j addr show: link ${lost.line} unreadable: ${lost.message}` }];
    ctx.interfaces = parsedL.links.map((l) => l.name);
    ctx.state.links = parsedL.links;
    ctx.state.addresses = parsedA.addresses;
    const rt = await ctx.run(['ip', '-j', 'route', 'show', 'table', 'all']);
    if (rt.error !== null) return [statusOf('links', rt)];
    const parsedR = parseIpRoutes(rt.stdout, 'any');
    const badR = unreadable('ip -j route show', parsedR.errors);
    if (badR !== null) return [badR];
    ctx.state.routes = parsedR.routes;
    // Policy-routing rules, both families: the fwmark ones are HTTPChaos's old layout.
    const rules = [];
    for (const [argv, family] of [[['ip', '-j', 'rule', 'show'], 'ipv4'], [['ip', '-6', '-j', 'rule', 'show'], 'ipv6']] as const) {
      const rr = await ctx.run(argv);
      if (rr.error !== null) return [statusOf('links', rr)];
      const parsed = parseIpRules(rr.stdout, family);
      const badU = unreadable(argv.join(' '), parsed.errors);
      if (badU !== null) return [badU];
      rules.push(...parsed.rules);
    }
    ctx.state.rules = rules;
    for (const rule of rules) if (rule.fwmark !== null) ctx.state.ipRules.push(ipRuleLine(rule));
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
    const has = (family: 'ip' | 'ip6'): boolean => tables.some((t) => t.family === family && isXtablesTable(family, t.name));
    const out: SourceStatus[] = [];
    out.push(has('ip') ? await nft4(ctx) : { source: 'iptables-nft-ipv4', status: 'complete' });
    out.push(has('ip6') ? await nft6(ctx) : { source: 'iptables-nft-ipv6', status: 'complete' });
    // Every table that is not iptables-nft's (bridge ones included: ebtables-nft-save shows its own as well).
    const native = tables.filter((t) => !isXtablesTable(t.family as NftFamily, t.name));
    ctx.state.nftables = [];
    if (native.length === 0) {
      out.push({ source: 'nftables', status: 'complete' });
      return out;
    }
    // Native tables: the whole ruleset as JSON (parseNftJson leaves iptables-nft's tables out).
    const r = await ctx.run(['nft', '-j', 'list', 'ruleset']);
    const status = statusOf('nftables', r);
    if (r.error === null) {
      const parsed = parseNftJson(r.stdout);
      ctx.state.nftables = parsed.tables;
      if (parsed.errors.length > 0) {
        out.push({ source: 'nftables', status: 'failed', reason: 'parse', message: parsed.errors.map((e) => e.message).slice(0, 3).join('; ') });
        return out;
      }
    }
    out.push(status);
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
      // The probe failed: bridge tables unknown, for the probe's reason (a timeout is not an exit).
      const probe = ctx.state.sources?.find((x) => x.source === 'nftables');
      out.push({ source: 'ebtables-nft', status: ctx.nftTables === null ? 'failed' : 'complete', ...(ctx.nftTables === null ? { reason: probe?.reason ?? 'exit', message: 'nft list tables failed: bridge tables unknown' } : {}) });
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

/** Every source, in order (links first: tc needs the interface names). */
export const TOOL_SOURCES: readonly ToolSource[] = [links, legacyIptables, nftables, ebtables, ipset, tcSource];
