/**
 * bin/code-cache.js: the bundle's files compiled from the V8 code cache when it was made from their exact source,
 * intact, under this V8 and these flags, and from source otherwise, with the same behaviour either way. Every run is
 * a fresh node (a V8 of its own: nothing compiled in-process carries over), on a temp tree of two CommonJS modules
 * whose functions run only when called (the lazily compiled code the cache is for); then on the real bundle.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.js';
import { repoRoot } from '../helpers/repo.js';

const REPO = repoRoot();
const CODE_CACHE = pathToFileURL(join(REPO, 'bin', 'code-cache.js')).href;

interface Run {
  out: string;
  compiled: number;
  used: number;
  rejected: string[];
  why: Record<string, string | null>;
}

/** A fresh node: install on `dir`, require main.js, print what it returns; `record` writes the caches after. */
async function run(dir: string, opts: { record?: boolean; flags?: readonly string[]; argv?: string[] } = {}): Promise<Run> {
  const driver = `
    const { installCodeCache, writeCaches, readCache } = await import(${JSON.stringify(CODE_CACHE)});
    const { createRequire } = await import('node:module');
    const { readFileSync, readdirSync } = await import('node:fs');
    const dir = ${JSON.stringify(dir)};
    const why = {};
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.js'))) why[f] = readCache(dir + '/' + f, readFileSync(dir + '/' + f, 'utf8')).why;
    const stats = installCodeCache(dir, { record: ${opts.record === true} });
    const out = await createRequire(import.meta.url)(dir + '/main.js').main(${JSON.stringify(opts.argv ?? [])});
    if (${opts.record === true}) writeCaches(stats);
    process.stdout.write(JSON.stringify({ out, compiled: stats.compiled, used: stats.used, rejected: stats.rejected, why }));
  `;
  const r = await execa(process.execPath, [...(opts.flags ?? NODE_FLAGS), '--input-type=module', '-e', driver], { timeout: 60_000, maxBuffer: 1 << 20, killSignal: 'SIGKILL' });
  return JSON.parse(r.stdout) as Run;
}

const MAIN = `'use strict';
const { greet } = require('./util.js');
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
exports.main = async function main(argv) { return greet(argv[0] ?? 'world') + ' ' + fib(15); };
`;
const UTIL = (word: string): string => `'use strict';
exports.greet = function greet(who) { return '${word}, ' + who.toUpperCase(); };
`;

/** `fn` on a copy of `dir` (sources and caches), removed after. */
async function inCopy(dir: string, fn: (copy: string) => Promise<void>): Promise<void> {
  const copy = mkdtempSync(join(tmpdir(), 'cna-code-cache-copy-'));
  try {
    cpSync(dir, copy, { recursive: true });
    await fn(copy);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

describe('bin/code-cache.js on a temp tree', () => {
  let dir: string;
  const file = (f: string): string => join(dir, f);
  const cache = (f: string): string => `${file(f)}.v8cache`;
  let plain: Run;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cna-code-cache-'));
    writeFileSync(file('package.json'), '{ "type": "commonjs" }\n');
    writeFileSync(file('main.js'), MAIN);
    writeFileSync(file('util.js'), UTIL('hello'));
    plain = await run(dir, { argv: ['cache'] });
    await run(dir, { record: true, argv: ['training'] });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('without caches: both files compiled from source', () => {
    expect(plain).toMatchObject({ out: 'hello, CACHE 610', compiled: 2, used: 0, rejected: [] });
    expect(plain.why['main.js']).toMatch(/^no cache \(ENOENT\)/);
  });

  it('record, then a fresh process: both files from their caches (made with the shipped flags), the same answer', async () => {
    expect(existsSync(cache('main.js')) && existsSync(cache('util.js'))).toBe(true);
    const r = await run(dir, { argv: ['cache'] });
    expect(r).toMatchObject({ out: plain.out, compiled: 2, used: 2, rejected: [] });
    expect(r.why).toEqual({ 'main.js': null, 'util.js': null });
  });

  it('caches made in one directory serve a copy in another (the image builds in /src and runs in /app)', async () => {
    await inCopy(dir, async (other) => {
      expect(await run(other, { argv: ['cache'] })).toMatchObject({ out: plain.out, used: 2, rejected: [] });
    });
  });

  it('a directory reached through a symlink (Node names CommonJS files by their real path): its caches are used', async () => {
    const link = join(mkdtempSync(join(tmpdir(), 'cna-code-cache-link-')), 'bundle');
    try {
      symlinkSync(dir, link);
      expect(await run(link, { argv: ['cache'] })).toMatchObject({ out: plain.out, used: 2, rejected: [] });
    } finally {
      rmSync(dirname(link), { recursive: true, force: true });
    }
  });

  it('a source changed to another of the same length: not its cache (V8 alone would take it), the new source runs', async () => {
    await inCopy(dir, async (other) => {
      writeFileSync(join(other, 'util.js'), UTIL('howdy'));
      expect(readFileSync(join(other, 'util.js')).length).toBe(readFileSync(file('util.js')).length);
      const r = await run(other, { argv: ['cache'] });
      expect(r).toMatchObject({ out: 'howdy, CACHE 610', compiled: 2, used: 1, rejected: [] });
      expect(r.why['util.js']).toBe('made from another source');
      // Why the byte comparison: V8 checks only the source's length and accepts the old data for the new source.
      const probe = `
        const vm = require('node:vm');
        const { readFileSync } = require('node:fs');
        const buf = readFileSync(${JSON.stringify(cache('util.js'))});
        const head = 14 + 4 + 32, len = buf.readUInt32LE(14);
        const s = new vm.Script(require('node:module').wrap(readFileSync(${JSON.stringify(join(other, 'util.js'))}, 'utf8')), { cachedData: buf.subarray(head + len) });
        process.stdout.write(String(s.cachedDataRejected));
      `;
      expect((await execa(process.execPath, [...NODE_FLAGS, '-e', probe], { timeout: 30_000 })).stdout).toBe('false');
    });
  });

  it('damaged, truncated or foreign cache files: compiled from source, the same answer', async () => {
    await inCopy(dir, async (other) => {
      const damaged = readFileSync(join(other, 'util.js.v8cache'));
      const at = damaged.length - 40; // a byte of V8's data, past its header
      damaged[at] = damaged[at]! ^ 0xff;
      writeFileSync(join(other, 'util.js.v8cache'), damaged);
      const whole = readFileSync(join(other, 'main.js.v8cache'));
      writeFileSync(join(other, 'main.js.v8cache'), whole.subarray(0, 80));
      const r = await run(other, { argv: ['cache'] });
      expect(r).toMatchObject({ out: plain.out, compiled: 2, used: 0, rejected: [] });
      expect(r.why).toEqual({ 'main.js': 'truncated', 'util.js': 'damaged (digest mismatch)' });
      writeFileSync(join(other, 'main.js.v8cache'), 'not a cache at all');
      expect((await run(other, { argv: ['cache'] })).why['main.js']).toBe('not a cache file');
    });
  });

  it('node started without the shipped flags: V8 rejects the caches, compiled from source, the same answer', async () => {
    const r = await run(dir, { flags: [], argv: ['cache'] });
    expect(r).toMatchObject({ out: plain.out, compiled: 2, used: 0, rejected: ['main.js', 'util.js'] });
  });

  it('files outside the directory are left to Node', async () => {
    const other = mkdtempSync(join(tmpdir(), 'cna-code-cache-sub-'));
    try {
      mkdirSync(join(other, 'lib'));
      writeFileSync(join(other, 'package.json'), '{ "type": "commonjs" }\n');
      writeFileSync(join(other, 'main.js'), MAIN.replace("'./util.js'", "'./lib/util.js'"));
      copyFileSync(file('util.js'), join(other, 'lib', 'util.js'));
      copyFileSync(cache('util.js'), join(other, 'lib', 'util.js.v8cache'));
      expect(await run(other, { argv: ['cache'] })).toMatchObject({ out: plain.out, compiled: 1, used: 0 });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('the built bundle (npm run build: scripts/code-cache.mjs)', () => {
  const BUNDLE = join(REPO, 'dist', 'bundle');

  it('has a cache beside the chunks `inspect` loads, and `--help` runs from them with the shipped flags', async () => {
    if (!existsSync(join(BUNDLE, 'cli.js'))) throw new Error('dist/bundle missing: run `npm run build` first');
    const caches = readdirSync(BUNDLE).filter((f) => f.endsWith('.js.v8cache'));
    expect(caches).toContain('cli.js.v8cache');
    for (const prefix of ['inspect-', 'read-', 'cri-runtime-', 'thread-cpu-']) expect(caches.some((f) => f.startsWith(prefix)), prefix).toBe(true);
    const driver = `
      const { installCodeCache } = await import(${JSON.stringify(CODE_CACHE)});
      const { createRequire } = await import('node:module');
      const stats = installCodeCache(${JSON.stringify(BUNDLE)});
      const write = process.stdout.write.bind(process.stdout);
      let help = '';
      process.stdout.write = (t) => { help += t; return true; };
      const code = await createRequire(import.meta.url)(${JSON.stringify(join(BUNDLE, 'cli.js'))}).main(['--help']);
      process.stdout.write = write;
      write(JSON.stringify({ code, help: help.includes('inspect'), compiled: stats.compiled, used: stats.used, rejected: stats.rejected }));
    `;
    const r = await execa(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', driver], { timeout: 60_000, maxBuffer: 1 << 20 });
    const s = JSON.parse(r.stdout) as { code: number; help: boolean; compiled: number; used: number; rejected: string[] };
    expect(s).toMatchObject({ code: 0, help: true, rejected: [] });
    expect(s.compiled).toBeGreaterThan(2);
    expect(s.used).toBe(s.compiled);
  });

  it('V8 takes every cache written, in a fresh node with the shipped flags (none was written after a flag change)', async () => {
    const r = await execa(process.execPath, [...NODE_FLAGS, join(REPO, 'scripts', 'code-cache.mjs'), '--verify'], { timeout: 60_000, maxBuffer: 1 << 20 });
    expect(JSON.parse(r.stdout)).toEqual([]);
    const noFlags = await execa(process.execPath, [join(REPO, 'scripts', 'code-cache.mjs'), '--verify'], { timeout: 60_000, maxBuffer: 1 << 20 });
    const rejected = JSON.parse(noFlags.stdout) as [string, string][];
    expect(rejected.length).toBe(readdirSync(BUNDLE).filter((f) => f.endsWith('.js.v8cache')).length);
    expect(new Set(rejected.map(([, why]) => why))).toEqual(new Set(['rejected by V8']));
  });
});
