/**
 * receive-batch.ts on a real netlink socket: the queued datagrams in one call, the receive timeout set only when a
 * receive has to wait (and then bounding it), and the fallback to one recv per datagram where recvmmsg is refused.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { withNetns } from '../../../agent/netns/netlink/enter.js';
import { Errno, MSG_TRUNC, SOL_SOCKET, SO_RCVTIMEO, libc, type Libc } from '../../../agent/netns/netlink/libc.js';
import { NLMSG_DONE, NLM_F_DUMP, NLM_F_REQUEST, encodeMessage, splitMessages } from '../../../agent/netns/netlink/nlmsg.js';
import { BATCH, ReceiveBatch } from '../../../agent/netns/netlink/receive-batch.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';

const RTM_GETROUTE = 26;

function sendDump(lib: Libc, fd: number, seq: number): void {
  const req = encodeMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, Buffer.alloc(12));
  expect(lib.send(fd, req, req.length, 0)).toBe(req.length);
}

/** Every datagram of the answer, through `batch` (copied out of its slots). */
function drain(batch: ReceiveBatch, fd: number, bound: (ms: number) => void): Buffer[] {
  const out: Buffer[] = [];
  for (;;) {
    const n = batch.fill({ fd, bound }, 1000);
    expect(n).toBeGreaterThan(0);
    for (let i = 0; i < n; i++) out.push(Buffer.from(batch.slots[i]!.subarray(0, batch.lengths[i]!)));
    if (splitMessages(out[out.length - 1]!).some((m) => m.type === NLMSG_DONE)) return out;
  }
}

/** The same answer with one recv per datagram. */
function drainWithRecv(lib: Libc, fd: number): Buffer[] {
  const buf = Buffer.alloc(1 << 18);
  const out: Buffer[] = [];
  for (;;) {
    const n = lib.recv(fd, buf, buf.length, MSG_TRUNC);
    expect(n).toBeGreaterThan(0);
    out.push(Buffer.from(buf.subarray(0, n)));
    if (splitMessages(out[out.length - 1]!).some((m) => m.type === NLMSG_DONE)) return out;
  }
}

/** Datagram payloads without their headers' sequence numbers and port ids. */
const bodies = (ds: Buffer[]): string[] => ds.flatMap((d) => splitMessages(d).map((m) => `${m.type}:${m.flags}:${m.payload.toString('hex')}`));

describeIntegration('the thread receive batch on a real netlink socket', { root: true, commands: ['ip'] }, () => {
  afterAll(destroyAll);

  async function routeSocketFd(routes: number): Promise<{ fd: number; close(): void; path: string }> {
    const ns = await createNetns('nlb');
    await ns.addPodInterface({ addr: '10.79.0.2/16' });
    const lines = Array.from({ length: routes }, (_, i) => `route add 172.${16 + (i >> 8)}.${i & 255}.0/24 via 10.79.0.1`);
    if (routes > 0) await ns.exec(['ip', '-batch', '-'], { input: `${lines.join('\n')}\n` });
    const s = withNetns(ns.path, null, (i) => i.route()).value;
    return { fd: s.fd, close: () => s.close(), path: ns.path };
  }

  /** A namespace with `routes` routes and its route dump read with one recv per datagram. */
  async function withReference(routes: number): Promise<{ path: string; reference: Buffer[] }> {
    const a = await routeSocketFd(routes);
    try {
      sendDump(libc(), a.fd, 1);
      return { path: a.path, reference: drainWithRecv(libc(), a.fd) };
    } finally {
      a.close();
    }
  }

  it('takes the queued datagrams of a dump BATCH at a time, the same as recv one by one, and sets no receive timeout', async () => {
    const lib = libc();
    const a = await withReference(2000);
    const reference = a.reference;
    const b = withNetns(a.path, null, (i) => i.route()).value;
    const batch = new ReceiveBatch(lib);
    const bound = vi.fn();
    const recvmmsg = vi.spyOn(lib, 'recvmmsg');
    sendDump(lib, b.fd, 1);
    const got = drain(batch, b.fd, bound);
    b.close();
    expect(bodies(got)).toEqual(bodies(reference));
    expect(reference.length).toBeGreaterThan(BATCH);
    expect(recvmmsg.mock.calls.length).toBe(Math.ceil(reference.length / BATCH));
    expect(bound).not.toHaveBeenCalled(); // every answer datagram was queued already: no wait, no SO_RCVTIMEO
    recvmmsg.mockRestore();
  });

  it('waits only under the receive timeout `bound` sets, when nothing is queued yet', async () => {
    const lib = libc();
    const s = await routeSocketFd(0);
    const batch = new ReceiveBatch(lib);
    const bound = vi.fn(() => {
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(50_000n, 8); // 50 ms
      expect(lib.setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16)).toBe(0);
    });
    const t0 = performance.now();
    expect(batch.fill({ fd: s.fd, bound }, 50)).toBe(-1);
    expect(lib.errno()).toBe(Errno.EAGAIN);
    expect(bound).toHaveBeenCalledTimes(1);
    expect(bound).toHaveBeenCalledWith(50);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40);
    expect(batch.count).toBe(0);
    s.close();
  });

  it('falls back to one recv per datagram where recvmmsg is refused (ENOSYS), with the same datagrams', async () => {
    const real = libc();
    const a = await withReference(2000);
    const reference = a.reference;
    let forced: number | null = null;
    let refused = 0;
    const fake: Libc = {
      ...real,
      recvmmsg: () => {
        refused++;
        forced = Errno.ENOSYS;
        return -1;
      },
      errno: () => {
        const e = forced ?? real.errno();
        forced = null;
        return e;
      },
    };
    const b = withNetns(a.path, null, (i) => i.route()).value;
    const batch = new ReceiveBatch(fake);
    sendDump(real, b.fd, 1);
    const got = drain(batch, b.fd, () => undefined);
    b.close();
    expect(bodies(got)).toEqual(bodies(reference));
    expect(refused).toBe(1); // refused once, then never asked again on this thread's batch
  });
});

describe('ReceiveBatch layout', () => {
  it('has BATCH slots of the old receive buffer size each', () => {
    const batch = new ReceiveBatch(libc());
    expect(batch.slots.length).toBe(BATCH);
    for (const s of batch.slots) expect(s.length).toBe(256 * 1024);
  });
});
