// V8 code cache for the CLI bundle (dist/bundle/, CommonJS: rolldown.config.mjs). Node 20 compiles every module
// from source on every start (module.enableCompileCache is Node 22); `inspect NS/POD` compiles ~570 kB of the
// bundle, and the functions it runs, each on first call. Here the bundle's files are compiled with vm.Script and
// the bytecode V8 kept from a training run (scripts/code-cache.mjs, at build/image time: the cache is read-only at
// run time, so a read-only root filesystem changes nothing).
//
// When is a cache used? A cache file holds the exact source it was made from; it is used only for a file whose
// source is byte-identical to it (a rebuilt or edited chunk never gets another file's bytecode), and V8 itself
// rejects it unless its own version, its flags (bin/node-flags.js: the cache is made with them) and the source
// length match. Anything else (no cache file, unreadable, wrong magic, other source, damaged data, V8's rejection)
// compiles the source as Node would. V8 only checks the source's length, hence the byte comparison.
//
// Cache file `<name>.js.v8cache` beside `<name>.js`: MAGIC, source length in bytes (uint32 LE), SHA-256 of V8's
// data, the source (UTF-8), V8's data. The digest: V8 release builds do not checksum the data, and damaged bytecode
// that passed its header checks would run.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, sep } from 'node:path';
import vm from 'node:vm';

const require = createRequire(import.meta.url);
const Module = require('node:module');

export const CACHE_SUFFIX = '.v8cache';
const MAGIC = Buffer.from('cna-v8cache-2\n');
const DIGEST_BYTES = 32;
const digest = (data) => createHash('sha256').update(data).digest();

/** The cached data of `file`'s cache when it was made from exactly `source` and is intact, else null and why. */
export function readCache(file, source) {
  let buf;
  try {
    buf = readFileSync(file + CACHE_SUFFIX);
  } catch (err) {
    return { data: null, why: `no cache (${err.code ?? err.message})` };
  }
  const head = MAGIC.length + 4 + DIGEST_BYTES;
  if (buf.length < head || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return { data: null, why: 'not a cache file' };
  const len = buf.readUInt32LE(MAGIC.length);
  if (buf.length < head + len) return { data: null, why: 'truncated' };
  if (buf.toString('utf8', head, head + len) !== source) return { data: null, why: 'made from another source' };
  const data = buf.subarray(head + len);
  // V8 checks its version, flags and the source length, but (release builds) not the bytes of the data.
  if (!digest(data).equals(buf.subarray(MAGIC.length + 4, head))) return { data: null, why: 'damaged (digest mismatch)' };
  return { data, why: null };
}


function cacheFile(source, data) {
  const src = Buffer.from(source, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(src.length);
  return Buffer.concat([MAGIC, len, digest(data), src, data]);
}

/**
 * Compile the CommonJS files directly in `dir` through vm.Script with their caches; `record`: keep the scripts so
 * that writeCaches() can save what V8 compiled by then. Returns stats: files compiled, caches used, rejected.
 */
export function installCodeCache(dir, { record = false } = {}) {
  // Node names CommonJS files by their real path: a symlinked dist/ still gets its caches.
  const real = realpathSync(dir);
  const root = real.endsWith(sep) ? real : real + sep;
  const stats = { compiled: 0, used: 0, rejected: [], recorded: [] };
  const original = Module.prototype._compile;
  Module.prototype._compile = function compile(content, filename, ...rest) {
    if (dirname(filename) + sep !== root || !filename.endsWith('.js')) return original.call(this, content, filename, ...rest);
    const cached = record ? null : readCache(filename, content).data;
    // No importModuleDynamically: import() in vm.Script code needs --experimental-vm-modules, so the bundle has none
    // (rolldown.config.mjs: dynamicImportInCjs false).
    const script = new vm.Script(Module.wrap(content), { filename, ...(cached ? { cachedData: cached } : {}) });
    stats.compiled++;
    if (cached) {
      if (script.cachedDataRejected) stats.rejected.push(basename(filename));
      else stats.used++;
    }
    if (record) stats.recorded.push({ filename, content, script });
    const fn = script.runInThisContext({ displayErrors: true });
    return fn.call(this.exports, this.exports, Module.createRequire(filename), this, filename, dirname(filename));
  };
  return stats;
}

/** Write a cache beside every file compiled in record mode; returns [name, bytes] per file. */
export function writeCaches(stats) {
  return stats.recorded.map(({ filename, content, script }) => {
    const buf = cacheFile(content, script.createCachedData());
    writeFileSync(filename + CACHE_SUFFIX, buf);
    return [basename(filename), buf.length];
  });
}

