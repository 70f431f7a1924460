/**
 * fwmark: `-m mark` revision 1 (libxt_mark.c, struct xt_mark_mtinfo1 { u32 mark, mask; u8 invert }) and `-j MARK`
 * revision 2 (libxt_MARK.c, struct xt_mark_tginfo2 { u32 mark, mask }). Older revisions are gone from the kernel.
 */
import { hex, markMask } from './format.js';
import type { XtDecoder } from './types.js';

export const markMatch: Record<number, XtDecoder> = {
  1: {
    size: 9,
    save: ({ info }) => `${info[8] ? ' !' : ''} --mark${markMask(info.readUInt32LE(0), info.readUInt32LE(4))}`,
  },
};

export const markTarget: Record<number, XtDecoder> = {
  2: {
    size: 8,
    save: ({ info }) => ` --set-xmark 0x${hex(info.readUInt32LE(0))}/0x${hex(info.readUInt32LE(4))}`,
  },
};
