/**
 * `-m tcp` and `-m udp` (libxt_tcp.c, libxt_udp.c; xt_tcpudp.h). struct xt_tcp { u16 spts[2], dpts[2]; u8 option,
 * flg_mask, flg_cmp, invflags }, struct xt_udp { u16 spts[2], dpts[2]; u8 invflags }.
 */
import type { XtDecoder } from './types.js';
import { unprintable } from './types.js';

const INV_SRCPT = 0x01;
const INV_DSTPT = 0x02;
const TCP_INV_FLAGS = 0x04;
const TCP_INV_OPTION = 0x08;

/** tcp_flag_names in order: print_tcpf prints the first name matching each remaining bit. */
const TCP_FLAGS: [string, number][] = [['FIN', 0x01], ['SYN', 0x02], ['RST', 0x04], ['PSH', 0x08], ['ACK', 0x10], ['URG', 0x20]];

function ports(info: Buffer, off: number, inverted: boolean, option: string): string {
  const lo = info.readUInt16LE(off);
  const hi = info.readUInt16LE(off + 2);
  if (lo === 0 && hi === 0xffff) return '';
  return `${inverted ? ' !' : ''} --${option} ${lo === hi ? `${lo}` : `${lo}:${hi}`}`;
}

/** print_tcpf: comma-separated names, NONE for 0. Bits 0x40/0x80 have no name (the C loop runs off its table). */
function tcpFlags(flags: number, offset: number): string {
  if (flags & 0xc0) throw unprintable('xt_tcp', offset, `TCP flag bits 0x${(flags & 0xc0).toString(16)} have no name`);
  const names = TCP_FLAGS.filter(([, bit]) => flags & bit).map(([name]) => name);
  return names.length === 0 ? 'NONE' : names.join(',');
}

export const tcpMatch: Record<number, XtDecoder> = {
  0: {
    size: 12,
    save({ info }) {
      const inv = info[11]!;
      let out = ports(info, 0, (inv & INV_SRCPT) !== 0, 'sport') + ports(info, 4, (inv & INV_DSTPT) !== 0, 'dport');
      const option = info[8]!;
      if (option || inv & TCP_INV_OPTION) out += `${inv & TCP_INV_OPTION ? ' !' : ''} --tcp-option ${option}`;
      const mask = info[9]!;
      if (mask || inv & TCP_INV_FLAGS) {
        out += `${inv & TCP_INV_FLAGS ? ' !' : ''} --tcp-flags ${tcpFlags(mask, 9)} ${tcpFlags(info[10]!, 10)}`;
      }
      return out;
    },
  },
};

export const udpMatch: Record<number, XtDecoder> = {
  0: {
    size: 9,
    save({ info }) {
      const inv = info[8]!;
      return ports(info, 0, (inv & INV_SRCPT) !== 0, 'sport') + ports(info, 4, (inv & INV_DSTPT) !== 0, 'dport');
    },
  },
};
