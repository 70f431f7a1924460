/**
 * TokenFile: the /debug/* bearer token read from a file and re-read when it changes, on real files, including the
 * layout a Kubernetes Secret volume uses (token -> ..data/token, ..data -> ..<timestamp>; an update writes a new
 * timestamped directory and renames a new ..data symlink over the old one).
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseToken, TokenFile } from '../../agent/server/auth.js';

/** A logger whose lines are kept, to assert what was logged. */
function recordingLogger(): { log: pino.Logger; lines: () => { level: number; msg: string; problem?: string }[] } {
  const out: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string; problem?: string }) };
}

/** The Secret volume layout, as the kubelet's atomic writer makes it. */
class SecretVolume {
  private generation = 0;
  constructor(readonly dir: string) {}
  get path(): string {
    return join(this.dir, 'token');
  }
  async write(token: string): Promise<void> {
    this.generation += 1;
    const ts = join(this.dir, `..2026_01_01_00_00_0${this.generation}.000`);
    await mkdir(ts);
    await writeFile(join(ts, 'token'), token);
    await symlink(ts.slice(this.dir.length + 1), join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.generation === 1) await symlink('..data/token', this.path);
  }
}

const auth = (t: string) => `Bearer ${t}`;

describe('TokenFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-auth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts exactly the token (trailing newline ignored), rejects others and malformed headers', async () => {
    const file = join(dir, 'plain');
    await writeFile(file, 's3cret\n');
    const t = new TokenFile(file, { log: recordingLogger().log });
    expect(await t.check(auth('s3cret'))).toBe(true);
    expect(await t.check('bearer   s3cret ')).toBe(true);
    for (const h of [undefined, '', 'Bearer', 'Bearer ', auth('s3cre'), auth('s3cret2'), 'Basic czNjcmV0', 's3cret', 'Bearer s3cret x']) {
      expect(await t.check(h), String(h)).toBe(false);
    }
  });

  it('follows a Secret volume update (symlink swap) within the recheck interval, and drops the old token', async () => {
    const vol = new SecretVolume(await mkdtemp(join(dir, 'secret-')));
    await vol.write('first-token');
    const { log, lines } = recordingLogger();
    // A clock the test moves: however slowly a loaded machine runs the steps, "within" and "after" the interval
    // are exactly that.
    let now = 0;
    const t = new TokenFile(vol.path, { log, recheckMs: 200, now: () => now });
    expect(await t.check(auth('first-token'))).toBe(true);
    await vol.write('second-token');
    // Within the recheck interval the old token still holds (no stat per request).
    now = 199;
    expect(await t.check(auth('first-token'))).toBe(true);
    now = 200;
    expect(await t.check(auth('second-token'))).toBe(true);
    expect(await t.check(auth('first-token'))).toBe(false);
    expect(lines().map((l) => l.msg)).toEqual(['debug token loaded']);
  });

  it('locks while the file is missing, empty or holds whitespace, logs each problem once, and recovers', async () => {
    const file = join(dir, 'flaky');
    const { log, lines } = recordingLogger();
    const t = new TokenFile(file, { log, recheckMs: 0 });
    await t.refresh();
    expect([t.loaded, t.lockedBecause]).toEqual([false, `cannot stat ${file}: ENOENT`]);
    expect(await t.check(auth(''))).toBe(false);
    expect(await t.check('Bearer ')).toBe(false);
    await writeFile(file, '  \n');
    expect(await t.check(auth('x'))).toBe(false);
    expect(t.lockedBecause).toBe(`${file}: the file is empty`);
    await writeFile(file, 'two words');
    expect(await t.check(auth('two'))).toBe(false);
    await writeFile(file, 'ok-token');
    expect(await t.check(auth('ok-token'))).toBe(true);
    await rm(file);
    expect(await t.check(auth('ok-token'))).toBe(false);
    await t.refresh();
    expect(lines().map((l) => [l.msg, l.problem ?? ''])).toEqual([
      ['/debug/* locked: no usable token', `cannot stat ${file}: ENOENT`],
      ['/debug/* locked: no usable token', `${file}: the file is empty`],
      ['/debug/* locked: no usable token', `${file}: the token contains whitespace`],
      ['debug token loaded', ''],
      ['/debug/* locked: no usable token', `cannot stat ${file}: ENOENT`],
    ]);
  });

  it('refuses a directory and reads at most a few KiB of a huge file', async () => {
    const t = new TokenFile(dir, { log: recordingLogger().log });
    await t.refresh();
    expect(t.lockedBecause).toBe(`${dir} is not a regular file`);
    const big = join(dir, 'big');
    await writeFile(big, 'a'.repeat(10 << 20));
    const b = new TokenFile(big, { log: recordingLogger().log });
    await b.refresh();
    expect(b.lockedBecause).toBe(`${big}: the token is longer than 4096 bytes`);
  });

  it('parseToken states each problem', () => {
    expect(parseToken(' abc \n')).toEqual({ token: 'abc' });
    expect(parseToken('')).toEqual({ problem: 'the file is empty' });
    expect(parseToken('a\tb')).toEqual({ problem: 'the token contains whitespace' });
    expect(parseToken('x'.repeat(4097))).toEqual({ problem: 'the token is longer than 4096 bytes' });
  });
});
