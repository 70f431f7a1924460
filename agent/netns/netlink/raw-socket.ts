/**
 * The raw IPv4/IPv6 socket of one network namespace for the legacy xtables getsockopt interface (xtables/read.ts,
 * xt/set-index.ts), created inside the namespace by enter.ts like the netlink sockets, and taped and replayed the
 * same way (tape.ts).
 */
import { NetlinkError } from '../../errors.js';
import { AF_INET6, Errno, errnoName, type Libc } from './libc.js';
import { OwnedSocket } from './owned-socket.js';
import { sockoptAnswer, type RawRole, type SockoptStep, type Tape } from './tape.js';

/** A raw IPv4/IPv6 socket for the legacy xtables getsockopt interface (IPT_SO_GET_INFO / GET_ENTRIES, ebtables). */
export class RawSocket extends OwnedSocket {
  /** Set by a read that records its requests (tape.ts). */
  tape: Tape | null = null;

  constructor(libc: Libc, fd: number, readonly family: number) {
    super(libc, fd);
  }

  get role(): RawRole {
    return this.family === AF_INET6 ? 'raw6' : 'raw4';
  }

  /**
   * getsockopt with `buf` both as input (the kernel reads the table name from it) and output; returns the bytes
   * written. Fails with a NetlinkError carrying errno (ENOENT: no such table).
   */
  getsockopt(op: string, level: number, name: number, buf: Buffer): number {
    this.checkOpen(op);
    const input = this.tape === null ? null : Buffer.from(buf);
    const len = [buf.length];
    const errno = this.libc.getsockopt(this.fd, level, name, buf, len) !== 0 ? this.libc.errno() : 0;
    if (input !== null) this.tape!.record({ kind: 'sockopt', role: this.role, level, name, input, size: input.length, answer: sockoptAnswer(len[0]!, buf, errno) });
    if (errno !== 0) {
      const reason = errno === Errno.ENOENT ? 'vanished' : 'spawn';
      throw new NetlinkError(op, reason, `getsockopt: ${errnoName(errno)}`, { errno });
    }
    return len[0]!;
  }

  /** Call a recorded step again; true when the answer is the taped one (tape.ts). */
  replay(step: SockoptStep): boolean {
    this.checkOpen('replay');
    const buf = Buffer.alloc(step.size);
    step.input.copy(buf, 0, 0, Math.min(step.input.length, step.size));
    const len = [buf.length];
    const errno = this.libc.getsockopt(this.fd, step.level, step.name, buf, len) !== 0 ? this.libc.errno() : 0;
    // sockoptAnswer(len, buf, errno).equals(step.answer), compared in place.
    const a = step.answer;
    if (a.length !== (errno === 0 ? 8 + buf.length : 8) || a.readInt32LE(0) !== errno || a.readUInt32LE(4) !== len[0]! >>> 0) return false;
    return errno !== 0 || buf.compare(a, 8) === 0;
  }
}
