#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=256 --no-memory-reducer --single-threaded-gc
// Thin launcher: the compiled CLI lives in dist/ (npm run build). The shebang passes bin/node-flags.js's V8 flags
// (node reads them only on its command line) when the bin is run directly.
//
// It runs dist/bundle/cli.js (the same code in a few CommonJS modules, rolldown.config.mjs: much less to load, and
// compiled from the V8 code cache made at build time when there is one: bin/code-cache.js) when that bundle is at
// least as new as tsc's dist/agent/cli.js, else dist/agent/cli.js: a `tsc` run without the bundle step never leaves
// the launcher on stale code.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { installCodeCache } from './code-cache.js';

async function load() {
  const bundle = new URL('../dist/bundle/cli.js', import.meta.url);
  const compiled = new URL('../dist/agent/cli.js', import.meta.url);
  const mtime = (url) => statSync(url, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const b = mtime(bundle);
  if (b < 0 || b < mtime(compiled)) return import(compiled.href);
  installCodeCache(fileURLToPath(new URL('.', bundle)));
  return createRequire(import.meta.url)(fileURLToPath(bundle));
}

const { run } = await load();

// run() sets the exit code, and ends a one-shot command's process once its answer is out (agent/exit.ts): a read
// abandoned at its deadline may stay blocked in the kernel in libuv's thread pool and would keep it alive.
run(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`chaos-node-agent: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
