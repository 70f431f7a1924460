/**
 * KeptProcFiles (agent/proc/kept-files.ts) on this machine's real /proc, through scanProc as the proc collector runs
 * it: a kept stat or cgroup file reads what a fresh open would (a comm, a state and a cgroup changed between scans
 * are seen through the SAME fd); a process that exits is gone from the next scan and its files are closed; a file of
 * a reaped process never yields data, even once its PID number belongs to a new process (a fresh pid namespace where
 * ns_last_pid hands the number out again); the cap; a stand-in directory keeps nothing; close().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmdirSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { KeptProcFiles, keptFilesCap, MAX_KEPT_FILES } from '../../agent/proc/kept-files.js';
import { scanProc, type ScanOptions } from '../../agent/proc/scan.js';
import { ownFds } from '../helpers/procs.js';

const dir = mkdtempSync(join(tmpdir(), 'cna-kept-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** This process's fds open on `path`. */
const fdsOn = (path: string): number[] => ownFds().filter((f) => f.target === path).map((f) => f.fd);

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A child running `file` (its comm is the file's name), killed after the tests. */
function child(file: string, args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): ChildProcess {
  const c = spawn(file, args, { stdio: [stdin, 'ignore', 'ignore'] });
  children.push(c);
  return c;
}

const exited = (c: ChildProcess): Promise<void> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** The state letter of /proc/<pid>/stat read by path. */
const stateByPath = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, '')[0]!;

const opts = (kept: KeptProcFiles, extra: Partial<ScanOptions> = {}): ScanOptions => ({ procRoot: '/proc', budgetMs: 30_000, kept, ...extra });

describe('kept /proc files', () => {
  it('sees a changed comm and state through the same kept stat file, as a fresh read does', async () => {
    // bash renames itself (its own /proc/<pid>/comm) when told to on stdin.
    const c = child('bash', ['-c', 'read x; printf cnarenamed > /proc/$$/comm; read x'], 'pipe');
    const pid = c.pid!;
    await until('bash to wait on stdin', () => stateByPath(pid) === 'S');
    const kept = new KeptProcFiles();
    const s1 = await scanProc(opts(kept));
    expect(s1.processes.get(pid)).toMatchObject({ comm: 'bash', state: 'S' });
    const fds = fdsOn(`/proc/${pid}/stat`);
    expect(fds).toHaveLength(1);

    c.stdin!.write('\n');
    await until('the rename', () => readFileSync(`/proc/${pid}/comm`, 'latin1') === 'cnarenamed\n' && stateByPath(pid) === 'S');
    const s2 = await scanProc(opts(kept, { previous: s1 }));
    expect(s2.processes.get(pid)).toMatchObject({ comm: 'cnarenamed', state: 'S', startTicks: s1.processes.get(pid)!.startTicks });
    expect(fdsOn(`/proc/${pid}/stat`)).toEqual(fds); // read through the kept file, not opened again

    process.kill(pid, 'SIGSTOP');
    await until('the stop', () => stateByPath(pid) === 'T');
    const s3 = await scanProc(opts(kept, { previous: s2 }));
    expect(s3.processes.get(pid)).toMatchObject({ comm: 'cnarenamed', state: 'T' });
    expect(fdsOn(`/proc/${pid}/stat`)).toEqual(fds);
    // The same as a scan that opens every file afresh.
    expect((await scanProc({ procRoot: '/proc', budgetMs: 30_000 })).processes.get(pid)).toEqual(s3.processes.get(pid));
    process.kill(pid, 'SIGCONT');
    kept.close();
  });

  it('drops a process that exits and closes its file at the end of the next scan', async () => {
    const c = child('sleep', ['60']);
    const pid = c.pid!;
    const kept = new KeptProcFiles();
    const s1 = await scanProc(opts(kept));
    expect(s1.processes.get(pid)).toMatchObject({ comm: 'sleep' });
    expect(fdsOn(`/proc/${pid}/stat`)).toHaveLength(1);
    const size = kept.size;
    c.kill('SIGKILL');
    await exited(c); // reaped
    const s2 = await scanProc(opts(kept, { previous: s1 }));
    expect(s2.processes.has(pid)).toBe(false);
    expect(fdsOn(`/proc/${pid}/stat`)).toEqual([]);
    expect(kept.size).toBeLessThan(size + 50); // the others are kept, this one is not (churn of the machine aside)
    kept.close();
    expect(kept.size).toBe(0);
  });

  it('reads a moved process\'s new cgroup through the same kept cgroup file', async () => {
    // A cgroup hierarchy this test may add a cgroup to: v1's pids, else the v2 root.
    const CGROUP_V1 = 0x27e0eb;
    const CGROUP_V2 = 0x63677270;
    const root = existsSync('/sys/fs/cgroup/pids') && statfsSync('/sys/fs/cgroup/pids').type === CGROUP_V1 ? '/sys/fs/cgroup/pids'
      : statfsSync('/sys/fs/cgroup').type === CGROUP_V2 ? '/sys/fs/cgroup' : null;
    expect(root).not.toBeNull();
    const name = `cna-kept-${process.pid}`;
    // A comm of its own whose details (cgroup included) the scan reads every time (wantDetail), not a pod's.
    symlinkSync('/bin/sleep', join(dir, 'cnakeptcg'));
    const c = child(join(dir, 'cnakeptcg'), ['60']);
    const pid = c.pid!;
    const kept = new KeptProcFiles();
    const wantDetail = (comm: string): boolean => comm === 'cnakeptcg';
    const pathsOf = (s: Awaited<ReturnType<typeof scanProc>>): string[] => s.processes.get(pid)!.cgroups.map((l) => l.path);
    const s1 = await scanProc(opts(kept, { wantDetail }));
    expect(pathsOf(s1)).not.toContain(`/${name}`);
    const fds = fdsOn(`/proc/${pid}/cgroup`);
    expect(fds).toHaveLength(1);
    mkdirSync(join(root!, name));
    try {
      writeFileSync(join(root!, name, 'cgroup.procs'), String(pid));
      const s2 = await scanProc(opts(kept, { wantDetail, previous: s1 }));
      expect(pathsOf(s2)).toContain(`/${name}`);
      expect(s2.processes.get(pid)!.cgroups).toEqual((await scanProc({ procRoot: '/proc', budgetMs: 30_000, wantDetail })).processes.get(pid)!.cgroups);
      expect(fdsOn(`/proc/${pid}/cgroup`)).toEqual(fds);
    } finally {
      c.kill('SIGKILL');
      await exited(c);
      rmdirSync(join(root!, name));
      kept.close();
    }
  });

  it('closes a cgroup file the next scan does not read (a pod process: its details carried over), keeping its stat file', async () => {
    const c = child('sleep', ['60']);
    const pid = c.pid!;
    // Carried over only while pid, start time, comm and state stay the same: a fresh child may still be before its
    // exec or running (R) at the first scan (seen under the suite's load).
    await until('sleep to sleep', () => readFileSync(`/proc/${pid}/comm`, 'latin1') === 'sleep\n' && stateByPath(pid) === 'S');
    const kept = new KeptProcFiles();
    const s1 = await scanProc(opts(kept, { detailPids: [pid] }));
    expect(s1.processes.get(pid)).toMatchObject({ detailed: true });
    expect(fdsOn(`/proc/${pid}/cgroup`)).toHaveLength(1);
    const s2 = await scanProc(opts(kept, { detailPids: [pid], previous: s1 }));
    expect(s2.processes.get(pid)).toBe(s1.processes.get(pid)); // carried over: the cgroup file was not read
    expect(fdsOn(`/proc/${pid}/cgroup`)).toEqual([]);
    expect(fdsOn(`/proc/${pid}/stat`)).toHaveLength(1);
    kept.close();
  });

  it('a file of a reaped process never yields data, also once its PID is a new process\'s (fresh pid namespace)', async () => {
    // The namespace's init (bash) starts `<file> 1000` as PID n (ns_last_pid = n - 1) or kills and reaps PID n.
    symlinkSync('/bin/sleep', join(dir, 'cnareuse'));
    const ns = spawn('unshare', ['--pid', '--fork', '--mount-proc', 'bash', '-c',
      'while read cmd n file; do case $cmd in start) echo $((n-1)) > /proc/sys/kernel/ns_last_pid; $file 1000 & echo $! ;; kill) kill -9 $n; wait $n; echo done ;; esac; done'],
    { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(ns);
    const lines = createInterface({ input: ns.stdout! })[Symbol.asyncIterator]();
    const ask = async (line: string): Promise<string> => {
      ns.stdin!.write(`${line}\n`);
      return String((await lines.next()).value);
    };
    try {
      await until('the namespace', () => existsSync(`/proc/${ns.pid}/task/${ns.pid}/children`) && readFileSync(`/proc/${ns.pid}/task/${ns.pid}/children`, 'utf8').trim() !== '');
      const init = Number(readFileSync(`/proc/${ns.pid}/task/${ns.pid}/children`, 'utf8').trim());
      const procRoot = `/proc/${init}/root/proc`; // the namespace's own procfs: its PIDs
      await until('its procfs', () => existsSync(`${procRoot}/1/stat`) && readFileSync(`${procRoot}/1/stat`, 'latin1').startsWith('1 (bash)'));
      const commOf500 = (): string => readFileSync(`${procRoot}/500/comm`, 'latin1').trim();
      expect(await ask('start 500 /bin/sleep')).toBe('500');
      await until('the exec', () => commOf500() === 'sleep'); // bash forks, then the child execs

      const kept = new KeptProcFiles();
      const s1 = await scanProc({ procRoot, budgetMs: 30_000, kept });
      expect(s1.processes.get(500)).toMatchObject({ pid: 500, comm: 'sleep' });
      // A file of our own on the first process, as the kept one.
      const fd = openSync(`${procRoot}/500/stat`, 'r');
      const buf = Buffer.alloc(4096);
      const pread = (): number | string => {
        try {
          return readSync(fd, buf, 0, buf.length, 0);
        } catch (err) {
          return (err as NodeJS.ErrnoException).code!;
        }
      };
      expect(buf.toString('latin1', 0, pread() as number)).toMatch(/^500 \(sleep\) [RS] /);

      expect(await ask('kill 500')).toBe('done');
      expect(pread()).toBe('ESRCH'); // reaped: no data (ESRCH on this kernel; 0 bytes would do as well)
      expect(await ask(`start 500 ${join(dir, 'cnareuse')}`)).toBe('500');
      await until('the exec', () => commOf500() === 'cnareuse'); // the number is reused
      expect(pread()).toBe('ESRCH'); // and the old file still gives nothing: it is bound to the old process

      const s2 = await scanProc({ procRoot, budgetMs: 30_000, kept, previous: s1 });
      const fresh = await scanProc({ procRoot, budgetMs: 30_000 });
      // Identity as a fresh open reads it (the state may still move from R to S between the two scans).
      const { pid, ppid, comm, startTicks } = fresh.processes.get(500)!;
      expect(s2.processes.get(500)).toMatchObject({ pid, ppid, comm, startTicks });
      expect(comm).toBe('cnareuse');
      expect(startTicks).toBeGreaterThanOrEqual(s1.processes.get(500)!.startTicks);
      expect(kept.size).toBeGreaterThan(0);
      closeSync(fd);
      kept.close();
    } finally {
      ns.stdin!.end(); // init exits: the namespace and its processes go
      await exited(ns);
    }
  });

  it('keeps at most its cap and reads the other processes by path', async () => {
    const c = child('sleep', ['60']);
    const kept = new KeptProcFiles({ cap: 3 });
    const s = await scanProc(opts(kept));
    expect(kept.size).toBe(3);
    expect(s.processes.size).toBeGreaterThan(10);
    expect(s.processes.get(c.pid!)).toMatchObject({ comm: 'sleep' });
    const again = await scanProc(opts(kept, { previous: s }));
    expect(kept.size).toBe(3);
    expect(again.processes.get(c.pid!)).toMatchObject({ comm: 'sleep' });
    kept.close();
  });

  it('keeps nothing under a directory that is not a procfs: a file replaced there is read afresh', async () => {
    const root = join(dir, 'fake-proc');
    mkdirSync(join(root, '42'), { recursive: true });
    writeFileSync(join(root, 'stat'), 'cpu 1 2 3\nbtime 1700000000\n');
    const statLine = (comm: string): string => `42 (${comm}) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n`;
    writeFileSync(join(root, '42', 'stat'), statLine('before'));
    const kept = new KeptProcFiles();
    const s1 = await scanProc({ procRoot: root, kept });
    expect(s1.processes.get(42)).toMatchObject({ comm: 'before', startTicks: 12345 });
    expect(kept.size).toBe(0);
    writeFileSync(join(root, '42', 'stat.new'), statLine('after'));
    renameSync(join(root, '42', 'stat.new'), join(root, '42', 'stat'));
    expect((await scanProc({ procRoot: root, kept, previous: s1 })).processes.get(42)).toMatchObject({ comm: 'after' });
  });

  it('close() closes every file, and a later scan keeps none', async () => {
    const c = child('sleep', ['60']);
    const kept = new KeptProcFiles();
    await scanProc(opts(kept));
    expect(kept.size).toBeGreaterThan(0);
    expect(fdsOn(`/proc/${c.pid}/stat`)).toHaveLength(1);
    kept.close();
    expect(kept.size).toBe(0);
    expect(fdsOn(`/proc/${c.pid}/stat`)).toEqual([]);
    expect((await scanProc(opts(kept))).processes.get(c.pid!)).toMatchObject({ comm: 'sleep' });
    expect(kept.size).toBe(0);
    expect(fdsOn(`/proc/${c.pid}/stat`)).toEqual([]);
  });

  it('caps the files at a quarter of the soft RLIMIT_NOFILE, at most MAX_KEPT_FILES', () => {
    const limits = (line: string): string => {
      const f = join(dir, `limits-${Math.random()}`);
      writeFileSync(f, `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${line}\n`);
      return f;
    };
    expect(keptFilesCap(limits('1024                 4096                 files     '))).toBe(256);
    expect(keptFilesCap(limits('20000                20000                files     '))).toBe(MAX_KEPT_FILES);
    expect(keptFilesCap(limits('unlimited            unlimited            files     '))).toBe(MAX_KEPT_FILES);
    expect(keptFilesCap(join(dir, 'none'))).toBe(256);
    expect(keptFilesCap()).toBeGreaterThan(0);
  });
});
