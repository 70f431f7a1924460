/**
 * The text iptables-save (1.8.9) prints for a rule after `-A CHAIN`, from iptables' own view of it: the IP part
 * (struct ipt_ip / ip6t_ip6 fields: addresses and masks, interfaces and their masks, protocol, fragment flag,
 * inversion flags), then every match and the target through the shared xt decoders. Mirrors nft-ipv4.c /
 * nft-ipv6.c save_rule, xshared.c save_ipv4_addr / save_ipv6_addr / save_rule_details / save_iface, and
 * nft-shared.c save_matches_and_target. Pure; the result is trimmed like the tools reader trims a rule.
 */
import type { IpFamily } from '../../model/iptables.js';
import { IFNAMSIZ } from './xt-native-matches.js';
import { protocolName } from './protocols.js';
import type { XtContext, XtResult } from './xt-registry.js';
import { ipv4Text, ipv6Text } from './inet.js';

/** IPT_INV_* (== IP6T_INV_* for the bits both have). */
export const INV_VIA_IN = 0x01;
export const INV_VIA_OUT = 0x02;
export const INV_SRCIP = 0x08;
export const INV_DSTIP = 0x10;
export const INV_FRAG = 0x20;
export const INV_PROTO = 0x40;

/** The IP part of a rule as iptables holds it (addresses and masks in network order, interface arrays of 16). */
export interface FwSpec {
  family: IpFamily;
  src: Buffer;
  smsk: Buffer;
  dst: Buffer;
  dmsk: Buffer;
  iniface: Buffer;
  inifaceMask: Buffer;
  outiface: Buffer;
  outifaceMask: Buffer;
  proto: number;
  /** IPT_F_FRAG (IPv4 only). */
  frag: boolean;
  /** IPT_F_GOTO: the jump is a goto. */
  goto: boolean;
  invflags: number;
}

export interface XtPart {
  name: string;
  revision: number;
  info: Buffer;
}

/** What ends a rule: a standard verdict, an xt target, TRACE (meta nftrace), a jump/goto to a chain, or nothing. */
export type RuleTarget =
  | { kind: 'standard'; name: 'ACCEPT' | 'DROP' | 'RETURN' }
  | ({ kind: 'xt' } & XtPart)
  | { kind: 'trace' }
  | { kind: 'chain'; chain: string }
  | null;

/** The xt match / target decoders (the shared registry), as functions so tests and both readers can pass them. */
export interface XtRegistry {
  match(name: string, revision: number, family: IpFamily, info: Buffer, ctx: XtContext): XtResult;
  target(name: string, revision: number, family: IpFamily, info: Buffer, ctx: XtContext): XtResult;
}

export function emptyFwSpec(family: IpFamily): FwSpec {
  const alen = family === 'ipv4' ? 4 : 16;
  return {
    family,
    src: Buffer.alloc(alen),
    smsk: Buffer.alloc(alen),
    dst: Buffer.alloc(alen),
    dmsk: Buffer.alloc(alen),
    iniface: Buffer.alloc(IFNAMSIZ),
    inifaceMask: Buffer.alloc(IFNAMSIZ),
    outiface: Buffer.alloc(IFNAMSIZ),
    outifaceMask: Buffer.alloc(IFNAMSIZ),
    proto: 0,
    frag: false,
    goto: false,
    invflags: 0,
  };
}

/**
 * The rule text, or the reasons it cannot be printed exactly (an xt extension without a decoder, a blob iptables
 * could not print). `text` is always filled, with what could be rendered, so an opaque rule still reads sensibly.
 */
export function saveRule(fw: FwSpec, matches: readonly XtPart[], target: RuleTarget, xt: XtRegistry, ctx: XtContext): { text: string; opaque: string[] } {
  const opaque: string[] = [];
  let out = fw.family === 'ipv4' ? ipv4Addr('s', fw.src, fw.smsk, fw.invflags & INV_SRCIP) + ipv4Addr('d', fw.dst, fw.dmsk, fw.invflags & INV_DSTIP)
    : ipv6Addr('s', fw.src, fw.smsk, fw.invflags & INV_SRCIP) + ipv6Addr('d', fw.dst, fw.dmsk, fw.invflags & INV_DSTIP);
  out += saveIface('i', fw.iniface, fw.inifaceMask, fw.invflags & INV_VIA_IN);
  out += saveIface('o', fw.outiface, fw.outifaceMask, fw.invflags & INV_VIA_OUT);
  if (fw.proto > 0) out += `${fw.invflags & INV_PROTO ? ' !' : ''} -p ${protocolName(fw.proto)}`;
  if (fw.family === 'ipv4' && fw.frag) out += `${fw.invflags & INV_FRAG ? ' !' : ''} -f`;
  const take = (r: XtResult, fallback: string): void => {
    if ('text' in r) out += r.text;
    else {
      opaque.push(r.opaque);
      out += fallback;
    }
  };
  for (const m of matches) take(xt.match(m.name, m.revision, fw.family, m.info, ctx), ` -m ${m.name}`);
  if (target !== null) {
    switch (target.kind) {
      case 'standard':
        out += ` -j ${target.name}`;
        break;
      case 'trace':
        out += ' -j TRACE';
        break;
      case 'chain':
        out += ` -${fw.goto ? 'g' : 'j'} ${target.chain}`;
        break;
      case 'xt':
        take(xt.target(target.name, target.revision, fw.family, target.info, ctx), ` -j ${target.name}`);
    }
  }
  return { text: out.trim(), opaque };
}

/** save_ipv4_addr: nothing for 0.0.0.0/0 not inverted, else ` [!] -s A/len` (or /dotted mask when not contiguous). */
function ipv4Addr(letter: string, addr: Buffer, mask: Buffer, invert: number): string {
  const m = mask.readUInt32BE(0);
  if (m === 0 && !invert && addr.readUInt32BE(0) === 0) return '';
  return `${invert ? ' !' : ''} -${letter} ${ipv4Text(addr)}/${ipv4MaskText(m, mask)}`;
}

/** xshared.c mask_to_str: prefix length when contiguous (0..32), else the dotted mask. */
function ipv4MaskText(m: number, mask: Buffer): string {
  if (m === 0xffffffff) return '32';
  const inv = ~m >>> 0;
  if ((inv & (inv + 1)) !== 0) return ipv4Text(mask);
  return String(32 - Math.log2(inv + 1));
}

/** save_ipv6_addr: nothing when the mask is empty and not inverted, else ` [!] -s A/len` or /mask-as-address. */
function ipv6Addr(letter: string, addr: Buffer, mask: Buffer, invert: number): string {
  const l = ipv6MaskCidr(mask);
  if (!invert && l === 0) return '';
  return `${invert ? ' !' : ''} -${letter} ${ipv6Text(addr)}/${l === -1 ? ipv6Text(mask) : l}`;
}

/** xtables_ip6mask_to_cidr: prefix length, or -1 when not contiguous. */
function ipv6MaskCidr(mask: Buffer): number {
  let bits = 0;
  let ended = false;
  for (const byte of mask) {
    for (let b = 7; b >= 0; b--) {
      const set = (byte >> b) & 1;
      if (set && ended) return -1;
      if (set) bits++;
      else ended = true;
    }
  }
  return bits;
}

/** save_iface: the masked bytes of the name, `+` where the mask ends after a non-NUL byte. */
function saveIface(letter: string, iface: Buffer, mask: Buffer, invert: number): string {
  if (mask[0] === 0) return '';
  const bytes: number[] = [];
  for (let i = 0; i < IFNAMSIZ; i++) {
    if (mask[i] !== 0) {
      if (iface[i] !== 0) bytes.push(iface[i]!);
    } else {
      if (iface[i - 1] !== 0) bytes.push(0x2b);
      break;
    }
  }
  return `${invert ? ' !' : ''} -${letter} ${Buffer.from(bytes).toString('utf8')}`;
}
