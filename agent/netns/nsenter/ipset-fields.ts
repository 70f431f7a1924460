/**
 * The typed fields of an ipset set and member, read out of `ipset save` text (the netlink reader fills the same
 * fields from attributes): the element split into its parts by the set type (model/ipset-types.ts), the member
 * options (timeout, packets, bytes, comment, nomatch), the set options (family, hashsize, maxelem, timeout, size,
 * counters, comment, skbinfo). Pure; text it does not recognise leaves the field null.
 */
import { IPSET_TYPES, emptyMemberFields } from '../model/ipset-types.js';
import type { Ipset } from '../model/ipset.js';

type MemberFields = ReturnType<typeof emptyMemberFields>;
type SetFields = Pick<Ipset, 'family' | 'hashsize' | 'maxelem' | 'timeout' | 'size' | 'counters' | 'comment' | 'skbinfo'>;

const ICMP_PROTOS = new Set(['icmp', 'ipv6-icmp']);

function num(s: string | undefined): number | null {
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : null;
}

/** `addr[/len]` (or a range `a-b`, whose first address is kept). */
function addrParts(s: string): { ip: string; cidr: number | null } {
  const slash = s.indexOf('/');
  const dash = s.indexOf('-');
  const end = slash >= 0 ? slash : dash >= 0 ? dash : s.length;
  return { ip: s.slice(0, end), cidr: slash >= 0 ? num(s.slice(slash + 1).split('-')[0]) : null };
}

/** Fields of one member of a set of `type`, from its value and option words (quotes already removed). */
export function memberFields(type: string, value: string, optionWords: string[]): MemberFields {
  const f = emptyMemberFields();
  const spec = IPSET_TYPES[type];
  if (spec !== undefined) {
    const parts = value.split(',');
    spec.elem.forEach((part, i) => {
      const text = parts[i];
      if (text === undefined) return;
      switch (part) {
        case 'ip':
        case 'net':
          Object.assign(f, addrParts(text));
          break;
        case 'ip2': {
          const a = addrParts(text);
          f.ip2 = a.ip;
          f.cidr2 = a.cidr;
          break;
        }
        case 'proto-port': {
          const colon = text.indexOf(':');
          if (colon < 0) {
            f.port = num(text.split('-')[0]);
          } else {
            f.proto = text.slice(0, colon);
            f.port = ICMP_PROTOS.has(f.proto) ? null : num(text.slice(colon + 1).split('-')[0]);
          }
          break;
        }
        case 'port':
          f.port = num(text.split('-')[0]);
          break;
        case 'iface':
          f.physdev = text.startsWith('physdev:');
          f.iface = f.physdev ? text.slice('physdev:'.length) : text;
          break;
        case 'name':
          f.name = text;
          break;
        default:
          break;
      }
    });
  }
  for (let i = 0; i < optionWords.length; i++) {
    const w = optionWords[i]!;
    const next = optionWords[i + 1];
    if (w === 'nomatch') f.nomatch = true;
    else if (w === 'timeout') f.timeout = num(next);
    else if (w === 'packets') f.packets = num(next);
    else if (w === 'bytes') f.bytes = num(next);
    else if (w === 'comment') f.comment = next ?? null;
    else continue;
    if (w !== 'nomatch') i++;
  }
  return f;
}

/** Typed set fields from the parsed creation options. */
export function setFields(type: string, options: Record<string, string | true>): SetFields {
  const str = (k: string): string | undefined => (typeof options[k] === 'string' ? (options[k] as string) : undefined);
  const fam = str('family');
  const spec = IPSET_TYPES[type];
  return {
    family: spec?.create.includes('family') && (fam === 'inet' || fam === 'inet6') ? fam : null,
    hashsize: num(str('hashsize')),
    maxelem: num(str('maxelem')),
    timeout: num(str('timeout')),
    size: num(str('size')),
    counters: options.counters === true,
    comment: options.comment === true,
    skbinfo: options.skbinfo === true,
  };
}
