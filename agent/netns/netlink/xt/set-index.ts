/**
 * ipset index -> name, the way iptables-save resolves `-m set` (libxt_set.h get_set_byid): getsockopt(SOL_IP,
 * SO_IP_SET) on an IPv4 raw socket opened inside the namespace, first IP_SET_OP_VERSION (struct ip_set_req_version
 * { op, version }; once per thread: threadVersion), then IP_SET_OP_GET_BYINDEX (struct ip_set_req_get_set { op, version, union { name[32]; u16
 * index } }). An empty name means no set at that index. Answers are cached for the life of the object (one
 * namespace read); the nftables and tc readers use the same object for their ipset references.
 *
 * Kernel side (net/netfilter/ipset/ip_set_core.c ip_set_sockfn_get): needs CAP_NET_ADMIN in the namespace's user
 * namespace; an index >= ip_set_max answers EINVAL; without the ip_set module the option is unknown (ENOPROTOOPT).
 */
import { NetlinkError } from '../../../errors.js';
import { SOL_IP } from '../libc.js';
import type { RawSocket } from '../raw-socket.js';

export const SO_IP_SET = 83;
export const IP_SET_OP_GET_BYINDEX = 0x00000007;
export const IP_SET_OP_VERSION = 0x00000100;
const IPSET_MAXNAMELEN = 32;
const IPSET_INVALID_ID = 65535;

/**
 * The protocol version the kernel's ip_set module gave on this thread (asked once per thread, not per namespace
 * read: the module is the kernel's, shared by every namespace). Each SO_IP_SET call is a vmalloc, a copy and a vfree
 * in the kernel (ip_set_sockfn_get), so asking it at every read cost every read a call. The kernel checks only that a
 * request's version is at least IPSET_PROTOCOL_MIN; a refusal (EPROTO: a module of another protocol loaded since)
 * makes the next request ask again.
 */
let threadVersion: number | null = null;
const EPROTO = 71;

/** Forget the version asked on this thread (tests). */
export function forgetProtocolVersion(): void {
  threadVersion = null;
}

/** The getsockopt a SetIndex needs (RawSocket satisfies it; tests can pass a recording wrapper). */
export type SockoptSocket = Pick<RawSocket, 'getsockopt'>;

export class SetIndex {
  private readonly names = new Map<number, string | null>();
  /** The first failure other than "no such set", kept for the read's notes. */
  lastError: NetlinkError | null = null;
  /** getsockopt calls made (tests check the cache). */
  calls = 0;

  constructor(private readonly socket: SockoptSocket) {}

  /** The name of the set with kernel index `index`, or null when there is none (or the kernel would not say). */
  name(index: number): string | null {
    if (!Number.isInteger(index) || index < 0 || index >= IPSET_INVALID_ID) return null;
    const cached = this.names.get(index);
    if (cached !== undefined) return cached;
    const name = this.ask(index);
    this.names.set(index, name);
    return name;
  }

  private ask(index: number): string | null {
    try {
      const version = this.protocolVersion();
      const req = Buffer.alloc(8 + IPSET_MAXNAMELEN);
      req.writeUInt32LE(IP_SET_OP_GET_BYINDEX, 0);
      req.writeUInt32LE(version, 4);
      req.writeUInt16LE(index, 8);
      this.calls++;
      const n = this.socket.getsockopt('SO_IP_SET GET_BYINDEX', SOL_IP, SO_IP_SET, req);
      if (n !== req.length) {
        this.lastError = new NetlinkError('SO_IP_SET GET_BYINDEX', 'spawn', `answer of ${n} bytes, expected ${req.length}`);
        return null;
      }
      const nul = req.indexOf(0, 8);
      const end = nul < 0 ? req.length : nul;
      return end === 8 ? null : req.toString('utf8', 8, end);
    } catch (err) {
      if (!(err instanceof NetlinkError)) throw err;
      if (err.errno === EPROTO) threadVersion = null;
      // EINVAL: index past ip_set_max, i.e. no such set. Anything else is worth reporting.
      if (err.errno !== 22) this.lastError = err;
      return null;
    }
  }

  private protocolVersion(): number {
    if (threadVersion !== null) return threadVersion;
    const req = Buffer.alloc(8);
    req.writeUInt32LE(IP_SET_OP_VERSION, 0);
    this.calls++;
    this.socket.getsockopt('SO_IP_SET VERSION', SOL_IP, SO_IP_SET, req);
    threadVersion = req.readUInt32LE(4);
    return threadVersion;
  }
}
