/**
 * `-j CONNMARK` revisions 1 and 2 (libxt_CONNMARK.c, xt_connmark.h: { u32 ctmark, ctmask, nfmask; [u8 shift_dir,
 * shift_bits,] u8 mode }) and `-m connmark` revision 1 ({ u32 mark, mask; u8 invert }, libxt_connmark.c).
 */
import { hex, markMask } from './format.js';
import type { XtDecoder } from './types.js';
import { unprintable } from './types.js';

const SET = 0;
const SAVE = 1;
const RESTORE = 2;
const SHIFT_OPS = ['left-shift-mark', 'right-shift-mark'];

function modeText(info: Buffer, mode: number): string {
  const ctmark = info.readUInt32LE(0);
  const ctmask = info.readUInt32LE(4);
  const nfmask = info.readUInt32LE(8);
  switch (mode) {
    case SET:
      return ` --set-xmark 0x${hex(ctmark)}/0x${hex(ctmask)}`;
    case SAVE:
      return ` --save-mark --nfmask 0x${hex(nfmask)} --ctmask 0x${hex(ctmask)}`;
    case RESTORE:
      return ` --restore-mark --nfmask 0x${hex(nfmask)} --ctmask 0x${hex(ctmask)}`;
    default:
      return ' ERROR: UNKNOWN CONNMARK MODE';
  }
}

export const connmarkTarget: Record<number, XtDecoder> = {
  1: { size: 13, save: ({ info }) => modeText(info, info[12]!) },
  2: {
    size: 15,
    save({ info }) {
      const mode = info[14]!;
      const dir = info[12]!;
      const bits = info[13]!;
      let out = modeText(info, mode);
      if (mode <= RESTORE && bits !== 0) {
        const op = SHIFT_OPS[dir];
        if (op === undefined) throw unprintable('xt_connmark_tginfo2', 12, `unknown shift direction ${dir}`);
        out += ` --${op} ${bits}`;
      }
      return out;
    },
  },
};

export const connmarkMatch: Record<number, XtDecoder> = {
  1: {
    size: 9,
    save: ({ info }) => `${info[8] ? ' !' : ''} --mark${markMask(info.readUInt32LE(0), info.readUInt32LE(4))}`,
  },
};
