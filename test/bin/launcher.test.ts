/**
 * The launcher and the CLI bundle (rolldown.config.mjs):
 * - bin/chaos-node-agent.js runs dist/bundle/cli.js (CommonJS) when it is at least as new as dist/agent/cli.js, else
 *   dist/agent/cli.js (a tsc run without the bundle step never leaves it on stale code), on a copy of the launcher
 *   in a temp tree with stand-in entries;
 * - the config, built into a temp dir from this checkout's dist/ (npm run build): its entries side by side (the
 *   worker pool finds thread-main.js next to itself), CommonJS with its package.json and no import() left (the
 *   launcher compiles it with vm.Script: bin/code-cache.js), only node: builtins and production dependencies
 *   required, the commands still in their own chunks, and the bundled CLI answers `--help` and keeps error class
 *   names.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RolldownOptions } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/repo.js';

const REPO = repoRoot();

describe('bin/chaos-node-agent.js picks its entry', () => {
  let dir: string;
  const body = (which: string): string => `async function run(argv) { process.stdout.write('${which} ' + argv.join(' ')); process.exitCode = 3; }`;
  const stand = (which: string): string => `export ${body(which)}\n`;
  const standCjs = (which: string): string => `${body(which)}\nexports.run = run;\n`;
  const run = (): { out: string; code: number } => {
    try {
      return { out: execFileSync(process.execPath, [join(dir, 'bin', 'chaos-node-agent.js'), 'pods', '-o', 'wide'], { encoding: 'utf8', timeout: 20_000 }), code: 0 };
    } catch (err) {
      const e = err as { stdout: string; status: number };
      return { out: e.stdout, code: e.status };
    }
  };
  const setTimes = (rel: string, s: number): void => utimesSync(join(dir, rel), s, s);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cna-launch-'));
    for (const d of ['bin', 'dist/agent', 'dist/bundle']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ['chaos-node-agent.js', 'code-cache.js']) copyFileSync(join(REPO, 'bin', f), join(dir, 'bin', f));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'dist/agent/cli.js'), stand('agent'));
    writeFileSync(join(dir, 'dist/bundle/package.json'), '{ "type": "commonjs" }\n');
    writeFileSync(join(dir, 'dist/bundle/cli.js'), standCjs('bundle'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the bundle when it is newer or as new; its exit code and arguments pass through', () => {
    setTimes('dist/agent/cli.js', 1_000_000);
    setTimes('dist/bundle/cli.js', 1_000_010);
    expect(run()).toEqual({ out: 'bundle pods -o wide', code: 3 });
    setTimes('dist/bundle/cli.js', 1_000_000);
    expect(run().out).toBe('bundle pods -o wide');
  });

  it('tsc output newer than the bundle (a build without the bundle step): dist/agent', () => {
    setTimes('dist/agent/cli.js', 1_000_020);
    expect(run().out).toBe('agent pods -o wide');
  });

  it('no bundle: dist/agent', () => {
    rmSync(join(dir, 'dist/bundle/cli.js'));
    expect(run().out).toBe('agent pods -o wide');
  });
});

describe('rolldown.config.mjs on this checkout\'s dist/', () => {
  let out: string;
  let files: string[];
  beforeAll(async () => {
    if (!existsSync(join(REPO, 'dist/agent/cli.js'))) throw new Error('dist/ missing: run `npm run build` first');
    out = mkdtempSync(join(tmpdir(), 'cna-bundle-'));
    const config = (await import(pathToFileURL(join(REPO, 'rolldown.config.mjs')).href)).default as RolldownOptions & { output: object };
    const { build } = await import('rolldown');
    await build({ ...config, cwd: REPO, logLevel: 'silent', output: { ...config.output, dir: out } });
    files = readdirSync(out).filter((f) => f.endsWith('.js'));
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('cli.js, thread-main.js and root-worker.js side by side with their chunks; commands, runtime clients and readers in chunks of their own', () => {
    expect(files).toEqual(expect.arrayContaining(['cli.js', 'thread-main.js', 'root-worker.js']));
    const cli = readFileSync(join(out, 'cli.js'), 'utf8');
    // Lazy: the commands and the protocol clients are dynamic imports of other chunks, not code in cli.js.
    expect(cli).not.toContain('class GrpcChannel');
    expect(cli).not.toContain('class NetlinkPool');
    expect(cli).toMatch(/\(\) => require\("\.\/inspect-[\w-]+\.js"\)/);
    expect(files.some((f) => /^pool-[\w-]+\.js$/.test(f) && readFileSync(join(out, f), 'utf8').includes('"./thread-main.js"'))).toBe(true);
  });

  it('CommonJS beside its package.json, with no import() left (vm.Script code cannot run one without a flag)', () => {
    expect(JSON.parse(readFileSync(join(out, 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    for (const f of files) {
      const code = readFileSync(join(out, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(code, f).not.toMatch(/\bimport\s*\(/);
      expect(code, f).not.toMatch(/^(?:import|export)\b/m);
    }
  });

  it('imports only node: builtins and production dependencies (npm packages stay external)', () => {
    const deps = Object.keys((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const bare = new Set<string>();
    for (const f of files) {
      const text = readFileSync(join(out, f), 'utf8');
      // Static imports (statements at a line start), dynamic imports, createRequire's require.
      const specs = [...text.matchAll(/^(?:import|export)\b[^;\n]*?["']([^"'\s]+)["'];?$/gm), ...text.matchAll(/\b(?:import|require)\(\s*["']([^"'\s]+)["']\s*\)/g)];
      for (const m of specs) if (!m[1]!.startsWith('.')) bare.add(m[1]!);
    }
    expect(bare.size).toBeGreaterThan(3);
    for (const b of bare) {
      const pkg = b.startsWith('@') ? b.split('/').slice(0, 2).join('/') : b.split('/')[0]!;
      // rolldown's CommonJS shim of import.meta.url requires "url" (a builtin without the node: prefix).
      expect(b.startsWith('node:') || builtinModules.includes(b) || deps.includes(pkg), b).toBe(true);
    }
  });

  it('the bundled CLI runs: --help on stdout, and a usage error keeps its class name', () => {
    const entry = pathToFileURL(join(out, 'cli.js')).href;
    const help = execFileSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(entry)}); process.exitCode = await main(['--help']);`], { encoding: 'utf8', timeout: 30_000 });
    expect(help).toContain('serve');
    expect(help).toContain('inspect');
    const names = execFileSync(process.execPath, ['--input-type=module', '-e', `
      const dir = ${JSON.stringify(out)};
      const { readdirSync } = await import('node:fs');
      const f = readdirSync(dir).find((x) => /^errors-[\\w-]+\\.js$/.test(x));
      const m = await import(dir + '/' + f);
      const classes = Object.values(m).filter((v) => typeof v === 'function' && /Error$/.test(v.name));
      process.stdout.write(JSON.stringify(classes.map((C) => [C.name, new C('X', 'y').name]).filter(([a, b]) => a !== b)) + ' ' + classes.length);
    `], { encoding: 'utf8', timeout: 30_000 });
    expect(names).toMatch(/^\[\] [1-9]\d*$/);
  });
});
