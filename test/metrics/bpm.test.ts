import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countDescendants, parseProcStat, scanBpm, scanProcesses } from '../../agent/metrics/bpm.js';
import { ParseError } from '../../agent/errors.js';

describe('bpm pure parts', () => {
  it('parses /proc/<pid>/stat with spaces and parentheses in comm', () => {
    expect(parseProcStat('42 (chaos-daemon) S 1 42 42 0 -1 4194560 ...')).toEqual({ pid: 42, ppid: 1, comm: 'chaos-daemon' });
    expect(parseProcStat('7 (a (b) c) R 3 7 7 0')).toEqual({ pid: 7, ppid: 3, comm: 'a (b) c' });
    expect(() => parseProcStat('garbage')).toThrow(ParseError);
  });

  it('counts every descendant of every chaos-daemon, once, by command', () => {
    const procs = [
      { pid: 1, ppid: 0, comm: 'init' },
      { pid: 10, ppid: 1, comm: 'chaos-daemon' },
      { pid: 11, ppid: 10, comm: 'toda' },
      { pid: 12, ppid: 11, comm: 'sh' },
      { pid: 13, ppid: 10, comm: 'stress-ng' },
      { pid: 14, ppid: 13, comm: 'stress-ng' },
      { pid: 20, ppid: 1, comm: 'containerd' },
      { pid: 21, ppid: 20, comm: 'toda' },
      { pid: 30, ppid: 12, comm: 'chaos-daemon' }, // nested root: counted once, as a descendant
      { pid: 31, ppid: 30, comm: 'tproxy' },
    ];
    const scan = countDescendants(procs);
    expect(scan.roots).toEqual([10, 30]);
    expect(scan.descendants.map((d) => d.pid).sort((a, b) => a - b)).toEqual([11, 12, 13, 14, 30, 31]);
    expect([...scan.byCommand].sort()).toEqual([['chaos-daemon', 1], ['sh', 1], ['stress-ng', 2], ['toda', 1], ['tproxy', 1]]);
    expect(countDescendants(procs.filter((p) => p.comm !== 'chaos-daemon')).descendants).toEqual([]);
  });
});

describe('bpm scan of the real /proc', () => {
  let dir: string;
  let root: ChildProcess | undefined;
  let pidFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-bpm-'));
    // A script's comm is its file name: this process is "chaos-daemon", with two sleeping children.
    const script = join(dir, 'chaos-daemon');
    pidFile = join(dir, 'children');
    await writeFile(script, `#!/bin/sh\nsleep 30 & echo $! > "$1"\nsleep 30 & echo $! >> "$1"\nwait\n`);
    await chmod(script, 0o755);
    root = spawn(script, [pidFile], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const t = await readFile(pidFile, 'utf8').catch(() => '');
      if (t.trim().split('\n').length === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  afterAll(async () => {
    const kids = (await readFile(pidFile, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map(Number);
    for (const pid of kids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    root?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the chaos-daemon process and exactly its two sleep children', async () => {
    const kids = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number);
    const { procs } = await scanProcesses('/proc');
    const mine = countDescendants(procs.filter((p) => p.pid === root!.pid || kids.includes(p.pid)));
    expect(mine.roots).toEqual([root!.pid]);
    expect(mine.descendants.map((d) => d.pid).sort()).toEqual([...kids].sort());
    expect([...mine.byCommand]).toEqual([['sleep', 2]]);
    // The whole-node scan sees them too (other chaos-daemons on this machine may add more).
    const all = await scanBpm('/proc');
    expect(all.roots).toContain(root!.pid);
    expect(all.byCommand.get('sleep')).toBeGreaterThanOrEqual(2);
  });

  it('stops when aborted and fails on a missing proc root', async () => {
    await expect(scanProcesses('/proc', { signal: AbortSignal.abort() })).rejects.toThrow();
    await expect(scanBpm(join(dir, 'nope'))).rejects.toThrow(/ENOENT/);
  });
});
