/**
 * Userspace hand-off targets: `-j NFLOG` (libxt_NFLOG.c, xt_NFLOG.h: { u32 len; u16 group, threshold, flags, pad;
 * char prefix[64] }) and `-j NFQUEUE` revisions 0-3 (libxt_NFQUEUE.c, xt_NFQUEUE.h), and `-j TRACE` (no options).
 */
import { cString, saveString } from './format.js';
import type { XtDecoder } from './types.js';
import { unprintable } from './types.js';

const NFLOG_F_COPY_LEN = 0x1;
const NFLOG_DEFAULT_THRESHOLD = 0;
const NFQ_FLAG_BYPASS = 0x01;
const NFQ_FLAG_CPU_FANOUT = 0x02;

export const nflogTarget: Record<number, XtDecoder> = {
  0: {
    size: 76,
    save({ info }) {
      const prefix = cString(info, 12, 64);
      if (prefix === null) throw unprintable('xt_nflog_info', 12, 'prefix has no terminating NUL');
      const len = info.readUInt32LE(0);
      const group = info.readUInt16LE(4);
      const threshold = info.readUInt16LE(6);
      const flags = info.readUInt16LE(8);
      let out = prefix !== '' ? ` --nflog-prefix${saveString(prefix)}` : '';
      if (group) out += ` --nflog-group ${group}`;
      if (flags & NFLOG_F_COPY_LEN) out += ` --nflog-size ${len}`;
      else if (len) out += ` --nflog-range ${len}`;
      if (threshold !== NFLOG_DEFAULT_THRESHOLD) out += ` --nflog-threshold ${threshold}`;
      return out;
    },
  },
};

function queues(info: Buffer): string {
  const num = info.readUInt16LE(0);
  const total = info.readUInt16LE(2);
  return total > 1 ? ` --queue-balance ${num}:${(total + num - 1) >>> 0}` : ` --queue-num ${num}`;
}

export const nfqueueTarget: Record<number, XtDecoder> = {
  0: { size: 2, save: ({ info }) => ` --queue-num ${info.readUInt16LE(0)}` },
  1: { size: 4, save: ({ info }) => queues(info) },
  2: { size: 6, save: ({ info }) => queues(info) + (info.readUInt16LE(4) & NFQ_FLAG_BYPASS ? ' --queue-bypass' : '') },
  3: {
    size: 6,
    save({ info }) {
      const flags = info.readUInt16LE(4);
      return queues(info) + (flags & NFQ_FLAG_BYPASS ? ' --queue-bypass' : '') + (flags & NFQ_FLAG_CPU_FANOUT ? ' --queue-cpu-fanout' : '');
    },
  },
};

export const traceTarget: Record<number, XtDecoder> = {
  0: { size: 0, save: () => '' },
};
