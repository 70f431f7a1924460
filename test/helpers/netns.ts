/**
 * Throwaway network namespaces for integration tests: `ip netns add`, a veth pair with `eth0` inside (like a
 * pod), a process living in the namespace (so /proc/<pid>/net and /proc/<pid>/ns/net exist), setup commands
 * run through `ip netns exec` (a different path than the agent's nsenter runner), and cleanup that never leaks:
 * every namespace, link and process created here is recorded and removed by `destroyAll()` even when a test
 * failed half-way. Processes are killed by PID only.
 */
import { execa } from 'execa';
import { existsSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { uniqueName } from './names.js';

const T = 10_000;

export interface TestNetns {
  name: string;
  /** /var/run/netns/<name>: what `--netns` and the runner are given. */
  path: string;
  /** Host side of the veth pair (null until addPodInterface). */
  hostIf: string | null;
  /** PID of a `sleep` inside the namespace (null until startHolder). */
  holderPid: number | null;
  /** Run a command inside the namespace (setup); throws on non-zero exit. */
  exec(argv: string[], opts?: { input?: string; reject?: boolean }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** veth pair: `eth0` inside with `addr` (CIDR), optional IPv6 `addr6`, both ends up, `lo` up. */
  addPodInterface(opts?: { addr?: string; addr6?: string }): Promise<void>;
  /** Start `sleep 600` inside the namespace; returns its PID. */
  startHolder(): Promise<number>;
  destroy(): Promise<void>;
}

const live = new Set<TestNetns>();

async function run(argv: string[], opts: { input?: string; reject?: boolean } = {}) {
  const r = await execa(argv[0]!, argv.slice(1), {
    timeout: T,
    reject: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    extendEnv: false,
  });
  const out = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  if (r.failed && opts.reject !== false) {
    throw new Error(`${argv.join(' ')} failed (${r.exitCode ?? r.signal}): ${out.stderr.trim()}`, { cause: r });
  }
  return out;
}

export async function createNetns(prefix = 'h4n'): Promise<TestNetns> {
  const name = uniqueName(prefix);
  let holder: ChildProcess | null = null;
  const ns: TestNetns = {
    name,
    path: `/var/run/netns/${name}`,
    hostIf: null,
    holderPid: null,
    exec: (argv, opts) => run(['ip', 'netns', 'exec', name, ...argv], opts),
    async addPodInterface(opts = {}) {
      const host = uniqueName('h4v');
      const peer = uniqueName('h4p');
      await run(['ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
      ns.hostIf = host;
      await run(['ip', 'link', 'set', peer, 'netns', name]);
      await ns.exec(['ip', 'link', 'set', peer, 'name', 'eth0']);
      await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
      if (opts.addr) await ns.exec(['ip', 'addr', 'add', opts.addr, 'dev', 'eth0']);
      if (opts.addr6) await ns.exec(['ip', '-6', 'addr', 'add', opts.addr6, 'dev', 'eth0', 'nodad']);
      await ns.exec(['ip', 'link', 'set', 'eth0', 'up']);
      await run(['ip', 'link', 'set', host, 'up']);
    },
    async startHolder() {
      if (ns.holderPid !== null) return ns.holderPid;
      holder = spawn('ip', ['netns', 'exec', name, 'sleep', '600'], { stdio: 'ignore' });
      // Recorded, not thrown: an 'error' without a listener would crash the test process.
      let holderError: Error | null = null;
      holder.on('error', (err) => {
        holderError = err;
      });
      const pid = holder.pid;
      if (pid === undefined) {
        await new Promise<void>((r) => setImmediate(r)); // 'error' comes on the next tick
        throw new Error(`cannot start a process in netns ${name}: ${(holderError as Error | null)?.message ?? 'no pid'}`, { cause: holderError });
      }
      // `ip netns exec` execs sleep in the same PID once it has switched namespaces: wait for that.
      const want = statSync(ns.path).ino;
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          if (statSync(`/proc/${pid}/ns/net`).ino === want) break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`holder ${pid} never entered ${name}`, { cause: err });
        }
        if (Date.now() > deadline) throw new Error(`holder ${pid} never entered ${name}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      ns.holderPid = pid;
      return pid;
    },
    async destroy() {
      live.delete(ns);
      const errors: string[] = [];
      if (holder && holder.exitCode === null && holder.signalCode === null) {
        const h = holder;
        const exited = new Promise<void>((r) => h.once('exit', () => r()));
        h.kill('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      }
      if (ns.hostIf && existsSync(`/sys/class/net/${ns.hostIf}`)) {
        const r = await run(['ip', 'link', 'del', ns.hostIf], { reject: false });
        if (r.exitCode !== 0) errors.push(r.stderr.trim());
      }
      if (existsSync(ns.path)) {
        const r = await run(['ip', 'netns', 'del', name], { reject: false });
        if (r.exitCode !== 0) errors.push(r.stderr.trim());
      }
      if (errors.length) throw new Error(`cleanup of netns ${name}: ${errors.join('; ')}`);
    },
  };
  live.add(ns);
  try {
    await run(['ip', 'netns', 'add', name]);
  } catch (err) {
    live.delete(ns);
    throw err;
  }
  return ns;
}

/** Run setup commands in an existing namespace file (e.g. a containerd pod's) through nsenter; creates nothing. */
export function enterNetns(path: string): Pick<TestNetns, 'exec'> {
  return { exec: (argv, opts) => run(['nsenter', `--net=${path}`, '--', ...argv], opts) };
}

/** Remove every namespace this process created and has not destroyed yet (use in afterAll). */
export async function destroyAll(): Promise<void> {
  const errors: unknown[] = [];
  for (const ns of [...live]) {
    try {
      await ns.destroy();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length) throw new AggregateError(errors, 'netns cleanup failed');
}

/** PIDs of processes whose network namespace is `path` (for "no child left behind" assertions). */
export async function pidsInNetns(path: string): Promise<number[]> {
  const want = (await stat(path)).ino;
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if ((await stat(`/proc/${e}/ns/net`)).ino === want) out.push(Number(e));
    } catch (err) {
      // The process exited while we looked, or its namespaces are not readable (root sees all): not in ours.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ESRCH' && code !== 'EACCES') throw err;
    }
  }
  return out;
}
