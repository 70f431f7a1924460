/**
 * The shape shared by every xt match/target decoder. A decoder reads one extension's info blob (the struct of
 * include/uapi/linux/netfilter/xt_*.h for one revision) and returns exactly what that extension's `save` function
 * in iptables 1.8.9 prints, leading space included (e.g. ` --match-set s dst,dst`). It throws a DecodeError when
 * the blob is too short, or when iptables itself could not print it (a value its tables do not cover, a string with
 * no terminating NUL): such a rule is reported opaque, never guessed.
 */
import { DecodeError } from '../../../errors.js';
import type { IpFamily } from '../../model/iptables.js';

/** What decoders may ask of the namespace the rule came from. */
export interface XtContext {
  /**
   * Name of the ipset with this kernel index in the rule's namespace (SO_IP_SET IP_SET_OP_GET_BYINDEX, as
   * iptables-save asks it), or null when there is no such set. See set-index.ts.
   */
  setName(index: number): string | null;
}

/** A rendered extension, or why it could not be rendered exactly. */
export type XtResult = { text: string } | { opaque: string };

export interface XtInput {
  info: Buffer;
  family: IpFamily;
  ctx: XtContext;
}

/** One revision of one extension. */
export interface XtDecoder {
  /** Only for this family (IPv4-only or IPv6-only registrations in iptables); both when absent. */
  family?: IpFamily;
  /** Smallest info blob the struct needs. */
  size: number;
  /** The save output. */
  save(input: XtInput): string;
  /** The name printed after `-m` / `-j` when it is not the extension's own (conntrack printed as `state`). */
  alias?(input: XtInput): string;
}

/** Throws a DecodeError naming the struct when the blob is shorter than `size`. */
export function need(info: Buffer, size: number, what: string): void {
  if (info.length < size) throw new DecodeError(what, info.length, `${info.length} bytes, the struct needs ${size}`);
}

/** A DecodeError for a value iptables cannot print (its save function would read out of bounds or exit). */
export function unprintable(what: string, offset: number, message: string): DecodeError {
  return new DecodeError(what, offset, message);
}
