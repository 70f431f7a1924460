/**
 * `-j LOG` (libxt_LOG.c, xt_LOG.h: { u8 level; u8 logflags; char prefix[30] }). The prefix is printed through
 * xtables_save_string; the default level (LOG_WARNING, 4) is not printed.
 */
import { cString, saveString } from './format.js';
import type { XtDecoder } from './types.js';
import { unprintable } from './types.js';

const LOG_DEFAULT_LEVEL = 4;
const FLAGS: [number, string][] = [
  [0x01, ' --log-tcp-sequence'],
  [0x02, ' --log-tcp-options'],
  [0x04, ' --log-ip-options'],
  [0x08, ' --log-uid'],
  [0x20, ' --log-macdecode'],
];

export const logTarget: Record<number, XtDecoder> = {
  0: {
    size: 32,
    save({ info }) {
      const prefix = cString(info, 2, 30);
      if (prefix === null) throw unprintable('xt_log_info', 2, 'prefix has no terminating NUL');
      let out = prefix === '' ? '' : ` --log-prefix${saveString(prefix)}`;
      const level = info[0]!;
      if (level !== LOG_DEFAULT_LEVEL) out += ` --log-level ${level}`;
      const flags = info[1]!;
      for (const [bit, option] of FLAGS) if (flags & bit) out += option;
      return out;
    },
  },
};
