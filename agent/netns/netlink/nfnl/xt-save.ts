/**
 * The text iptables-nft-save (1.8.9) prints for a rule after `-A CHAIN`, from iptables' view of it (nft-ipv4.c /
 * nft-ipv6.c save_rule, nft-shared.c save_matches_and_target): the IP part and every match and target rendered by
 * the code the legacy reader uses for the same structs (xtables/render.ts, xt/), then the verdict: a standard one
 * (-j ACCEPT / DROP / RETURN), TRACE (from meta nftrace), or a jump / goto to a chain. Pure; trimmed like the tools
 * reader trims a rule.
 */
import type { IpFamily } from '../../model/iptables.js';
import type { XtContext } from '../xt/types.js';
import { IP_FIELDS, type EntryExtension, type EntryIp } from '../xtables/entries.js';
import { extensionText, ipPart } from '../xtables/render.js';

/** What ends a rule: a standard verdict, an xt target, TRACE, a jump / goto to a chain, or nothing. */
export type RuleTarget =
  | { kind: 'standard'; name: 'ACCEPT' | 'DROP' | 'RETURN' }
  | ({ kind: 'xt' } & EntryExtension)
  | { kind: 'trace' }
  | { kind: 'chain'; chain: string; goto: boolean }
  | null;

/**
 * struct ipt_ip / ip6t_ip6 with nothing set (what iptables' command state starts from): addresses, masks and
 * interface arrays live in `buf` at the kernel's offsets (IP_FIELDS), as the legacy reader reads them in place.
 */
export function emptyEntryIp(family: IpFamily): EntryIp {
  return { buf: Buffer.alloc(IP_FIELDS[family].outifaceMask + 16), off: 0, proto: 0, flags: 0, invflags: 0, tos: 0 };
}

/** Writes `bytes` into the IP part's field (src, smsk, iniface, ...), zero-filling the rest of it. */
export function setIpField(ip: EntryIp, family: IpFamily, field: keyof (typeof IP_FIELDS)['ipv4'], bytes: Buffer): void {
  const at = ip.off + IP_FIELDS[family][field];
  const size = field.endsWith('iface') || field.endsWith('Mask') ? 16 : family === 'ipv4' ? 4 : 16;
  ip.buf.fill(0, at, at + size);
  bytes.copy(ip.buf, at, 0, Math.min(size, bytes.length));
}

/** The rule text, and why parts of it could not be rendered exactly (`text` then holds `-m NAME` for them). */
export function saveRule(family: IpFamily, ip: EntryIp, matches: readonly EntryExtension[], target: RuleTarget, ctx: XtContext): { text: string; opaque: string[] } {
  const opaque: string[] = [];
  let out = ipPart(ip, family);
  for (const m of matches) out += extensionText('match', m, family, ctx, opaque);
  if (target !== null) {
    switch (target.kind) {
      case 'standard':
        out += ` -j ${target.name}`;
        break;
      case 'trace':
        out += ' -j TRACE';
        break;
      case 'chain':
        out += ` -${target.goto ? 'g' : 'j'} ${target.chain}`;
        break;
      case 'xt':
        out += extensionText('target', target, family, ctx, opaque);
    }
  }
  return { text: out.trim(), opaque };
}
