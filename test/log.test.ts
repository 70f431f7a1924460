/**
 * agent/log.ts: the logger compares levels itself and loads pino only at the first line it must write (a one-shot
 * command at `warn` that logs nothing never loads it); what it writes is pino's own JSON line on stderr.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger, type Logger } from '../agent/log.js';

function recorder(): { make: (level: string) => Logger; made: string[]; lines: [string, unknown[]][] } {
  const made: string[] = [];
  const lines: [string, unknown[]][] = [];
  const make = (level: string): Logger => {
    made.push(level);
    const at = (name: string) => (...args: unknown[]): void => void lines.push([name, args]);
    return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') } as unknown as Logger;
  };
  return { make, made, lines };
}

describe('createLogger', () => {
  it('below the level: nothing is made or written; at or above: the real logger is made once, at that level, and gets every call', () => {
    const r = recorder();
    const log = createLogger('warn', r.make);
    log.trace('t');
    log.debug({ a: 1 }, 'd');
    log.info('i');
    expect(r.made).toEqual([]);
    log.warn({ pod: 'x' }, 'w');
    log.error('e %d', 3);
    log.info('still dropped');
    log.fatal('f');
    expect(r.made).toEqual(['warn']);
    expect(r.lines).toEqual([['warn', [{ pod: 'x' }, 'w']], ['error', ['e %d', 3]], ['fatal', ['f']]]);
  });

  it('silent drops everything; info is the default level', () => {
    const r = recorder();
    const s = createLogger('silent', r.make);
    s.fatal('x');
    expect(r.made).toEqual([]);
    const d = createLogger(undefined, r.make);
    d.debug('no');
    d.info('yes');
    expect(r.made).toEqual(['info']);
    expect(r.lines).toEqual([['info', ['yes']]]);
    silentLogger().error('nothing');
  });

  it('the real thing (dist/): pino is not loaded until a line is written, then the line is pino\'s JSON on stderr', () => {
    const dist = new URL('../dist/agent/log.js', import.meta.url);
    if (!existsSync(dist)) throw new Error('dist/ missing: run `npm run build` first');
    const script = `
      import { createRequire } from 'node:module';
      const { createLogger } = await import(${JSON.stringify(dist.href)});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/pino/'));
      const log = createLogger('warn');
      log.info('dropped');
      process.stdout.write(String(loaded()));
      log.warn({ pod: 'shop/web', n: 2 }, 'hello %s', 'world');
      process.stdout.write(' ' + String(loaded()));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('false true');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toEqual({ level: 'warn', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), app: 'chaos-node-agent', pod: 'shop/web', n: 2, msg: 'hello world' });
  });
});
