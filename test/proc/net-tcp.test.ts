import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNetTcp, TCP_LISTEN } from '../../agent/proc/net-tcp.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/proc/${name}`, import.meta.url), 'utf8');

describe('/proc/<pid>/net/tcp and tcp6 (real captures)', () => {
  it('reads IPv4 listeners and connections with their inodes', () => {
    const { sockets, skipped } = parseNetTcp(fixture('net-tcp.txt'));
    expect(skipped).toBe(0);
    expect(sockets.map((s) => [s.address, s.port, s.state, s.inode])).toEqual([
      ['0.0.0.0', 8080, TCP_LISTEN, 359929],
      ['127.0.0.1', 9277, TCP_LISTEN, 359927],
      ['127.0.0.1', 50614, 1, 359930],
      ['127.0.0.1', 9277, 1, 359931],
    ]);
  });
  it('reads IPv6 addresses word by word (::1)', () => {
    const { sockets } = parseNetTcp(fixture('net-tcp6.txt'));
    expect(sockets).toEqual([{ family: 'ipv6', address: '::1', port: 9277, state: TCP_LISTEN, uid: 0, inode: 359928 }]);
  });
  it('renders other IPv6 addresses (RFC 5952 zero compression)', () => {
    // fd00:10:244:2::5 as the kernel prints it: four little-endian words.
    const line = '   0: 100000FD020044020000000005000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 42 1 0 100 0 0 10 0';
    expect(parseNetTcp(`header\n${line}\n`).sockets[0]).toMatchObject({ address: 'fd00:10:244:2::5', port: 80, uid: 1000, inode: 42 });
  });
  it('skips lines it cannot read and is total', () => {
    expect(parseNetTcp('hdr\n   0: zz:1 00000000:0000 0A\n').skipped).toBe(1);
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      const r = parseNetTcp(s);
      for (const x of r.sockets) expect(x.port >= 0 && x.port <= 0xffff).toBe(true);
    }), { numRuns: 2000 });
  });
});
