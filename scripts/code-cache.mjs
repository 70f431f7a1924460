#!/usr/bin/env node
// `node scripts/code-cache.mjs` (npm run build's last step, and the image's build stage): the V8 code cache of the
// CLI bundle, dist/bundle/<chunk>.js.v8cache (format and when a cache is used: bin/code-cache.js).
//
// V8 keeps a function's bytecode only once the function has run, so the cache is made by a training run: the
// bundled CLI, in a child node started with the shipped flags (bin/node-flags.js: V8 rejects a cache made under
// other flags), runs `--help`, `pods` and `inspect NS/POD` against a small CRI server of its own (one pod whose
// sandbox and container are this very process: its netns and /proc are read for real), `inspect --pid` and
// `--json`, then writes the cache of every chunk it compiled. What the training could not do here (no netlink
// permission in an image build...) is simply compiled at run time, as without a cache. Output of the commands is
// discarded; a summary goes to stderr. Exit 1 only when no cache could be written.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(ROOT, 'dist', 'bundle');

if (process.argv[2] !== '--train') {
  const { NODE_FLAGS } = await import('../bin/node-flags.js');
  const r = spawnSync(process.execPath, [...NODE_FLAGS, fileURLToPath(import.meta.url), '--train'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 120_000, killSignal: 'SIGKILL' });
  process.exit(r.status ?? 1);
}

const { installCodeCache, writeCaches } = await import('../bin/code-cache.js');
const { CRI_RPCS } = await import('../dist/agent/runtime/cri/messages.js');
const { encodeMessage } = await import('../dist/agent/runtime/cri/schema.js');

const SANDBOX = 'c0de'.repeat(16);
const CONTAINER = 'cafe'.repeat(16);
const pid = process.pid;

/** Answers of a containerd-shaped runtime whose only pod is this process. */
function answer(method) {
  const netns = { type: 'network', path: `/proc/${pid}/ns/net` };
  const meta = { name: 'training', uid: 'training-uid', namespace: 'cache', attempt: 0 };
  const sandbox = { id: SANDBOX, metadata: meta, state: 'SANDBOX_READY', created_at: '1', labels: { app: 'training' } };
  const container = { id: CONTAINER, pod_sandbox_id: SANDBOX, metadata: { name: 'app', attempt: 0 }, state: 'CONTAINER_RUNNING', created_at: '1' };
  switch (method) {
    case 'Version': return { version: '0.1.0', runtime_name: 'containerd', runtime_version: 'v1.6.20', runtime_api_version: 'v1' };
    case 'ListPodSandbox': return { items: [sandbox] };
    case 'ListContainers': return { containers: [container] };
    case 'PodSandboxStatus': return { status: { id: SANDBOX, metadata: meta, state: 'SANDBOX_READY' }, info: { info: JSON.stringify({ pid, runtimeSpec: { linux: { namespaces: [netns] } } }) } };
    case 'ContainerStatus': return { status: { id: CONTAINER, metadata: { name: 'app', attempt: 0 }, state: 'CONTAINER_RUNNING' }, info: { info: JSON.stringify({ sandboxID: SANDBOX, pid }) } };
    default: return null;
  }
}

function criServer(socket) {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const method = String(headers[':path']).split('/').pop();
    const body = CRI_RPCS[method] ? answer(method) : null;
    stream.on('data', () => undefined);
    stream.on('end', () => {
      if (body === null) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        return;
      }
      const msg = encodeMessage(CRI_RPCS[method].response, body);
      const frame = Buffer.alloc(5 + msg.length);
      frame.writeUInt32BE(msg.length, 1);
      msg.copy(frame, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve(server));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'cna-code-cache-'));
const endpoint = `unix://${join(dir, 'cri.sock')}`;
const stats = installCodeCache(BUNDLE, { record: true });
const { main } = createRequire(import.meta.url)(join(BUNDLE, 'cli.js'));
const server = await criServer(join(dir, 'cri.sock'));
const common = ['--runtime-endpoint', endpoint, '--kube', 'off'];
const runs = [
  ['--help'],
  ['pods', ...common],
  ['inspect', 'cache/training', ...common],
  ['inspect', 'cache/training', '--json', ...common],
  ['inspect', '--pid', String(pid), '--kube', 'off'],
];
const codes = [];
const write = { out: process.stdout.write, err: process.stderr.write };
try {
  for (const argv of runs) {
    process.stdout.write = process.stderr.write = () => true;
    try {
      codes.push(await main(argv));
    } catch (err) {
      codes.push(`threw ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
  }
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
const written = writeCaches(stats);
const kb = Math.round(written.reduce((n, [, b]) => n + b, 0) / 1024);
process.stderr.write(`code-cache: ${written.length} chunks cached (${kb} kB) in ${BUNDLE}; training exit codes ${runs.map((r, i) => `${r[0]}=${codes[i]}`).join(' ')}\n`);
process.exit(written.length > 0 ? 0 : 1);
