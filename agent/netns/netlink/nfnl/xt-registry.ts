/**
 * The xt decoders' interface as the nftables reader uses it (the shared registry lives in ../xt/, built for the
 * legacy reader too). Until it is wired in, `noXtRegistry` reports every compat extension as opaque.
 */
import type { IpFamily } from '../../model/iptables.js';

export interface XtContext {
  /** Name of the ipset with this kernel index in the rule's namespace, or null. */
  setName(index: number): string | null;
}

/** A rendered extension (` -m NAME ...` / ` -j NAME ...`), or why it could not be rendered exactly. */
export type XtResult = { text: string } | { opaque: string };

export const noXtRegistry = {
  match: (name: string, revision: number, _family: IpFamily, _info: Buffer, _ctx: XtContext): XtResult => ({ opaque: `match ${name} revision ${revision}: no decoder` }),
  target: (name: string, revision: number, _family: IpFamily, _info: Buffer, _ctx: XtContext): XtResult => ({ opaque: `target ${name} revision ${revision}: no decoder` }),
};
