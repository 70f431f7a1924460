/**
 * `-m owner` revision 1 (libxt_owner.c, xt_owner.h: { u32 uid_min, uid_max, gid_min, gid_max; u8 match, invert }).
 * Saved numerically: a single id as `N`, a range as `N-M`. Revision 0 (ipt_owner_info) left the kernel in 2.6.
 */
import type { XtDecoder } from './types.js';

const UID = 0x01;
const GID = 0x02;
const SOCKET = 0x04;
const SUPPL_GROUPS = 0x08;

function item(match: number, invert: number, flag: number, label: string, range?: [number, number]): string {
  if (!(match & flag)) return '';
  let out = `${invert & flag ? ' !' : ''} ${label}`;
  if (range !== undefined) out += range[0] !== range[1] ? ` ${range[0]}-${range[1]}` : ` ${range[0]}`;
  return out;
}

export const ownerMatch: Record<number, XtDecoder> = {
  1: {
    size: 18,
    save({ info }) {
      const match = info[16]!;
      const invert = info[17]!;
      return (
        item(match, invert, SOCKET, '--socket-exists') +
        item(match, invert, UID, '--uid-owner', [info.readUInt32LE(0), info.readUInt32LE(4)]) +
        item(match, invert, GID, '--gid-owner', [info.readUInt32LE(8), info.readUInt32LE(12)]) +
        item(match, invert, SUPPL_GROUPS, '--suppl-groups')
      );
    },
  },
};
