/**
 * One legacy entry as the text iptables-save prints after `-A CHAIN` (iptables/iptables.c print_rule4,
 * ip6tables.c print_rule6, xshared.c save_ipv4_addr / save_ipv6_addr / save_rule_details / save_iface /
 * print_match_save), pure. Parts that cannot be rendered exactly are listed in `opaque`; the text then still holds
 * `-m NAME` / `-j NAME` for them, so the structured fields (modules, target) stay right.
 */
import type { IpFamily } from '../../model/iptables.js';
import { ipv4At, ipv4MaskCidr, ipv6At, ipv6MaskCidr } from '../xt/format.js';
import { decodeXtMatch, decodeXtTarget } from '../xt/registry.js';
import type { XtContext } from '../xt/types.js';
import { IP_FIELDS, type Entry, type EntryExtension, type EntryIp } from './entries.js';
import { standardVerdict, STANDARD_TARGET, type ChainFinder } from './layout.js';
import { protocolName } from './protocols.js';

export const INV_VIA_IN = 0x01;
export const INV_VIA_OUT = 0x02;
export const INV_TOS = 0x04;
export const INV_SRCIP = 0x08;
export const INV_DSTIP = 0x10;
export const INV_FRAG = 0x20;
export const INV_PROTO = 0x40;
export const IPT_F_FRAG = 0x01;
export const IPT_F_GOTO = 0x02;
export const IP6T_F_TOS = 0x02;
export const IP6T_F_GOTO = 0x04;

/** Kernel verdicts of the standard target (-NF_x - 1, XT_RETURN = -NF_REPEAT - 1). */
const VERDICTS = new Map<number, string>([[-2, 'ACCEPT'], [-1, 'DROP'], [-4, 'QUEUE'], [-5, 'RETURN']]);

/** standard_target_map: ACCEPT, DROP, QUEUE, RETURN, or null for any other negative verdict (libiptc aborts). */
export function verdictName(verdict: number): string | null {
  return VERDICTS.get(verdict) ?? null;
}

export interface RenderedRule {
  text: string;
  opaque: string[];
}

/** save_ipv4_addr: ` [!] -s a.b.c.d/N` (or the dotted mask when not contiguous); nothing for 0/0 without `!`. */
function ipv4Addr(letter: string, b: Buffer, addr: number, mask: number, invert: boolean): string {
  if (b.readUInt32BE(mask) === 0 && !invert && b.readUInt32BE(addr) === 0) return '';
  const cidr = ipv4MaskCidr(b, mask);
  return `${invert ? ' !' : ''} -${letter} ${ipv4At(b, addr)}/${cidr === -1 ? ipv4At(b, mask) : cidr}`;
}

/** save_ipv6_addr: nothing for a /0 mask without `!` (whatever the address), else ` [!] -s addr/N`. */
function ipv6Addr(letter: string, b: Buffer, addr: number, mask: number, invert: boolean): string {
  const cidr = ipv6MaskCidr(b, mask);
  if (!invert && cidr === 0) return '';
  return `${invert ? ' !' : ''} -${letter} ${ipv6At(b, addr)}/${cidr === -1 ? ipv6At(b, mask) : cidr}`;
}

/** save_iface: the name bytes under the mask, `+` when the mask ends after a non-NUL byte. */
function iface(letter: string, b: Buffer, name: number, mask: number, invert: boolean): string {
  if (b[mask] === 0) return '';
  let end = name;
  let plus = false;
  const bytes: number[] = [];
  for (let i = 0; i < 16; i++) {
    if (b[mask + i] !== 0) {
      if (b[name + i] !== 0) bytes.push(b[name + i]!);
    } else {
      plus = b[name + i - 1] !== 0;
      break;
    }
    end++;
  }
  const text = bytes.length === end - name ? b.toString('utf8', name, end) : Buffer.from(bytes).toString('utf8');
  return `${invert ? ' !' : ''} -${letter} ${text}${plus ? '+' : ''}`;
}

/** The IP part of a rule (addresses, interfaces, protocol, fragment / tos), shared with the nftables reader. */
export function ipPart(ip: EntryIp, family: IpFamily): string {
  const inv = ip.invflags;
  const b = ip.buf;
  const f = IP_FIELDS[family];
  const o = ip.off;
  const addr = family === 'ipv4' ? ipv4Addr : ipv6Addr;
  let out = addr('s', b, o + f.src, o + f.smsk, (inv & INV_SRCIP) !== 0) + addr('d', b, o + f.dst, o + f.dmsk, (inv & INV_DSTIP) !== 0);
  out += iface('i', b, o + f.iniface, o + f.inifaceMask, (inv & INV_VIA_IN) !== 0);
  out += iface('o', b, o + f.outiface, o + f.outifaceMask, (inv & INV_VIA_OUT) !== 0);
  if (ip.proto > 0) out += `${inv & INV_PROTO ? ' !' : ''} -p ${protocolName(ip.proto)}`;
  if (family === 'ipv4' && ip.flags & IPT_F_FRAG) out += `${inv & INV_FRAG ? ' !' : ''} -f`;
  if (family === 'ipv6' && ip.flags & IP6T_F_TOS) out += `${inv & INV_TOS ? ' !' : ''} -? ${ip.tos}`;
  return out;
}

/**
 * ` -m NAME ...` / ` -j NAME ...` through the xt registry; when it cannot be rendered, ` -m NAME` / ` -j NAME` and
 * the reason pushed to `opaque`. Shared with the nftables reader.
 */
export function extensionText(kind: 'match' | 'target', ext: EntryExtension, family: IpFamily, ctx: XtContext, opaque: string[]): string {
  const r = (kind === 'match' ? decodeXtMatch : decodeXtTarget)(ext.name, ext.revision, family, ext.data, ctx);
  if ('text' in r) return r.text;
  opaque.push(r.opaque);
  return ` ${kind === 'match' ? '-m' : '-j'} ${ext.name}`;
}

/** The rule text (trimmed as the tools reader keeps it) and what could not be rendered. */
export function renderEntry(e: Entry, family: IpFamily, chains: ChainFinder, ctx: XtContext): RenderedRule {
  const opaque: string[] = [];
  let out = ipPart(e.ip, family);
  for (const m of e.matches) out += extensionText('match', m, family, ctx, opaque);
  const t = e.target;
  if (t.name !== STANDARD_TARGET) {
    out += extensionText('target', t, family, ctx, opaque);
    return { text: out.trim(), opaque };
  }
  const verdict = standardVerdict(e);
  const gotoFlag = family === 'ipv4' ? IPT_F_GOTO : IP6T_F_GOTO;
  const jump = e.ip.flags & gotoFlag ? '-g' : '-j';
  if (verdict < 0) {
    const name = verdictName(verdict);
    if (name === null) {
      opaque.push(`standard target: verdict ${verdict} has no name`);
      return { text: out.trim(), opaque };
    }
    out += ` ${jump} ${name}`;
  } else if (verdict !== e.offset + e.nextOffset) {
    // A jump; a verdict pointing at the next entry is a fall-through and prints no target.
    const chain = chains.at(verdict);
    if (chain === null || chain.hooknum !== 0) {
      opaque.push(`standard target: jump to offset ${verdict} lands in ${chain === null ? 'no chain' : `built-in chain ${chain.name}`}`);
    } else {
      out += ` ${jump} ${chain.name}`;
    }
  }
  return { text: out.trim(), opaque };
}
