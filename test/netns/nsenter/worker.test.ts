/**
 * The netns worker on its own: request encoding (pure), and a real worker process given raw request lines, to show
 * that request fields only ever reach nsenter / the read script as arguments, and that a malformed line ends the
 * worker (which fails that request only).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../agent/errors.js';
import { READ_SCRIPT } from '../../../agent/netns/nsenter/read-script.js';
import { NetnsWorker } from '../../../agent/netns/nsenter/worker.js';
import { encodeRequest, wireSeconds } from '../../../agent/netns/nsenter/worker-script.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, pidsInNetns, type TestNetns } from '../../helpers/netns.js';

const B = '0123456789abcdef0123456789abcdef';

describe('encodeRequest', () => {
  it('encodes one TAB-separated line', () => {
    expect(encodeRequest({ boundary: B, timeoutMs: 5000, graceMs: 1000, netnsPath: '/proc/42/ns/net', steps: ['nft', 'tc-auto'] }))
      .toBe(`${B}\t5.000\t1.000\t/proc/42/ns/net\tnft\ttc-auto\n`);
    expect(wireSeconds(0)).toBe('0.001');
    expect(wireSeconds(1234.5)).toBe('1.235');
  });

  it('refuses anything that could split or extend the line, and unknown steps', () => {
    const ok = { boundary: B, timeoutMs: 5000, graceMs: 1000, netnsPath: '/proc/42/ns/net', steps: ['ipset'] };
    for (const bad of [
      { netnsPath: '/proc/42/ns/net\tlegacy4' },
      { netnsPath: '/proc/42/ns/net\nabc' },
      { netnsPath: '/x\r' },
      { netnsPath: '/x\0' },
      { netnsPath: 'relative' },
      { boundary: 'ABCDEF0123456789' },
      { boundary: `${B}\t` },
      { boundary: 'abc' },
      { steps: [] },
      { steps: ['ipset\tlegacy4'] },
      { steps: ['$(id)'] },
      { timeoutMs: -1 },
      { timeoutMs: Number.NaN },
    ]) {
      expect(() => encodeRequest({ ...ok, ...bad })).toThrow(ValidationError);
    }
  });
});

describeIntegration('a netns worker given raw request lines', { root: true, commands: ['nsenter', 'ip', 'timeout'] }, () => {
  let ns: TestNetns;
  let dir: string;
  const workers: NetnsWorker[] = [];
  const worker = (): NetnsWorker => {
    const w = new NetnsWorker({ shell: '/bin/bash', nsenterPath: 'nsenter', readScript: READ_SCRIPT, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }, closeGraceMs: 1000 });
    workers.push(w);
    return w;
  };
  const job = (line: string) => ({ line, boundary: B, watchdogMs: 5000, maxBytes: 1 << 20 });

  beforeAll(async () => {
    dir = await mkdtemp('/tmp/h11-worker-');
    ns = await createNetns('h11w');
    await ns.startHolder();
  });
  afterAll(async () => {
    for (const w of workers) w.kill();
    await destroyAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('shell syntax in the path and step fields is passed as data, never run', async () => {
    const w = worker();
    const pwned = `${dir}/pwned`;
    const path = `/tmp/h11-x$(touch ${pwned});touch ${pwned}2\`touch ${pwned}3\``;
    const r = await w.request(job(`${B}\t5.000\t1.000\t${path}\tipset\n`));
    expect([r.failure, r.status]).toEqual([null, 1]);
    expect(r.stderr).toBe(`nsenter: cannot open ${path}: No such file or directory\n`);
    expect(r.stdout).toBe('');
    // A hostile step reaches the read script as an argument; its `case` refuses it.
    const r2 = await w.request(job(`${B}\t5.000\t1.000\t${ns.path}\t$(touch ${pwned})\n`));
    expect([r2.failure, r2.status, r2.stderr]).toEqual([null, 2, 'read-script: unknown step\n']);
    expect([existsSync(pwned), existsSync(`${pwned}2`), existsSync(`${pwned}3`)]).toEqual([false, false, false]);
    // Still the same worker, still serving.
    const r3 = await w.request(job(`${B}\t5.000\t1.000\t${ns.path}\tiprule4\n`));
    expect([r3.failure, r3.status]).toEqual([null, 0]);
    expect(r3.stdout).toMatch(new RegExp(`^\\n${B} begin ip-rule [0-9.]+\\n0:\\tfrom all lookup local\\n`));
    expect(r3.groupPid).toBeGreaterThan(1);
  });

  it('a shell that cannot be started fails the request with "spawn"', async () => {
    const w = new NetnsWorker({ shell: '/nonexistent/bash', nsenterPath: 'nsenter', readScript: READ_SCRIPT, env: { PATH: '/usr/bin:/bin' }, closeGraceMs: 1000 });
    workers.push(w);
    const r = await w.request(job(`${B}\t5.000\t1.000\t${ns.path}\tipset\n`));
    expect([r.failure, r.status, (r.spawnError as NodeJS.ErrnoException | null)?.code]).toEqual(['spawn', null, 'ENOENT']);
    expect(w.usable).toBe(false);
  });

  it('a malformed request ends the worker: that request fails with "died", nothing else is touched', async () => {
    const w = worker();
    const pid = w.pid;
    const r = await w.request(job(`${B}\tsoon\t1.000\t${ns.path}\tipset\n`));
    expect([r.failure, r.status, r.workerExit, r.stderr]).toEqual(['died', null, { code: 3, signal: null }, 'netns-worker: malformed request\n']);
    expect(w.usable).toBe(false);
    expect(pid).toBeUndefined(); // started lazily by the request
    expect(await pidsInNetns(ns.path)).toHaveLength(1);
  });
});
