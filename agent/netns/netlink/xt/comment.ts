/** `-m comment` (libxt_comment.c, xt_comment.h): char comment[256], printed through xtables_save_string. */
import { cStringCut, saveString } from './format.js';
import type { XtDecoder } from './types.js';

const XT_MAX_COMMENT_LEN = 256;

export const commentMatch: Record<number, XtDecoder> = {
  0: {
    size: XT_MAX_COMMENT_LEN,
    // comment_save forces comment[255] = '\0': at most 255 bytes are printed.
    save: ({ info }) => ` --comment${saveString(cStringCut(info, 0, XT_MAX_COMMENT_LEN - 1))}`,
  },
};
