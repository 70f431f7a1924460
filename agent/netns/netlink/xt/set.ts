/**
 * `-m set` (libxt_set.c, include/uapi/linux/netfilter/xt_set.h), revisions 0 to 4. The set is stored by its kernel
 * index; iptables-save prints its name, asked from the kernel (SO_IP_SET GET_BYINDEX): here through ctx.setName.
 */
import type { XtDecoder, XtInput } from './types.js';
import { unprintable } from './types.js';

const IPSET_DIM_MAX = 6;
/** Revision 0 per-dimension flags. */
const IPSET_SRC = 0x01;
const IPSET_MATCH_INV = 0x04;
/** Revision >= 1 `flags` byte: bit 0 inverts, bit i (1..dim) means src for dimension i. */
const IPSET_INV_MATCH = 0x01;
const IPSET_RETURN_NOMATCH = 0x80;
/** Revision 3/4 `flags` word. */
const FLAG_SKIP_COUNTER_UPDATE = 1 << 3;
const FLAG_SKIP_SUBCOUNTER_UPDATE = 1 << 4;
const FLAG_RETURN_NOMATCH = 1 << 7;

const COUNTER_EQ = 1;
const COUNTER_NE = 2;
const COUNTER_LT = 3;
const COUNTER_GT = 4;

function setNameOf(input: XtInput, index: number): string {
  const name = input.ctx.setName(index);
  if (name === null) throw unprintable('xt_set_info', 0, `no ipset has index ${index} (iptables-save fails on this rule)`);
  return name;
}

/** print_match(): ` [!] --match-set NAME src,dst...` for struct xt_set_info at offset 0 (index u16, dim u8, flags u8). */
function matchSet(input: XtInput): string {
  const b = input.info;
  const index = b.readUInt16LE(0);
  const dim = b[2]!;
  const flags = b[3]!;
  if (dim > IPSET_DIM_MAX) throw unprintable('xt_set_info', 2, `dimension ${dim} is above ${IPSET_DIM_MAX}`);
  let out = `${flags & IPSET_INV_MATCH ? ' !' : ''} --match-set ${setNameOf(input, index)}`;
  for (let i = 1; i <= dim; i++) out += `${i === 1 ? ' ' : ','}${flags & (1 << i) ? 'src' : 'dst'}`;
  return out;
}

/** set_printv3_counter / set_printv4_counter. */
function counter(op: number, value: bigint, name: string): string {
  switch (op) {
    case COUNTER_EQ:
      return ` --${name}-eq ${value}`;
    case COUNTER_NE:
      return ` ! --${name}-eq ${value}`;
    case COUNTER_LT:
      return ` --${name}-lt ${value}`;
    case COUNTER_GT:
      return ` --${name}-gt ${value}`;
    default:
      return '';
  }
}

/** Revisions 3 and 4 differ only in where op and value sit inside each 16-byte counter. */
function saveV3V4(input: XtInput, opFirst: boolean): string {
  const b = input.info;
  const flags = b.readUInt32LE(40);
  let out = matchSet(input);
  if (flags & FLAG_RETURN_NOMATCH) out += ' --return-nomatch';
  if (flags & FLAG_SKIP_COUNTER_UPDATE) out += ' ! --update-counters';
  if (flags & FLAG_SKIP_SUBCOUNTER_UPDATE) out += ' ! --update-subcounters';
  for (const [off, name] of [[8, 'packets'], [24, 'bytes']] as const) {
    // v3: struct ip_set_counter_match0 { u8 op; u64 value; }, v4: { aligned_u64 value; u8 op; }
    const op = opFirst ? b[off]! : b[off + 8]!;
    const value = opFirst ? b.readBigUInt64LE(off + 8) : b.readBigUInt64LE(off);
    out += counter(op, value, name);
  }
  return out;
}

export const setMatch: Record<number, XtDecoder> = {
  0: {
    // struct xt_set_info_v0 { u16 index; u32 flags[IPSET_DIM_MAX + 1] } (flags at offset 4).
    size: 32,
    save(input) {
      const b = input.info;
      const first = b.readUInt32LE(4);
      let out = `${first & IPSET_MATCH_INV ? ' !' : ''} --match-set ${setNameOf(input, b.readUInt16LE(0))}`;
      for (let i = 0; i < IPSET_DIM_MAX; i++) {
        const f = b.readUInt32LE(4 + i * 4);
        if (!f) break;
        out += `${i === 0 ? ' ' : ','}${f & IPSET_SRC ? 'src' : 'dst'}`;
      }
      return out;
    },
  },
  1: {
    size: 4,
    save(input) {
      return matchSet(input);
    },
  },
  2: {
    size: 4,
    save(input) {
      return matchSet(input) + (input.info[3]! & IPSET_RETURN_NOMATCH ? ' --return-nomatch' : '');
    },
  },
  3: {
    size: 44,
    save(input) {
      return saveV3V4(input, true);
    },
  },
  4: {
    size: 44,
    save(input) {
      return saveV3V4(input, false);
    },
  },
};
