/**
 * Traffic control state, as both readers produce it (`tc -s -d -raw -j` JSON, or RTM_GETQDISC/TCLASS/TFILTER dumps).
 * Typed fields (netem, tbf, prio, htb, sfq, fifo, filters' u32/basic/bpf parts, stats...) are the contract both
 * readers fill identically; `options` is each reader's raw view (tc's JSON for nsenter, the decoded attributes for
 * netlink), kept for what is not modelled and never compared between readers.
 *
 * Units and precision are those of iproute2's printing, so that both readers agree to the bit: rates in bytes/s,
 * sizes in bytes (tbf burst/mtu as iproute2 computes them from the kernel's psched ticks), times in seconds, and
 * every value tc prints with `%g` (netem times and probabilities, slot times) rounded to 6 significant digits.
 */
import type { ParseError } from '../../errors.js';

export interface QdiscStats {
  bytes: number;
  packets: number;
  drops: number;
  overlimits: number;
  requeues: number;
  backlog: number;
  qlen: number;
}

/** netem slotting (TCA_NETEM_SLOT): either a min/max delay range or a distribution (delay + jitter). */
export interface NetemSlot {
  minDelaySeconds?: number;
  maxDelaySeconds?: number;
  /** The distribution variant (tc `slot distribution ...`): set instead of min/max when its jitter is non-zero. */
  distributionDelaySeconds?: number;
  distributionJitterSeconds?: number;
  /** Packets / bytes per slot, 0 when unlimited. */
  packets: number;
  bytes: number;
}

/** The 4-state Markov loss model (`loss state p13 p31 p32 p23 p14`), probabilities 0..1. */
export interface NetemLossState {
  p13: number;
  p31: number;
  p32: number;
  p23: number;
  p14: number;
}

/** The Gilbert-Elliott loss model (`loss gemodel p r 1-h 1-k`), probabilities 0..1 as tc prints them. */
export interface NetemLossGemodel {
  p: number;
  r: number;
  oneMinusH: number;
  oneMinusK: number;
}

/** Netem parameters in base units: seconds, ratios 0..1, bytes/s. Absent fields are omitted (undefined). */
export interface NetemOptions {
  limit?: number;
  delaySeconds?: number;
  jitterSeconds?: number;
  delayCorrelation?: number;
  loss?: number;
  lossCorrelation?: number;
  duplicate?: number;
  duplicateCorrelation?: number;
  corrupt?: number;
  corruptCorrelation?: number;
  reorder?: number;
  reorderCorrelation?: number;
  gap?: number;
  rateBytesPerSecond?: number;
  /** With a rate: per-packet overhead, cell size and per-cell overhead (bytes; 0 when unset). */
  ratePacketOverhead?: number;
  rateCellSize?: number;
  rateCellOverhead?: number;
  ecn?: boolean;
  slot?: NetemSlot;
  lossState?: NetemLossState;
  lossGemodel?: NetemLossGemodel;
}

export interface TbfOptions {
  rateBytesPerSecond?: number;
  burstBytes?: number;
  limitBytes?: number;
  latencySeconds?: number;
  peakrateBytesPerSecond?: number;
  mtuBytes?: number;
}

/** sfq (tc_sfq_qopt, and tc_sfq_qopt_v1 when the kernel sends it): what `tc -d` prints. */
export interface SfqOptions {
  limit: number;
  quantumBytes: number;
  /** v1 only, and only when non-zero. */
  depth?: number;
  headdrop: boolean;
  flows: number;
  divisor: number;
  /** Hash perturbation period, only when non-zero. */
  perturbSeconds?: number;
  /** sfqred (v1 with a min threshold): ewma log, thresholds in bytes, max probability 0..1. */
  red?: { ewmaLog: number; minBytes: number; maxBytes: number; probability: number };
}

export interface Qdisc {
  interface: string;
  kind: string;
  /** `1:` style handle, as tc prints it. */
  handle: string;
  /** `root`, `ingress` (ingress and clsact) or the parent handle (`1:4`). */
  parent: string;
  root: boolean;
  /** Each reader's raw view (tc JSON options, or the decoded attributes); not compared between readers. */
  options: Record<string, unknown>;
  netem?: NetemOptions;
  tbf?: TbfOptions;
  /** prio and pfifo_fast: bands and priomap. */
  prio?: { bands: number; priomap: number[] };
  htb?: { defaultClass?: string; r2q?: number; directQlen?: number };
  sfq?: SfqOptions;
  /** pfifo (packets) / bfifo (bytes) queue limit. */
  fifo?: { limit: number };
  stats: QdiscStats | null;
}

export interface TcClass {
  interface: string;
  kind: string;
  handle: string;
  parent: string;
  options: Record<string, unknown>;
  /** htb: rate/ceil in bytes/s (the 64-bit values when the kernel sends them). */
  rateBytesPerSecond?: number;
  ceilBytesPerSecond?: number;
  stats: QdiscStats | null;
}

/** One u32 selector key (struct tc_u32_key, host order): packet word at `offset` & mask == value. */
export interface U32Key {
  value: number;
  mask: number;
  offset: number;
  /** `at nexthdr+N`: the offset is relative to the next header. */
  nexthdr: boolean;
}

export interface U32Filter {
  /** A hash-table node (`fh 800:`): its divisor. */
  divisor?: number;
  /** A rule node: its hash table (`key ht`) and bucket, hex as tc prints them. */
  hashTable?: string;
  bucket?: string;
  /** `link` to another hash table, as tc prints the handle. */
  link?: string;
  keys: U32Key[];
  inputDevice?: string;
  /** `mark VALUE MASK` match, as numbers. */
  mark?: { value: number; mask: number };
}

/**
 * One ematch of a basic filter's tree, in tree order. `relation` joins it to the next one (`and` / `or`, `end`
 * for the last of a (sub)tree); a container holds a sub-expression (its matches follow in `tree`).
 */
export interface Ematch {
  kind: string;
  /** What the match tests, as tc prints it between the parentheses, e.g. `net_x src`, `u8 at 9 layer 1 eq 6`. */
  text: string;
  negated: boolean;
  relation: 'and' | 'or' | 'end';
}

export interface BasicFilter {
  /** The ematch tree flattened, in order; empty when the filter has no `match`. */
  ematches: Ematch[];
  /** tc's own rendering of the tree, e.g. `ipset(net_x src) AND NOT cmp(u8 at 9 layer 1 eq 6)`. */
  ematchText: string | null;
}

export interface BpfFilter {
  /** TCA_BPF_NAME: the object and section (`cls.o:[classifier]`), or null for classic BPF. */
  name: string | null;
  directAction: boolean;
  /** eBPF program id and tag (hex), null for classic BPF bytecode. */
  id: number | null;
  tag: string | null;
  /** Classic BPF: number of instructions; null for eBPF. */
  bytecodeLength: number | null;
}

export interface TcFilter {
  interface: string;
  kind: string;
  /** The parent handle (`1:`, `1:4`), or `ingress` / `egress` for the ingress qdisc and clsact hooks. */
  parent: string;
  protocol: string | null;
  pref: number | null;
  handle: string | null;
  /** classid/flowid the filter sends traffic to. */
  flowid: string | null;
  options: Record<string, unknown>;
  /** TCA_CHAIN (0 for the default chain), null when the kernel does not say. */
  chain?: number | null;
  /** ipset names the filter's ematches use (basic `ipset(NAME ...)`), in order. */
  matchSets?: string[];
  /** Kinds of the attached actions, in order (`gact`, `mirred`...). */
  actions?: string[];
  u32?: U32Filter;
  basic?: BasicFilter;
  bpf?: BpfFilter;
}

export interface TcDump {
  qdiscs: Qdisc[];
  classes: TcClass[];
  filters: TcFilter[];
  errors: ParseError[];
  /**
   * Netlink reader: what it read but cannot render exactly as the tools would (sentences); `--reader auto` reads
   * such a namespace through the tools. Absent when everything rendered.
   */
  opaque?: string[];
}
