/**
 * tc handles (32 bits: major << 16 | minor) as tc prints them (iproute2 6.1 tc_util.c print_tc_classid), the
 * special parents, and the way back from text. Pure; shared by the netlink decoders and request building.
 */

export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
/** clsact's hooks, as filter parents: ffff:fff2 (ingress) and ffff:fff3 (egress). */
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
export const TC_H_CLSACT_INGRESS = 0xfffffff2;
export const TC_H_CLSACT_EGRESS = 0xfffffff3;

export const tcMajor = (h: number): number => h >>> 16;
export const tcMinor = (h: number): number => h & 0xffff;

/** print_tc_classid: `root`, `none`, `:min`, `maj:`, `maj:min` (hex). */
export function formatClassid(h: number): string {
  const x = h >>> 0;
  if (x === TC_H_ROOT) return 'root';
  if (x === 0) return 'none';
  const maj = tcMajor(x).toString(16);
  const min = tcMinor(x).toString(16);
  if (tcMajor(x) === 0) return `:${min}`;
  if (tcMinor(x) === 0) return `${maj}:`;
  return `${maj}:${min}`;
}

/** A qdisc handle as tc prints it: always `maj:` (`0:` for the default qdiscs). */
export function formatQdiscHandle(h: number): string {
  return `${tcMajor(h >>> 0).toString(16)}:`;
}

/** `1:`, `1:4`, `:4`, `ffff:fff1`, `root` -> the 32-bit handle; null when the text is not a handle. */
export function parseHandle(text: string): number | null {
  if (text === 'root') return TC_H_ROOT;
  if (text === 'none') return 0;
  const m = /^([0-9a-fA-F]{0,4}):([0-9a-fA-F]{0,4})$/.exec(text);
  if (m === null) return null;
  const maj = m[1] === '' ? 0 : parseInt(m[1]!, 16);
  const min = m[2] === '' ? 0 : parseInt(m[2]!, 16);
  return ((maj << 16) | min) >>> 0;
}
