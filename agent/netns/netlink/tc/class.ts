/**
 * One RTM_NEWTCLASS -> the model's class: handle and parent as tc prints them (`root` for a class at the top),
 * htb's rate and ceil, TCA_STATS2. Other kinds' classes (prio bands, tbf's and netem's inner class) carry no typed
 * options. Pure.
 */
import type { TcClass } from '../../model/tc.js';
import { TC_H_ROOT, formatClassid } from './handles.js';
import { decodeHtbClass } from './htb.js';
import { decodeTcMessage } from './message.js';
import { guardOptions, opaqueOptions, rawView } from './qdisc.js';

export function decodeClass(payload: Buffer, ifname: (ifindex: number) => string, problems?: string[]): TcClass {
  const m = decodeTcMessage(payload, 'RTM_NEWTCLASS');
  const c: TcClass = {
    interface: ifname(m.ifindex),
    kind: m.kind,
    handle: formatClassid(m.handle),
    parent: m.parent >>> 0 === TC_H_ROOT ? 'root' : formatClassid(m.parent),
    options: {},
    stats: m.stats,
  };
  const opts = m.options;
  if (opts !== null && m.kind === 'htb') {
    guardOptions(`htb class ${c.handle} on ${c.interface}`, opts, c, () => {
      const d = decodeHtbClass(opts);
      c.options = rawView(d.raw);
      c.rateBytesPerSecond = d.rateBytesPerSecond;
      c.ceilBytesPerSecond = d.ceilBytesPerSecond;
    }, problems);
  } else {
    c.options = opaqueOptions(opts);
  }
  if (m.info !== 0) c.options.leaf = `${(m.info >>> 16).toString(16)}:`;
  return c;
}
