/**
 * The bench's latency floor: `node dist/bench/static-body.js FILE CONTENT_TYPE [CONTENT_ENCODING]` answers every
 * request with FILE's bytes and those headers from a plain node:http server on 127.0.0.1 (a port of its own,
 * printed as `STATIC-BODY <port>` on stdout). Loaded with the same clients as serve, with serve's own /metrics
 * answer as FILE, it measures what the clients, the kernel and node's HTTP stack cost on this machine: what no
 * exporter of that answer can go under (bench/serve-load.ts `measureFloor`).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';

const [file, contentType, contentEncoding] = process.argv.slice(2);
if (!file || !contentType) {
  process.stderr.write('usage: static-body.js FILE CONTENT_TYPE [CONTENT_ENCODING]\n');
  process.exit(2);
}
const body = readFileSync(file);
const headers: Record<string, string | number> = { 'content-type': contentType, 'content-length': body.length };
if (contentEncoding) headers['content-encoding'] = contentEncoding;
const server = http.createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`STATIC-BODY ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
