/**
 * Raw TCP clients for the HTTP abuse tests: send exactly the bytes given (malformed requests included) and read
 * the answer until the server closes; slow clients that trickle a request or never send one.
 */
import { connect, type Socket } from 'node:net';

export interface RawReply {
  /** HTTP status of the answer, null when the server closed without one. */
  status: number | null;
  headers: Record<string, string>;
  body: Buffer;
  ms: number;
}

function parse(buf: Buffer): Omit<RawReply, 'ms'> {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { status: null, headers: {}, body: Buffer.alloc(0) };
  const [statusLine = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, headers, body: buf.subarray(end + 4) };
}

/**
 * Send `data` on a fresh connection and read until the server closes it (requests should say Connection: close).
 * The client does not half-close after sending: Node's HTTP server drops the requests of a connection whose client
 * sent FIN before an asynchronous handler answered.
 */
export function rawRequest(port: number, data: string | Buffer, timeoutMs = 15_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms after sending ${JSON.stringify(String(data).slice(0, 80))}`));
    }, timeoutMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (err: NodeJS.ErrnoException) => {
      // The server may reset a connection it refuses (oversized header, garbage) while we still write.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') {
        clearTimeout(timer);
        reject(err);
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parse(Buffer.concat(chunks)), ms: performance.now() - t0 });
    });
    s.write(data);
  });
}

export interface SlowClient {
  socket: Socket;
  /** Resolves when the connection closed: ms after connecting, what the server sent, an unexpected socket error. */
  closed: Promise<{ ms: number; reply: Omit<RawReply, 'ms'>; error: string | null }>;
}

/**
 * A client that opens a connection and sends `first` (may be empty: a silent client), then one more header line
 * every `everyMs` (none when everyMs is 0), never finishing the request.
 */
export function slowClient(port: number, first: string, everyMs: number): SlowClient {
  const t0 = performance.now();
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let timer: NodeJS.Timeout | null = null;
  let error: string | null = null;
  const closed = new Promise<{ ms: number; reply: Omit<RawReply, 'ms'>; error: string | null }>((resolve) => {
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') error = `${err.code ?? ''} ${err.message}`;
    });
    socket.on('close', () => {
      if (timer) clearInterval(timer);
      resolve({ ms: performance.now() - t0, reply: parse(Buffer.concat(chunks)), error });
    });
  });
  socket.on('connect', () => {
    if (first) socket.write(first);
    let n = 0;
    if (everyMs > 0) {
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(`X-Slow-${n++}: ${'x'.repeat(8)}\r\n`);
      }, everyMs);
    }
  });
  return { socket, closed };
}
