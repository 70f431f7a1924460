#!/usr/bin/env node
// `node scripts/code-cache.mjs` (npm run build's last step, and the image's build stage): the V8 code cache of the
// CLI bundle, dist/bundle/<chunk>.js.v8cache (format and when a cache is used: bin/code-cache.js).
//
// V8 keeps a function's bytecode only once the function has run, so the cache is made by a training run: the
// bundled CLI, in a child node started with the shipped flags (bin/node-flags.js: V8 rejects a cache made under
// other flags), runs `--help`, `pods` and `inspect NS/POD` against a small CRI server of its own (one pod whose
// sandbox and container are this very process: its netns and /proc are read for real), `inspect --pid` and
// `--json` and `runtimes`, then writes the cache of every chunk it compiled. What the training could not do
// here (no netlink permission in an image build...) is simply compiled at run time, as without a cache. Then another
// fresh node with the shipped flags checks that V8 accepts every cache written: one it would reject is deleted and the
// script fails (a cache never used is a bug, not a slow start to live with). Output of the commands is discarded; a
// summary goes to stderr.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(ROOT, 'dist', 'bundle');

const { installCodeCache, writeCaches, readCache, CACHE_SUFFIX } = await import('../bin/code-cache.js');

if (process.argv[2] === undefined) {
  const { NODE_FLAGS } = await import('../bin/node-flags.js');
  const child = (mode, stdout) => spawnSync(process.execPath, [...NODE_FLAGS, fileURLToPath(import.meta.url), mode], { stdio: ['ignore', stdout, 'inherit'], timeout: 120_000, killSignal: 'SIGKILL', encoding: 'utf8' });
  const train = child('--train', 'inherit');
  if (train.status !== 0) process.exit(train.status ?? 1);
  const verify = child('--verify', 'pipe');
  const bad = verify.status === 0 ? JSON.parse(verify.stdout) : null;
  if (bad === null || bad.length > 0) {
    for (const [name] of bad ?? []) rmSync(join(BUNDLE, name + CACHE_SUFFIX), { force: true });
    process.stderr.write(`code-cache: caches V8 would not use: ${bad ? bad.map(([n, why]) => `${n} (${why})`).join(', ') + ' (deleted)' : `the check failed (${verify.status})`}\n`);
    process.exit(1);
  }
  process.exit(0);
}

if (process.argv[2] === '--verify') {
  const Module = createRequire(import.meta.url)('node:module');
  const vm = await import('node:vm');
  const bad = [];
  for (const name of readdirSync(BUNDLE).filter((f) => f.endsWith('.js') && existsSync(join(BUNDLE, f + CACHE_SUFFIX)))) {
    const source = readFileSync(join(BUNDLE, name), 'utf8');
    const { data, why } = readCache(join(BUNDLE, name), source);
    if (data === null) bad.push([name, why]);
    else if (new vm.Script(Module.wrap(source), { filename: join(BUNDLE, name), cachedData: data }).cachedDataRejected) bad.push([name, 'rejected by V8']);
  }
  process.stdout.write(JSON.stringify(bad));
  process.exit(0);
}

const { CRI_RPCS } = await import('../dist/agent/runtime/cri/messages.js');
const { encodeMessage } = await import('../dist/agent/runtime/cri/schema.js');
const { frameMessage } = await import('../dist/agent/runtime/cri/grpc-channel.js');

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
      const frame = frameMessage(encodeMessage(CRI_RPCS[method].response, body));
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

// Caches of an earlier training (npm run build's rolldown step empties dist/bundle, a rerun of this script does not).
for (const f of readdirSync(BUNDLE).filter((x) => x.endsWith(CACHE_SUFFIX))) rmSync(join(BUNDLE, f));
const dir = mkdtempSync(join(tmpdir(), 'cna-code-cache-'));
const endpoint = `unix://${join(dir, 'cri.sock')}`;
const stats = installCodeCache(BUNDLE, { record: true });
const { main } = createRequire(import.meta.url)(join(BUNDLE, 'cli.js'));
const server = await criServer(join(dir, 'cri.sock'));
const common = ['--runtime-endpoint', endpoint, '--kube', 'off'];
const runs = [
  ['--help'],
  ['runtimes', ...common],
  ['pods', ...common],
  ['inspect', 'cache/training', ...common],
  ['inspect', 'cache/training', '--json', ...common],
  ['inspect', '--pid', String(pid), '--kube', 'off'],
  // Not diff, metrics, serve or inspect --all: before their first worker thread, agent/worker-limits.ts changes a V8
  // flag, and a cache written after that carries the new flags' hash, which V8 rejects in a freshly started node.
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
