/**
 * `-j TPROXY` (libxt_TPROXY.c, xt_TPROXY.h). Revision 0 (IPv4): { u32 mark_mask, mark_value; be32 laddr; be16
 * lport }; revision 1: { u32 mark_mask, mark_value; nf_inet_addr laddr; be16 lport } for IPv4 and IPv6.
 */
import { hex, ipv4At, ipv6At } from './format.js';
import type { XtDecoder } from './types.js';

function text(info: Buffer, port: number, addr: string): string {
  return ` --on-port ${port} --on-ip ${addr} --tproxy-mark 0x${hex(info.readUInt32LE(4))}/0x${hex(info.readUInt32LE(0))}`;
}

export const tproxyTarget: Record<number, XtDecoder[]> = {
  0: [{ family: 'ipv4', size: 14, save: ({ info }) => text(info, info.readUInt16BE(12), ipv4At(info, 8)) }],
  1: [
    {
      size: 26,
      save: ({ info, family }) => text(info, info.readUInt16BE(24), family === 'ipv4' ? ipv4At(info, 8) : ipv6At(info, 8)),
    },
  ],
};
