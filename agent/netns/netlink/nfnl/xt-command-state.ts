/**
 * iptables-nft's view of an nf_tables rule: the expression list interpreted the way iptables 1.8.9 does it
 * (iptables/nft-shared.c nft_rule_to_iptables_command_state, nft-ipv4.c / nft-ipv6.c parse_meta / parse_payload),
 * into the command state its save function prints: the IP part (interfaces, protocol, addresses and masks, fragment
 * flag), the matches in order (compat blobs as they are, native translations rebuilt as the xt structs iptables
 * builds for them, the userdata comment last), the target or verdict, and the counters.
 *
 * A register machine like iptables': payload / meta / immediate load a register (16-byte registers NFT_REG_1..4
 * and 4-byte NFT_REG32_* alias the same slots, as in nft-shared.h), bitwise attaches a mask, cmp / range consume.
 * Wherever iptables would fail ("Parsing nftables rule failed"), read undefined memory, silently drop a condition,
 * or call the table incompatible, the rule is marked opaque with a reason instead: the text is never guessed. Pure.
 */
import type { IpFamily } from '../../model/iptables.js';
import type { NftCmpOp, NftExpr } from '../../model/nftables.js';
import { NF_ACCEPT, NF_DROP, NFT_GOTO, NFT_JUMP, NFT_RETURN } from './nft-expr/data.js';
import {
  anyIfaceArrays,
  commentInfo,
  icmpInfo,
  ifaceArrays,
  limitInfo,
  markInfo,
  nflogInfo,
  newTcpInfo,
  newUdpInfo,
  pkttypeInfo,
  setPort,
  setPortRange,
  setTcpFlags,
} from './xt-native-matches.js';
import type { EntryExtension, EntryIp } from '../xtables/entries.js';
import { INV_DSTIP, INV_FRAG, INV_PROTO, INV_SRCIP, INV_VIA_IN, INV_VIA_OUT, IPT_F_FRAG } from '../xtables/render.js';
import { emptyEntryIp, setIpField, type RuleTarget } from './xt-save.js';

export interface CommandState {
  family: IpFamily;
  /** The IP part, as struct ipt_ip / ip6t_ip6 holds it. */
  ip: EntryIp;
  /** Matches in print order: compat blobs as they are, native translations as the xt structs iptables builds. */
  matches: EntryExtension[];
  target: RuleTarget;
  counters: { packets: number; bytes: number };
  /** Why the rule cannot be printed exactly; empty when it can. */
  opaque: string[];
}

type Slot =
  | { type: 'undef' }
  | { type: 'meta'; key: string }
  | { type: 'payload'; base: string; offset: number; len: number }
  | { type: 'immediate'; data: Buffer };

interface Reg {
  value: Slot;
  /** Mask bytes of the last bitwise into this register. */
  mask: Buffer | null;
}

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ICMPV6 = 58;

const VERDICT_CODES = new Map<string, number>([
  ['accept', NF_ACCEPT],
  ['drop', NF_DROP],
  ['return', NFT_RETURN],
  ['jump', NFT_JUMP],
  ['goto', NFT_GOTO],
]);

/** nft-shared.h nft_xt_ctx_get_sreg: NFT_REG_1..4 and NFT_REG32_00..15 map onto 17 slots (REG32_00 is slot 0). */
function slotOf(reg: number): number | null {
  if (reg === 0) return 0;
  if (reg >= 1 && reg <= 4) return 1 + (reg - 1) * 4;
  if (reg >= 8 && reg <= 23) return reg - 8;
  return null;
}

/** The command state of a rule of family ip (ipv4) or ip6 (ipv6), with its userdata comment if any. */
export function commandState(family: IpFamily, exprs: readonly NftExpr[], comment: string | null): CommandState {
  return new Interpreter(family).run(exprs, comment);
}

class Interpreter {
  private readonly cs: CommandState;
  private readonly regs: Reg[] = Array.from({ length: 17 }, () => ({ value: { type: 'undef' }, mask: null }));
  private tcp: Buffer | null = null;
  private udp: Buffer | null = null;
  private readonly seen = new Set<string>();

  constructor(private readonly family: IpFamily) {
    this.cs = { family, ip: emptyEntryIp(family), matches: [], target: null, counters: { packets: 0, bytes: 0 }, opaque: [] };
  }

  run(exprs: readonly NftExpr[], comment: string | null): CommandState {
    for (const e of exprs) this.expr(e);
    if (comment !== null) this.cs.matches.push({ name: 'comment', revision: 0, data: commentInfo(comment) });
    return this.cs;
  }

  private opaque(why: string): void {
    this.cs.opaque.push(why);
  }

  private reg(n: number | null, what: string): Reg | null {
    const s = n === null ? null : slotOf(n);
    if (s === null) {
      this.opaque(`${what}: no usable register (${n})`);
      return null;
    }
    return this.regs[s]!;
  }

  /** nft_xt_ctx_get_dreg: the register with its type and bitwise cleared. */
  private load(n: number | null, what: string, value: Slot): void {
    const r = this.reg(n, what);
    if (r === null) return;
    r.value = value;
    r.mask = null;
  }

  private expr(e: NftExpr): void {
    switch (e.kind) {
      case 'counter':
        this.cs.counters = { packets: e.packets, bytes: e.bytes };
        return;
      case 'payload':
        if (e.sreg !== null) return this.opaque('payload write');
        return this.load(e.dreg, 'payload', { type: 'payload', base: e.base, offset: e.offset, len: e.len });
      case 'meta':
        if (e.sreg !== null) return this.metaSet(e.key, e.sreg);
        return this.load(e.dreg, 'meta', { type: 'meta', key: e.key });
      case 'bitwise':
        return this.bitwise(e);
      case 'cmp':
        return this.cmp(e.sreg, e.op, Buffer.from(e.data, 'hex'));
      case 'immediate':
        return this.immediate(e);
      case 'range':
        return this.range(e);
      case 'match':
        this.cs.matches.push({ name: e.name, revision: e.revision, data: Buffer.from(e.info, 'hex') });
        return;
      case 'target':
        return this.setTarget({ kind: 'xt', name: e.name, revision: e.revision, data: Buffer.from(e.info, 'hex') });
      case 'limit':
        if (e.type !== 'pkts' || e.invert) return this.opaque('limit on bytes or inverted (iptables-nft calls the table incompatible)');
        if (e.rate === 0) return this.opaque('limit with rate 0');
        this.cs.matches.push({ name: 'limit', revision: 0, data: limitInfo(e.rate, e.unit, e.burst) });
        return;
      case 'log': {
        // nft_parse_log; nft_is_expr_compatible accepts only a log with a group (NFLOG), not syslog logging.
        if (e.group === null) return this.opaque('log without a group (iptables-nft calls the table incompatible)');
        const prefix = e.prefix ?? '';
        if (Buffer.byteLength(prefix) > 63) return this.opaque('log prefix longer than 63 bytes');
        return this.setTarget({ kind: 'xt', name: 'NFLOG', revision: 0, data: nflogInfo(e.group, e.qthreshold ?? 0, e.snaplen, prefix) });
      }
      case 'lookup':
        // iptables-nft ignores lookups in ip / ip6 rules: printing the rest would drop a condition.
        return this.opaque(`lookup in set ${e.set} (iptables-nft prints nothing for it)`);
      default:
        // Anything else makes iptables-nft-save call the table incompatible.
        return this.opaque(`expression ${e.kind === 'unknown' ? e.name : e.kind} (not an iptables-nft expression)`);
    }
  }

  private metaSet(key: string, sreg: number): void {
    const r = this.reg(sreg, 'meta set');
    if (r === null) return;
    if (key !== 'nftrace' || r.value.type !== 'immediate') return this.opaque(`meta ${key} set`);
    if (padded(r.value.data, 4).readUInt32LE(0) === 0) return this.opaque('meta nftrace cleared');
    this.setTarget({ kind: 'trace' });
  }

  private setTarget(t: NonNullable<RuleTarget>): void {
    if (this.cs.target !== null) return this.opaque('more than one verdict or target');
    this.cs.target = t;
  }

  private bitwise(e: Extract<NftExpr, { kind: 'bitwise' }>): void {
    if (e.op !== 'mask-xor' || e.mask === null || e.xor === null) return this.opaque(`bitwise ${e.op}`);
    const src = this.reg(e.sreg, 'bitwise');
    const dst = this.reg(e.dreg, 'bitwise');
    if (src === null || dst === null) return;
    const mask = Buffer.from(e.mask, 'hex');
    if (mask.length > 16) return this.opaque('bitwise wider than 16 bytes');
    if (/[^0]/.test(e.xor)) return this.opaque('bitwise with a non-zero xor (iptables ignores it)');
    dst.value = src.value;
    dst.mask = mask;
  }

  private immediate(e: Extract<NftExpr, { kind: 'immediate' }>): void {
    if ('value' in e.data) {
      const data = Buffer.from(e.data.value, 'hex');
      if (data.length > 16) return this.opaque('immediate wider than 16 bytes');
      return this.load(e.dreg, 'immediate', { type: 'immediate', data });
    }
    const v = e.data.verdict;
    const code = VERDICT_CODES.get(v.code);
    if (code === NF_ACCEPT) return this.setTarget({ kind: 'standard', name: 'ACCEPT' });
    if (code === NF_DROP) return this.setTarget({ kind: 'standard', name: 'DROP' });
    if (code === NFT_RETURN) return this.setTarget({ kind: 'standard', name: 'RETURN' });
    if (code === NFT_JUMP || code === NFT_GOTO) {
      if (v.chain === undefined) return this.opaque(`${v.code} without a chain`);
      return this.setTarget({ kind: 'chain', chain: v.chain, goto: code === NFT_GOTO });
    }
    // continue, break, queue, ...: iptables-nft prints nothing for them.
    this.opaque(`verdict ${v.code}`);
  }

  private once(field: string): boolean {
    if (!this.seen.has(field)) {
      this.seen.add(field);
      return true;
    }
    this.opaque(`${field} matched twice`);
    return false;
  }

  private cmp(sreg: number, op: NftCmpOp, data: Buffer): void {
    const r = this.reg(sreg, 'cmp');
    if (r === null) return;
    const v = r.value;
    if (v.type === 'meta') return this.cmpMeta(v.key, r, op, data);
    if (v.type !== 'payload') return this.opaque(`cmp on a register holding ${v.type === 'undef' ? 'nothing' : 'an immediate'}`);
    if (v.base === 'network') return this.cmpNetwork(v.offset, v.len, r, op, data);
    if (v.base === 'transport') return this.cmpTransport(v.offset, r, op, data);
    this.opaque(`cmp on ${v.base} header bytes (iptables-nft ignores them)`);
  }

  private cmpMeta(key: string, r: Reg, op: NftCmpOp, data: Buffer): void {
    if (op !== 'eq' && op !== 'neq') return this.opaque(`meta ${key} compared with ${op}`);
    const inv = op === 'neq';
    const fw = this.cs.ip;
    // nftnl_expr_get_u8 / _u32 read 0 when the data is not exactly that wide.
    const width = key === 'mark' ? 4 : key === 'l4proto' || key === 'pkttype' ? 1 : 0;
    if (width !== 0 && data.length !== width) return this.opaque(`meta ${key} compared with ${data.length} bytes`);
    switch (key) {
      case 'l4proto':
        if (!this.once('protocol')) return;
        fw.proto = data[0]!;
        if (inv) fw.invflags |= INV_PROTO;
        return;
      case 'iifname':
      case 'oifname':
      case 'ibrname':
      case 'obrname': {
        const dirIn = key === 'iifname' || key === 'ibrname';
        if (!this.once(dirIn ? 'in interface' : 'out interface')) return;
        let arrays = ifaceArrays(data);
        if (arrays === null) return this.opaque(`interface name ${data.toString('hex')} iptables cannot print`);
        let invert = inv;
        // nft's "! -i +" excuse: iptables writes the impossible name INVAL/D and reads it back as `! -i +`.
        if (!invert && data.equals(Buffer.from('INVAL/D\0'))) {
          invert = true;
          arrays = anyIfaceArrays();
        }
        setIpField(fw, this.family, dirIn ? 'iniface' : 'outiface', arrays.name);
        setIpField(fw, this.family, dirIn ? 'inifaceMask' : 'outifaceMask', arrays.mask);
        if (invert) fw.invflags |= dirIn ? INV_VIA_IN : INV_VIA_OUT;
        return;
      }
      case 'mark':
        // get_meta_mask: the bitwise mask's first 32 bits, else ~0.
        if (r.mask !== null && r.mask.length < 4) return this.opaque('mark mask shorter than 32 bits');
        this.cs.matches.push({ name: 'mark', revision: 1, data: markInfo(data, r.mask, inv) });
        return;
      case 'pkttype':
        this.cs.matches.push({ name: 'pkttype', revision: 0, data: pkttypeInfo(data[0]!, inv) });
        return;
      default:
        this.opaque(`meta ${key}`);
    }
  }

  private cmpNetwork(offset: number, len: number, r: Reg, op: NftCmpOp, data: Buffer): void {
    if (op !== 'eq' && op !== 'neq') return this.opaque(`network header compared with ${op}`);
    const inv = op === 'neq';
    const fw = this.cs.ip;
    const v4 = this.family === 'ipv4';
    const alen = v4 ? 4 : 16;
    const which = offset === (v4 ? 12 : 8) ? 'src' : offset === (v4 ? 16 : 24) ? 'dst' : null;
    if (which !== null) {
      if (!this.once(`${which} address`)) return;
      if (r.mask !== null && r.mask.length < alen) return this.opaque('address mask shorter than the address');
      const addr = Buffer.from(padded(data, alen).subarray(0, alen));
      const mask = r.mask !== null ? Buffer.from(r.mask.subarray(0, alen)) : Buffer.alloc(alen).fill(0xff, 0, Math.min(len, alen));
      setIpField(fw, this.family, which, addr);
      setIpField(fw, this.family, which === 'src' ? 'smsk' : 'dmsk', mask);
      if (inv) fw.invflags |= which === 'src' ? INV_SRCIP : INV_DSTIP;
      return;
    }
    if (v4 && offset === 9) {
      if (!this.once('protocol')) return;
      fw.proto = data[0] ?? 0;
      if (inv) fw.invflags |= INV_PROTO;
      return;
    }
    if (v4 && offset === 6) {
      // -f: (frag_off & 0x1fff) != 0; `! -f` compares equal (get_frag).
      if (!this.once('fragment')) return;
      fw.flags |= IPT_F_FRAG;
      if (r.mask !== null && op === 'eq') fw.invflags |= INV_FRAG;
      return;
    }
    this.opaque(`network header offset ${offset}`);
  }

  private cmpTransport(offset: number, r: Reg, op: NftCmpOp, data: Buffer): void {
    const proto = this.cs.ip.proto;
    if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
      if (op !== 'eq') return this.opaque(`icmp compared with ${op} (iptables-nft ignores the operator)`);
      const info = icmpInfo(offset, data);
      if (info === null) return this.opaque(`icmp header offset ${offset} length ${data.length}`);
      if (this.family === 'ipv6' && info[0] === 0xff) return this.opaque('icmp6 code without a type');
      this.cs.matches.push({ name: this.family === 'ipv4' ? 'icmp' : 'icmp6', revision: 0, data: info });
      return;
    }
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return this.opaque(`transport header of protocol ${proto}`);
    if (offset === 13 && data.length === 1 && proto === IPPROTO_TCP) {
      if (op !== 'eq' && op !== 'neq') return this.opaque(`tcp flags compared with ${op}`);
      const mask = r.mask !== null && r.mask.length > 0 ? r.mask[0]! : 0xff;
      return setTcpFlags(this.ports(proto), mask, data[0]!, op === 'neq');
    }
    if (offset === 0 && data.length === 4) {
      const info = this.ports(proto);
      setPort(info, 0, data.readUInt16BE(0), op);
      return setPort(info, 4, data.readUInt16BE(2), op);
    }
    if ((offset === 0 || offset === 2) && data.length === 2) return setPort(this.ports(proto), offset === 0 ? 0 : 4, data.readUInt16BE(0), op);
    this.opaque(`transport header offset ${offset} length ${data.length} (iptables-nft ignores it)`);
  }

  private range(e: Extract<NftExpr, { kind: 'range' }>): void {
    const r = this.reg(e.sreg, 'range');
    if (r === null) return;
    const v = r.value;
    const proto = this.cs.ip.proto;
    if (v.type !== 'payload' || v.base !== 'transport' || (v.offset !== 0 && v.offset !== 2) || e.from.length !== 4 || e.to.length !== 4 ||
      (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP)) {
      return this.opaque('range iptables-nft does not read as a port range');
    }
    setPortRange(this.ports(proto), v.offset === 0 ? 0 : 4, parseInt(e.from, 16), parseInt(e.to, 16), e.op === 'neq');
  }

  /** The rule's xt_tcp / xt_udp (nft_tcp_match / nft_udp_match: one per rule, created where first needed). */
  private ports(proto: number): Buffer {
    if (proto === IPPROTO_TCP) {
      if (this.tcp === null) {
        this.tcp = newTcpInfo();
        this.cs.matches.push({ name: 'tcp', revision: 0, data: this.tcp });
      }
      return this.tcp;
    }
    if (this.udp === null) {
      this.udp = newUdpInfo();
      this.cs.matches.push({ name: 'udp', revision: 0, data: this.udp });
    }
    return this.udp;
  }
}

/** `data` zero-padded to n bytes, as iptables' fixed-size copies out of libnftnl's zeroed buffers see it. */
function padded(data: Buffer, n: number): Buffer {
  if (data.length >= n) return data;
  const b = Buffer.alloc(n);
  data.copy(b);
  return b;
}
