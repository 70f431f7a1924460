/**
 * Stand-ins for what chaos-daemon runs, made of real executables and real kernel state:
 * - `writeStub(path)`: a 129-byte static x86-64 ELF that loops on pause(2) and ignores its arguments. Written as
 *   `toda`, `tproxy`, `stress-ng`, `memStress`, it runs with Chaos Mesh's exact argv in any mount namespace (no
 *   libc needed: the test pods' rootfs is busybox), its comm is its file name, and SIGTERM ends it.
 * - `ChaosDaemonStandIn`: a Node script file named `chaos-daemon` (its comm is `chaos-daemon`: the kernel names a
 *   script's process after the script) that spawns what it is told, over IPC, as its own children, as bpm does.
 * - `moveToCgroupsOf(pid, target)`: what chaos-daemon's cgroup attacher does (containerd/cgroups Add on v1, an
 *   append to cgroup.procs on v2): the pid is written to the cgroup.procs of every hierarchy of the target.
 * Processes are started with `nsenter -t <pid> -p/-m/-n --` where chaos-daemon uses `nsexec`: both set the
 * namespaces, fork and exec, so the tool is a child of the wrapper in the target's namespaces.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCgroupFile } from '../../agent/proc/proc-files.js';
import { unescapeMountPath } from '../../agent/proc/mountinfo.js';

/** x86-64 Linux: `loop: mov eax, 34 (pause); syscall; jmp loop`, in one PT_LOAD segment at 0x400000. */
export function pauseElf(): Buffer {
  const code = Buffer.from([0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]);
  const base = 0x400000;
  const eh = 64;
  const ph = 56;
  const size = eh + ph + code.length;
  const b = Buffer.alloc(size);
  b.write('\x7fELF', 0, 'latin1');
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little-endian
  b[6] = 1; // EV_CURRENT
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(0x3e, 18); // EM_X86_64
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(base + eh + ph), 24); // e_entry
  b.writeBigUInt64LE(BigInt(eh), 32); // e_phoff
  b.writeUInt16LE(eh, 52);
  b.writeUInt16LE(ph, 54);
  b.writeUInt16LE(1, 56); // e_phnum
  b.writeUInt32LE(1, eh); // PT_LOAD
  b.writeUInt32LE(5, eh + 4); // PF_R | PF_X
  b.writeBigUInt64LE(BigInt(base), eh + 16); // p_vaddr
  b.writeBigUInt64LE(BigInt(base), eh + 24); // p_paddr
  b.writeBigUInt64LE(BigInt(size), eh + 32); // p_filesz
  b.writeBigUInt64LE(BigInt(size), eh + 40); // p_memsz
  b.writeBigUInt64LE(0x1000n, eh + 48); // p_align
  code.copy(b, eh + ph);
  return b;
}

export async function writeStub(path: string): Promise<void> {
  await writeFile(path, pauseElf());
  await chmod(path, 0o755);
}

/** Mount point of each cgroup hierarchy of this mount namespace: v1 by controller list, v2 under key ''. */
async function cgroupMountPoints(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0) continue;
    const fstype = f[sep + 1];
    const mp = unescapeMountPath(f[4] ?? '');
    if (fstype === 'cgroup2') out.set('', mp);
    else if (fstype === 'cgroup') {
      const opts = (f[sep + 3] ?? '').split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') && o !== 'clone_children' && o !== 'nsdelegate');
      out.set(opts.sort().join(','), mp);
    }
  }
  return out;
}

/** Write `pid` into the cgroup.procs of every hierarchy `target` is in (v1 and v2). */
export async function moveToCgroupsOf(pid: number, target: number): Promise<void> {
  const mounts = await cgroupMountPoints();
  for (const line of parseCgroupFile(await readFile(`/proc/${target}/cgroup`, 'utf8'))) {
    const key = line.hierarchy === 0 ? '' : [...line.controllers].sort().join(',');
    const mp = mounts.get(key);
    if (mp === undefined) continue;
    await writeFile(join(mp, line.path, 'cgroup.procs'), `${pid}\n`);
  }
}

/** The children of `pid` (from /proc/<pid>/task/<pid>/children). */
export async function childrenOf(pid: number): Promise<number[]> {
  const t = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ESRCH') return '';
    throw err;
  });
  return t.trim().split(/\s+/).filter(Boolean).map(Number);
}

async function commOf(pid: number): Promise<string | null> {
  return readFile(`/proc/${pid}/comm`, 'utf8').then((c) => c.trim(), () => null);
}

/**
 * Waits until `pid` has a child (the tool a wrapper forked) that has exec'd the tool (its comm is no longer the
 * wrapper's: between the fork and the exec it is still `nsenter`, and a /proc scan then would not see the tool; a
 * loaded machine can hold a child there for a long time), or throws.
 */
export async function waitChild(pid: number, timeoutMs = 30_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const kids = await childrenOf(pid);
    if (kids.length > 0) {
      // Read after the fork: the wrapper has exec'd itself by then.
      const [wrapper, comm] = [await commOf(pid), await commOf(kids[0]!)];
      if (comm !== null && wrapper !== null && comm !== wrapper) return kids[0]!;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process ${pid} started no child that exec'd within ${timeoutMs} ms`);
}

const DAEMON_SCRIPT = `
const { spawn } = require('node:child_process');
process.on('message', (m) => {
  const c = spawn(m.argv[0], m.argv.slice(1), { stdio: 'ignore' });
  c.on('error', (err) => process.send({ id: m.id, error: err.message }));
  c.on('spawn', () => process.send({ id: m.id, pid: c.pid }));
});
process.on('disconnect', () => process.exit(0));
`;

/** A process named chaos-daemon that starts children on request, as bpm does. */
export class ChaosDaemonStandIn {
  private next = 0;
  private constructor(readonly child: ChildProcess) {}

  get pid(): number {
    return this.child.pid!;
  }

  /** Writes the script as `<dir>/chaos-daemon` (interpreter: this node) and starts it. */
  static async start(dir: string): Promise<ChaosDaemonStandIn> {
    const path = join(dir, 'chaos-daemon');
    await writeFile(path, `#!${process.execPath}\n${DAEMON_SCRIPT}`);
    await chmod(path, 0o755);
    // fork() would put node first in argv; the script runs itself through its shebang.
    const child = fork(path, [], { execPath: path, execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    return new ChaosDaemonStandIn(child);
  }

  /** Spawn `argv` as a child of the daemon; resolves to its pid. */
  run(argv: string[]): Promise<number> {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      const onMessage = (m: { id: number; pid?: number; error?: string }): void => {
        if (m.id !== id) return;
        this.child.off('message', onMessage);
        if (m.pid !== undefined) resolve(m.pid);
        else reject(new Error(`chaos-daemon stand-in: ${m.error}`));
      };
      this.child.on('message', onMessage);
      this.child.send({ id, argv });
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** SIGKILL every pid given (those that exist), ignoring the ones already gone. */
export function killAll(pids: Iterable<number>, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/**
 * Run `argv` in the namespaces of `pid` (`m` mount, `p` pid, `n` net) through nsenter, as chaos-daemon runs its
 * one-shot commands (`sh -c ...` for DNSChaos and JVMChaos); throws on a non-zero exit.
 */
export async function inNamespaces(
  pid: number,
  kinds: ('m' | 'p' | 'n')[],
  argv: string[],
  opts: { input?: string | Buffer; extraFd?: number } = {},
): Promise<string> {
  const stdio: ('pipe' | 'ignore' | number)[] = [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  if (opts.extraFd !== undefined) stdio.push(opts.extraFd); // becomes fd 3 of the command (FUSE's fd=3)
  const child = spawn('nsenter', ['-t', String(pid), ...kinds.map((k) => `-${k}`), '--', ...argv], { stdio, timeout: 10_000 });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`nsenter -t ${pid} ${argv.join(' ')}: exit ${code}: ${Buffer.concat(err).toString()}`);
  return Buffer.concat(out).toString();
}

/** Signal `pid` and wait until it is gone or a zombie (its state no longer running), or throw. */
export async function killAndWait(pid: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
  killAll([pid], signal);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ESRCH') return null;
      throw err;
    });
    if (stat === null || /\) [ZX] /.test(stat)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} still running ${timeoutMs} ms after ${signal}`);
}
