/**
 * Optional attributes of a parsed attribute map (nlmsg.ts attrMap), typed: undefined when the attribute is absent,
 * a DecodeError when it is too short. Pure.
 */
import { formatAddress, read } from './nlmsg.js';

export type AttrMap = Map<number, Buffer>;

export function optU32(a: AttrMap, type: number, what: string): number | undefined {
  const v = a.get(type);
  return v === undefined ? undefined : read.u32(v, what);
}

export function optStr(a: AttrMap, type: number): string | undefined {
  const v = a.get(type);
  return v === undefined ? undefined : read.str(v);
}

/** An IPv4 / IPv6 address attribute as text. */
export function optAddress(a: AttrMap, type: number): string | undefined {
  const v = a.get(type);
  return v === undefined ? undefined : formatAddress(v);
}
