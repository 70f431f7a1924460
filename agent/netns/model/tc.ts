/**
 * Traffic control state, as both readers produce it (`tc -s -d -j` JSON, or RTM_GETQDISC/TCLASS/TFILTER dumps).
 * Typed fields (netem, tbf, prio, htb, stats...) are the contract both readers fill identically; `options` is each
 * reader's raw view, kept for what is not modelled.
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
  ecn?: boolean;
  slot?: unknown;
}

export interface TbfOptions {
  rateBytesPerSecond?: number;
  burstBytes?: number;
  limitBytes?: number;
  latencySeconds?: number;
  peakrateBytesPerSecond?: number;
  mtuBytes?: number;
}

export interface Qdisc {
  interface: string;
  kind: string;
  /** `1:` style handle, as tc prints it. */
  handle: string;
  /** `root`, `ingress` or the parent handle (`1:4`). */
  parent: string;
  root: boolean;
  /** Raw options object from tc JSON, for anything not modelled below. */
  options: Record<string, unknown>;
  netem?: NetemOptions;
  tbf?: TbfOptions;
  /** prio: bands and priomap. */
  prio?: { bands: number; priomap: number[] };
  htb?: { defaultClass?: string; r2q?: number };
  stats: QdiscStats | null;
}

export interface TcClass {
  interface: string;
  kind: string;
  handle: string;
  parent: string;
  options: Record<string, unknown>;
  /** htb: rate/ceil in bytes/s. */
  rateBytesPerSecond?: number;
  ceilBytesPerSecond?: number;
  stats: QdiscStats | null;
}

export interface TcFilter {
  interface: string;
  kind: string;
  parent: string;
  protocol: string | null;
  pref: number | null;
  handle: string | null;
  /** classid/flowid the filter sends traffic to. */
  flowid: string | null;
  options: Record<string, unknown>;
}

export interface TcDump {
  qdiscs: Qdisc[];
  classes: TcClass[];
  filters: TcFilter[];
  errors: ParseError[];
}

