/**
 * The agent's unary gRPC client on node:http2 (agent/runtime/cri/grpc-channel.ts) against a real @grpc/grpc-js
 * server on a unix socket (raw byte messages): answers, status codes and percent-encoded messages, an unknown
 * method, the 16 MiB receive cap (at the cap and one byte over) and the send cap, the deadline (sent as
 * grpc-timeout, enforced locally), no socket, the runtime restarting on the same socket, close(), a server answering
 * a unary call with two messages or a flood of them (failed at the second, the stream cancelled); and the
 * length-prefixed framer on split and joined chunks, with and without a message limit.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../../agent/runtime/cri-client.js';
import { GrpcChannel, GrpcCode, GrpcStatusError, MessageFramer } from '../../../agent/runtime/cri/grpc-channel.js';

const raw = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path, requestStream: false, responseStream: false,
  requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
});
/** Served as server streaming, called as unary: a broken runtime that answers a unary call with many messages. */
const streamed = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({ ...raw(path), responseStream: true });
const SERVICE = { Echo: raw('/t.T/Echo'), Sized: raw('/t.T/Sized'), Fail: raw('/t.T/Fail'), Hang: raw('/t.T/Hang'), Two: streamed('/t.T/Two'), Flood: streamed('/t.T/Flood') };

/** Messages of 1 MiB Flood sends at most (then ends with OK): far past what a unary call may hold. */
const FLOOD_MESSAGES = 256;

interface TestServer { server: grpc.Server; deadlines: (Date | number)[]; floods: { written: number; cancelled: boolean }[] }

/** Writes 1 MiB messages as fast as the client takes them, until FLOOD_MESSAGES or the client cancels. */
function flood(call: grpc.ServerWritableStream<Buffer, Buffer>, record: { written: number; cancelled: boolean }): void {
  const message = Buffer.alloc(1 << 20, 0x62);
  call.on('cancelled', () => {
    record.cancelled = true;
  });
  const pump = (): void => {
    while (!call.cancelled && record.written < FLOOD_MESSAGES) {
      record.written++;
      if (!call.write(message)) {
        call.once('drain', pump);
        return;
      }
    }
    if (!call.cancelled) call.end();
  };
  pump();
}

async function startServer(socket: string): Promise<TestServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const deadlines: (Date | number)[] = [];
  const floods: TestServer['floods'] = [];
  server.addService(SERVICE, {
    Two: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      call.write(Buffer.from('one'));
      call.write(Buffer.from('two'));
      call.end();
    },
    Flood: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const record = { written: 0, cancelled: false };
      floods.push(record);
      flood(call, record);
    },
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
    Sized: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(Number(call.request.toString()), 0x61)),
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.NOT_FOUND, details: 'pod "wëb 100%" not found' }),
    Hang: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => void deadlines.push(call.getDeadline()),
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return { server, deadlines, floods };
}

async function failure(p: Promise<unknown>): Promise<GrpcStatusError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(GrpcStatusError);
  return err as GrpcStatusError;
}

describe('GrpcChannel against a grpc-js server', () => {
  let dir: string;
  let socket: string;
  let srv: TestServer;
  const channels: GrpcChannel[] = [];
  const channel = (o: { maxReceiveBytes?: number; maxSendBytes?: number; socketPath?: string } = {}): GrpcChannel => {
    const c = new GrpcChannel({ socketPath: o.socketPath ?? socket, maxReceiveBytes: o.maxReceiveBytes ?? MAX_MESSAGE_BYTES, maxSendBytes: o.maxSendBytes ?? MAX_MESSAGE_BYTES });
    channels.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-grpcch-'));
    socket = join(dir, 'cri.sock');
    srv = await startServer(socket);
  });
  afterAll(async () => {
    for (const c of channels) c.close();
    srv.server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('a unary call: the answer bytes; several concurrent calls on one channel', async () => {
    const c = channel();
    expect((await c.unary('/t.T/Echo', Buffer.from('hi'), 2000)).toString()).toBe('echo:hi');
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => c.unary('/t.T/Echo', Buffer.from(String(i)), 2000)));
    expect(many.map((b) => b.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `echo:${i}`));
    expect((await c.unary('/t.T/Echo', Buffer.alloc(0), 2000)).toString()).toBe('echo:');
  });

  it('a status from the server: its code and its percent-decoded message', async () => {
    const err = await failure(channel().unary('/t.T/Fail', Buffer.alloc(0), 2000));
    expect(err.grpcCode).toBe(GrpcCode.NOT_FOUND);
    expect(err.details).toBe('pod "wëb 100%" not found');
    expect(err.code).toBe('GRPC_NOT_FOUND');
  });

  it('a method the server does not have: UNIMPLEMENTED (what the v1 -> v1alpha2 fallback keys on)', async () => {
    const err = await failure(channel().unary('/runtime.v1.RuntimeService/Version', Buffer.alloc(0), 2000));
    expect(err.grpcCode).toBe(GrpcCode.UNIMPLEMENTED);
  });

  it('16 MiB answers pass, one byte more is RESOURCE_EXHAUSTED; the channel still works after', async () => {
    const c = channel();
    expect((await c.unary('/t.T/Sized', Buffer.from(String(MAX_MESSAGE_BYTES)), 10_000)).length).toBe(MAX_MESSAGE_BYTES);
    const err = await failure(c.unary('/t.T/Sized', Buffer.from(String(MAX_MESSAGE_BYTES + 1)), 10_000));
    expect(err.grpcCode).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(`Received message larger than max (${MAX_MESSAGE_BYTES + 1} vs. ${MAX_MESSAGE_BYTES})`);
    expect((await c.unary('/t.T/Echo', Buffer.from('after'), 2000)).toString()).toBe('echo:after');
  });

  it('a second response message fails the unary call at once (INTERNAL); the channel still works after', async () => {
    const c = channel();
    const err = await failure(c.unary('/t.T/Two', Buffer.alloc(0), 2000));
    expect(err.grpcCode).toBe(GrpcCode.INTERNAL);
    expect(err.details).toBe('more than 1 response message (a unary call has one)');
    expect((await c.unary('/t.T/Echo', Buffer.from('after'), 2000)).toString()).toBe('echo:after');
  });

  it('a server streaming 1 MiB messages to a unary call: failed at the second one, the stream cancelled long before the flood ends', async () => {
    const c = channel();
    const t0 = performance.now();
    const err = await failure(c.unary('/t.T/Flood', Buffer.alloc(0), 20_000));
    expect(err.grpcCode).toBe(GrpcCode.INTERNAL);
    expect(err.details).toBe('more than 1 response message (a unary call has one)');
    expect(performance.now() - t0).toBeLessThan(10_000); // not at the deadline
    const record = srv.floods.at(-1)!;
    await expect.poll(() => record.cancelled, { timeout: 5000 }).toBe(true);
    // The server could buffer a few messages ahead of HTTP/2 flow control; nowhere near the 256 it would send.
    expect(record.written).toBeLessThan(FLOOD_MESSAGES / 4);
    expect((await c.unary('/t.T/Echo', Buffer.from('after'), 2000)).toString()).toBe('echo:after');
  });

  it('a request over the send cap is refused before it is sent', async () => {
    const err = await failure(channel({ maxSendBytes: 10 }).unary('/t.T/Echo', Buffer.alloc(11), 2000));
    expect(err.grpcCode).toBe(GrpcCode.RESOURCE_EXHAUSTED);
  });

  it('the deadline: sent as grpc-timeout, and the call fails DEADLINE_EXCEEDED at it', async () => {
    const before = Date.now();
    const t0 = performance.now();
    const err = await failure(channel().unary('/t.T/Hang', Buffer.alloc(0), 300));
    const took = performance.now() - t0;
    expect(err.grpcCode).toBe(GrpcCode.DEADLINE_EXCEEDED);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(10_000); // at the deadline, not never (a loaded machine delays the timer, not by 10 s)
    const seen = srv.deadlines.at(-1);
    const seenMs = seen instanceof Date ? seen.getTime() : Number(seen);
    expect(seenMs - before).toBeGreaterThanOrEqual(250);
    expect(seenMs - before).toBeLessThan(10_000);
  });

  it('no socket: UNAVAILABLE with the connect error', async () => {
    const err = await failure(channel({ socketPath: join(dir, 'absent.sock') }).unary('/t.T/Echo', Buffer.alloc(0), 2000));
    expect(err.grpcCode).toBe(GrpcCode.UNAVAILABLE);
    expect(err.details).toContain('ENOENT');
  });

  it('the runtime restarting on the same socket: UNAVAILABLE while it is down, then the same channel reconnects', async () => {
    const sock = join(dir, 'restart.sock');
    let s = await startServer(sock);
    const c = channel({ socketPath: sock });
    try {
      expect((await c.unary('/t.T/Echo', Buffer.from('1'), 2000)).toString()).toBe('echo:1');
      s.server.forceShutdown();
      await rm(sock, { force: true });
      const down = await failure(c.unary('/t.T/Echo', Buffer.from('2'), 2000));
      expect(down.grpcCode).toBe(GrpcCode.UNAVAILABLE);
      s = await startServer(sock);
      expect((await c.unary('/t.T/Echo', Buffer.from('3'), 2000)).toString()).toBe('echo:3');
    } finally {
      s.server.forceShutdown();
    }
  });

  it('close(): later calls fail CANCELLED', async () => {
    const c = channel();
    await c.unary('/t.T/Echo', Buffer.alloc(0), 2000);
    c.close();
    expect((await failure(c.unary('/t.T/Echo', Buffer.alloc(0), 2000))).grpcCode).toBe(GrpcCode.CANCELLED);
  });
});

describe('MessageFramer', () => {
  const frame = (payload: Buffer, flag = 0): Buffer => {
    const head = Buffer.alloc(5);
    head[0] = flag;
    head.writeUInt32BE(payload.length, 1);
    return Buffer.concat([head, payload]);
  };

  it('two messages, fed one byte at a time or all at once', () => {
    const bytes = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.alloc(0)), frame(Buffer.from('0123456789'))]);
    const byByte = new MessageFramer(100);
    for (const b of bytes) byByte.push(Buffer.from([b]));
    const whole = new MessageFramer(100);
    whole.push(bytes);
    for (const f of [byByte, whole]) {
      expect(f.messages.map((m) => m.toString())).toEqual(['abc', '', '0123456789']);
      expect(f.leftover).toBe(0);
    }
  });

  it('with maxMessages: the first byte past the last message allowed is an error, and later data is ignored', () => {
    const f = new MessageFramer(100, 1);
    f.push(frame(Buffer.from('abc')));
    expect(f.messages.map((m) => m.toString())).toEqual(['abc']);
    expect(() => f.push(Buffer.from([0]))).toThrow('more than 1 response message (a unary call has one)');
    f.push(frame(Buffer.from('later')));
    expect(f.messages.map((m) => m.toString())).toEqual(['abc']);
    expect(f.leftover).toBe(0);
    // Two messages in one chunk: the error as soon as the second one begins.
    expect(() => new MessageFramer(100, 1).push(Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))]))).toThrow(/more than 1 response message/);
  });

  it('an unfinished message is left over; a compressed or oversized one is an error', () => {
    const f = new MessageFramer(100);
    f.push(frame(Buffer.from('abcdef')).subarray(0, 8));
    expect(f.messages).toEqual([]);
    expect(f.leftover).toBe(8);
    expect(() => new MessageFramer(100).push(frame(Buffer.from('x'), 1))).toThrow(/compressed message/);
    expect(() => new MessageFramer(5).push(frame(Buffer.from('123456')).subarray(0, 5))).toThrow('Received message larger than max (6 vs. 5)');
  });
});
