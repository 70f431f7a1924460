/**
 * Whether what the `links` source dumps (RTM_GETLINK, and AF_UNSPEC RTM_GETADDR / GETROUTE / GETRULE: read-rtnl.ts)
 * may have changed since the last look, asked of the kernel's own change notifications: a NETLINK_ROUTE socket
 * opened inside the namespace and bound to the rtnetlink groups every change of those objects is announced on. The
 * kernel queues one message on it per link, address, route, rule, nexthop or netns-id added, changed or removed in
 * that namespace (rtnl_notify), and reports a queue that overflowed as ENOBUFS at the next receive. So a drain that
 * finds the queue empty, with no overflow, proves that none of those objects changed since the drain before it;
 * the replay (read-namespace.ts) may then leave the links source's four dumps out, when the tape it replays is the
 * one whose answers were read or compared after that earlier drain (`verified`).
 *
 * What the groups do not announce, and why it is bounded: the only change of a decoded value known to come with no
 * message in the namespace is a veth peer moved to another namespace (the local end's IFLA_LINK and
 * IFLA_LINK_NETNSID follow, the moving end is announced where it goes and left). So a tape is trusted on quiet
 * drains for at most `MAX_SKIPS` reads in a row; the next replay compares the four answers again as before.
 *
 * Bounded: the receive buffer is small (EVENTS_RCVBUF): past it the kernel drops messages and flags the overflow,
 * which reads as "changed" (a full comparison). A drain takes at most MAX_DRAIN messages, then reads as changed.
 * Kept only with a session (sessions.ts): one fd per namespace the reader thread keeps, closed with it.
 */
import { AF_NETLINK, Errno, MSG_DONTWAIT, MSG_TRUNC, NETLINK_ROUTE, SOCK_CLOEXEC, SOCK_RAW, SOL_SOCKET, SO_RCVBUF, type Libc } from './libc.js';
import { OwnedSocket, fail } from './owned-socket.js';
import type { Script } from './tape.js';

/**
 * The rtnetlink groups (linux/rtnetlink.h) of every object the links source dumps: links (1), IPv4 and IPv6
 * addresses (5, 9), unicast and multicast routes (7, 11, 6, 10; AF_UNSPEC GETROUTE dumps ipmr and ip6mr too), MPLS
 * routes (27), rules (8, 19: ipmr and ip6mr rules are announced on these too), netns ids (28: a link's
 * IFLA_LINK_NETNSID), nexthop objects (32: routes that use them).
 */
export const ROUTE_EVENT_GROUPS = [1, 5, 6, 7, 8, 9, 10, 11, 19, 27, 28, 32] as const;

/** nl_groups of a sockaddr_nl: group g is bit g - 1 (groups 1 to 32). */
export function groupMask(groups: readonly number[]): number {
  let mask = 0;
  for (const g of groups) {
    if (!Number.isInteger(g) || g < 1 || g > 32) throw new RangeError(`rtnetlink group ${g} does not fit a bind mask`);
    mask |= 1 << (g - 1);
  }
  return mask >>> 0;
}

/** SO_RCVBUF asked (the kernel doubles it): a few dozen messages, then an overflow that reads as "changed". */
export const EVENTS_RCVBUF = 8192;
/** Messages taken by one drain at most; more reads as "changed" (what is left is taken by the next one). */
export const MAX_DRAIN = 256;
/** Quiet reads in a row that may leave the four dumps out before one compares them again. */
export const MAX_SKIPS = 8;

/** Overflows the drains of this thread met, and replays that left the links dumps out (tests). */
export const routeEventCounts = { overflow: 0, skipped: 0 };

export class RouteEvents extends OwnedSocket {
  /**
   * The tape (the very object the reader thread keeps: tape-cache.ts) whose `route` answers the kernel gave after
   * the last drain: read then, or compared equal then. null: none (a fresh socket, a drain that found messages).
   */
  private verified: Script | null = null;
  /** Replays in a row that left the dumps out on this tape. */
  private skips = 0;
  private readonly scratch = Buffer.alloc(64);

  /**
   * Take every queued message (MSG_DONTWAIT; MSG_TRUNC: nothing is copied but the first bytes). True when there
   * was none and no overflow: nothing the groups announce changed since the last drain. Any other outcome (a
   * message, ENOBUFS, a failure, a closed socket) is false and forgets the verified tape.
   */
  drain(): boolean {
    if (this.closed) return false;
    let quiet = true;
    for (let i = 0; ; i++) {
      if (i >= MAX_DRAIN) {
        quiet = false;
        break;
      }
      const n = this.libc.recv(this.fd, this.scratch, this.scratch.length, MSG_DONTWAIT | MSG_TRUNC);
      if (n >= 0) {
        quiet = false;
        continue;
      }
      const errno = this.libc.errno();
      if (errno === Errno.EAGAIN) break;
      if (errno === Errno.EINTR) continue;
      quiet = false;
      if (errno === Errno.ENOBUFS) {
        routeEventCounts.overflow++;
        continue; // the overflow is reported once; what is queued after it is taken too
      }
      break; // anything else: changed, and the next drain asks again
    }
    if (!quiet) this.forget();
    return quiet;
  }

  /** After a quiet drain: whether the replay of `script` may leave the links source's dumps out (and counts it). */
  mayskip(script: Script): boolean {
    if (this.verified !== script || this.skips >= MAX_SKIPS) return false;
    this.skips++;
    routeEventCounts.skipped++;
    return true;
  }

  /** `script`'s route answers are the kernel's as of the last drain (read or compared then); null forgets. */
  verify(script: Script | null, compared: boolean): void {
    if (script !== this.verified || compared) this.skips = 0;
    this.verified = script;
  }

  forget(): void {
    this.verified = null;
    this.skips = 0;
  }

  override close(): void {
    this.forget();
    super.close();
  }
}

/**
 * A socket bound to ROUTE_EVENT_GROUPS in the calling thread's current namespace (call it inside: enter.ts). Throws
 * NetlinkError when the kernel refuses (the caller then reads without it, comparing the dumps every time).
 */
export function openRouteEvents(lib: Libc): RouteEvents {
  const fd = lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) fail(lib, 'route events', 'socket');
  try {
    const size = Buffer.alloc(4);
    size.writeInt32LE(EVENTS_RCVBUF, 0);
    if (lib.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4) !== 0) fail(lib, 'route events', 'setsockopt SO_RCVBUF');
    // sockaddr_nl: family, pad, nl_pid 0 (the kernel picks a port id: an unbound socket would be skipped by the
    // kernel's own announcements, whose sender port is 0 too), nl_groups.
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(AF_NETLINK, 0);
    addr.writeUInt32LE(groupMask(ROUTE_EVENT_GROUPS), 8);
    if (lib.bind(fd, addr) !== 0) fail(lib, 'route events', 'bind');
  } catch (err) {
    lib.close(fd);
    throw err;
  }
  return new RouteEvents(lib, fd);
}
