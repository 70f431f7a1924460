/** `-m socket` (libxt_socket.c, xt_socket.h: revisions 1-3 carry { u8 flags }; revision 0 has no options). */
import type { XtDecoder } from './types.js';

const TRANSPARENT = 1 << 0;
const NOWILDCARD = 1 << 1;
const RESTORESKMARK = 1 << 2;

function flags(f: number, allowed: number): string {
  const m = f & allowed;
  return `${m & TRANSPARENT ? ' --transparent' : ''}${m & NOWILDCARD ? ' --nowildcard' : ''}${m & RESTORESKMARK ? ' --restore-skmark' : ''}`;
}

export const socketMatch: Record<number, XtDecoder> = {
  1: { size: 1, save: ({ info }) => flags(info[0]!, TRANSPARENT) },
  2: { size: 1, save: ({ info }) => flags(info[0]!, TRANSPARENT | NOWILDCARD) },
  3: { size: 1, save: ({ info }) => flags(info[0]!, TRANSPARENT | NOWILDCARD | RESTORESKMARK) },
};
